"""The record of every run: its steps, their entities, counts and metric."""

from __future__ import annotations

import contextlib
import time
from collections.abc import Iterator
from typing import Any

from django.db import models
from django.utils import timezone

__all__ = ["Run", "RunStep"]


class Run(models.Model):
    """One pass of a pipeline through extract, transform and load."""

    class Status(models.TextChoices):
        RUNNING = "running", "Running"
        TRANSFORMED = "transformed", "Transformed, not loaded"
        SUCCEEDED = "succeeded", "Succeeded"
        FAILED = "failed", "Failed"

    pipeline = models.CharField(max_length=40, db_index=True)
    backend = models.CharField(max_length=40)
    status = models.CharField(
        max_length=20, choices=Status.choices, default=Status.RUNNING
    )
    model_type = models.CharField(max_length=20, blank=True)
    started_at = models.DateTimeField(default=timezone.now)
    finished_at = models.DateTimeField(null=True, blank=True)
    rows_extracted = models.PositiveBigIntegerField(null=True, blank=True)
    rows_written = models.PositiveBigIntegerField(null=True, blank=True)
    rows_train = models.PositiveBigIntegerField(null=True, blank=True)
    rows_evaluation = models.PositiveBigIntegerField(null=True, blank=True)
    features_file = models.CharField(max_length=500, blank=True)
    schema = models.JSONField(null=True, blank=True)
    parameters = models.JSONField(default=dict, blank=True)
    model_id = models.CharField(max_length=64, blank=True)
    endpoint_url = models.CharField(max_length=2048, blank=True)
    metric_name = models.CharField(max_length=40, blank=True)
    metric_value = models.FloatField(null=True, blank=True)
    baseline = models.FloatField(null=True, blank=True)
    evaluation = models.JSONField(null=True, blank=True)
    error = models.TextField(blank=True)

    class Meta:
        ordering = ["-started_at", "-pk"]
        indexes = [models.Index(fields=["pipeline", "status", "-started_at"])]

    def __str__(self) -> str:
        return f"{self.pipeline} run {self.pk} ({self.status})"

    @contextlib.contextmanager
    def step(self, name: str) -> Iterator[RunStep]:
        """Record step ``name`` of this run around the block it wraps.

        The step is saved as running before the block starts and as
        succeeded or failed, with its duration and the error, after it; the
        error is re-raised.
        """
        step, _ = RunStep.objects.update_or_create(
            run=self,
            name=name,
            defaults={
                "status": RunStep.Status.RUNNING,
                "started_at": timezone.now(),
                "finished_at": None,
                "error": "",
            },
        )
        started = time.monotonic()
        try:
            yield step
        except BaseException as err:
            step.status = RunStep.Status.FAILED
            step.error = str(err) or type(err).__name__
            raise
        else:
            step.status = RunStep.Status.SUCCEEDED
        finally:
            step.finished_at = timezone.now()
            step.seconds = time.monotonic() - started
            step.save()

    def fail(self, error: BaseException) -> None:
        self.status = self.Status.FAILED
        self.error = str(error) or type(error).__name__
        self.finished_at = timezone.now()
        self.save()


class RunStep(models.Model):
    """One step of a run, with the backend entity it created."""

    class Status(models.TextChoices):
        RUNNING = "running", "Running"
        SUCCEEDED = "succeeded", "Succeeded"
        FAILED = "failed", "Failed"

    run = models.ForeignKey(Run, on_delete=models.CASCADE, related_name="steps")
    name = models.CharField(max_length=40)
    status = models.CharField(max_length=20, choices=Status.choices)
    entity_id = models.CharField(max_length=64, blank=True)
    started_at = models.DateTimeField()
    finished_at = models.DateTimeField(null=True, blank=True)
    seconds = models.FloatField(null=True, blank=True)
    detail = models.JSONField(default=dict, blank=True)
    error = models.TextField(blank=True)

    class Meta:
        ordering = ["run", "started_at", "pk"]
        constraints = [
            models.UniqueConstraint(fields=["run", "name"], name="unique_run_step")
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.status})"

    def record(self, entity_id: str = "", **detail: Any) -> None:
        """Remember the entity this step created and facts about it."""
        if entity_id:
            self.entity_id = entity_id
        self.detail.update(detail)
