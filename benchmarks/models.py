"""The benchmark's own table: generated policies with four columns."""

from django.db import models


class BenchPolicy(models.Model):
    number = models.CharField(max_length=24)
    plan = models.CharField(max_length=80)
    issued_on = models.DateField()

    def __str__(self) -> str:
        return self.number
