"""The demo project's pipelines: one per demo table."""

from mlpipeline import LongIdExpander, Pipeline, register
from project.demo.models import CARAVAN_CODES, Customer, HotelBooking, Insured, Policy


@register
class HealthInsurancePipeline(Pipeline):
    """Who has health insurance (BINARY)."""

    name = "health_insurance"
    model = Insured
    fields = [
        "health", "age", "limit", "gender", "insurance", "married", "selfemp",
        "family", "region", "ethnicity", "education",
    ]  # fmt: skip
    target = "insurance"


@register
class CustomerTypePipeline(Pipeline):
    """A customer's main type from the codes of their area (MULTICLASS)."""

    name = "customer_type"
    model = Customer
    fields = [*(code.lower() for code in CARAVAN_CODES), "purchase", "main_type"]
    target = "main_type"


@register
class HotelRatePipeline(Pipeline):
    """The average price per room of a booking (REGRESSION)."""

    name = "hotel_rate"
    model = HotelBooking
    fields = [
        field.name
        for field in HotelBooking._meta.concrete_fields
        if not field.primary_key
    ]
    target = "avg_price_per_room"


@register
class PolicyPlanPipeline(Pipeline):
    """A policy's plan from its number alone (MULTICLASS; the first use)."""

    name = "policy_plan"
    model = Policy
    fields = ["number", "plan"]
    target = "plan"
    expanders = [LongIdExpander("number", digits=20)]
