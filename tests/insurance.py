"""The insurance pipeline that many tests train on the ``insured_rows``."""

from mlpipeline import Pipeline
from project.demo.models import Insured


class InsurancePipeline(Pipeline):
    name = "insurance"
    model = Insured
    fields = ["age", "married", "gender", "insurance"]
    target = "insurance"
