"""What mlpipeline keeps in the database.

- :class:`PipelineState`: one row per declared pipeline, holding its run
  lock (one run at a time), its active and previous models and a version
  that every promotion and rollback raises.
- :class:`Run`: every run, with its trigger, counts, metric and events.
- :class:`RunStep`: the checkpoints of a run: each step's status, the
  backend entity it created and what it found.
- :class:`TrainedModel`: the registry: every model a run trained, with what
  it was trained on, how it scored and whether it was promoted.
"""

from __future__ import annotations

import contextlib
import secrets
import string
import time
from collections.abc import Iterator
from typing import Any

from django.db import connections, models
from django.utils import timezone

from mlpipeline.exceptions import DataError

__all__ = ["PipelineState", "Run", "RunStep", "TrainedModel"]


def new_token() -> str:
    """Return 6 random lower-case letters and digits for a run's entity ids."""
    alphabet = string.ascii_lowercase + string.digits
    return "".join(secrets.choice(alphabet) for _ in range(6))


def reconnect_if_lost(alias: str) -> None:
    """Drop database connection ``alias`` if an error left it unusable.

    The next query opens a new connection, so a run whose connection died
    mid-step (a restarted server, a terminated backend) can still record
    its failure. Nothing is done inside a transaction, which is lost anyway
    and must be rolled back by whoever opened it.
    """
    connection = connections[alias]
    if (
        connection.connection is None
        or connection.in_atomic_block
        or not connection.errors_occurred
    ):
        return
    if not connection.is_usable():
        connection.close()


class PipelineState(models.Model):
    """A declared pipeline and its run lock.

    The lock is held by at most one run; the holder refreshes
    ``heartbeat_at`` as it works, and a lock whose heartbeat is older than
    MLPIPELINE_LOCK_TIMEOUT is taken as abandoned by a crashed worker.

    ``active_model`` serves predictions; ``previous_model`` is the one a
    rollback returns to. ``version`` goes up by one with every change of the
    active model, so serving processes notice a switch with one small query.
    """

    name = models.CharField(max_length=40, unique=True)
    locked_by = models.ForeignKey(
        "Run", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    holder = models.CharField(max_length=200, blank=True)
    locked_at = models.DateTimeField(null=True, blank=True)
    heartbeat_at = models.DateTimeField(null=True, blank=True)
    active_model = models.ForeignKey(
        "TrainedModel",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
    )
    previous_model = models.ForeignKey(
        "TrainedModel",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    version = models.PositiveBigIntegerField(default=0)

    class Meta:
        ordering = ["name"]
        verbose_name = "pipeline"
        permissions = [("run_pipeline", "Can start a pipeline run")]

    def __str__(self) -> str:
        return self.name


class Run(models.Model):
    """One pass of a pipeline through extract, transform and load."""

    class Status(models.TextChoices):
        QUEUED = "queued", "Queued"
        RUNNING = "running", "Running"
        TRANSFORMED = "transformed", "Transformed, not loaded"
        SUCCEEDED = "succeeded", "Succeeded"
        FAILED = "failed", "Failed"
        SKIPPED = "skipped", "Skipped"

    class Trigger(models.TextChoices):
        COMMAND = "command", "learn command"
        SCHEDULE = "schedule", "Weekly schedule"
        ADMIN = "admin", "Admin action"
        TASK = "task", "Task"

    #: Statuses of a run that may still do work.
    ACTIVE = (Status.QUEUED, Status.RUNNING)

    pipeline = models.CharField(max_length=40, db_index=True)
    #: Makes the run's backend ids unique beyond this database: two projects
    #: (or a database reset) may share a storage or an Amazon account.
    token = models.CharField(max_length=6, default=new_token, editable=False)
    trigger = models.CharField(
        max_length=20, choices=Trigger.choices, default=Trigger.COMMAND
    )
    #: Identifies the trigger (a schedule slot) so that it runs once.
    trigger_key = models.CharField(max_length=200, null=True, blank=True, unique=True)
    requested_by = models.CharField(max_length=150, blank=True)
    #: Things that happened to the run besides its steps: skipped duplicate
    #: triggers, resumptions, lock take-overs. A list of {at, event, detail}.
    events = models.JSONField(default=list, blank=True)
    backend = models.CharField(max_length=40)
    status = models.CharField(
        max_length=20, choices=Status.choices, default=Status.RUNNING
    )
    model_type = models.CharField(max_length=20, blank=True)
    started_at = models.DateTimeField(default=timezone.now)
    finished_at = models.DateTimeField(null=True, blank=True)
    #: Rows counted at each step; :meth:`check_counts` says how they add up.
    rows_extracted = models.PositiveBigIntegerField(null=True, blank=True)
    rows_written = models.PositiveBigIntegerField(null=True, blank=True)
    rows_rejected = models.PositiveBigIntegerField(null=True, blank=True)
    #: The first few rejected rows: each names its line and its value.
    rejections = models.JSONField(default=list, blank=True)
    rows_train = models.PositiveBigIntegerField(null=True, blank=True)
    rows_evaluation = models.PositiveBigIntegerField(null=True, blank=True)
    features_file = models.CharField(max_length=500, blank=True)
    schema = models.JSONField(null=True, blank=True)
    #: The rule that put each row on the training or evaluation side
    #: (:meth:`mlpipeline.split.SplitRule.as_dict`); empty for runs made
    #: before rows were split by primary key.
    split = models.JSONField(default=dict, blank=True)
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
        permissions = [
            ("resume_run", "Can resume a run"),
            ("download_data", "Can download a run's features file"),
        ]

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
            reconnect_if_lost(step._state.db or "default")
            raise
        else:
            step.status = RunStep.Status.SUCCEEDED
        finally:
            step.finished_at = timezone.now()
            step.seconds = time.monotonic() - started
            step.save()

    def completed_step(self, name: str) -> RunStep | None:
        """Return step ``name`` if it succeeded on an earlier attempt."""
        return self.steps.filter(name=name, status=RunStep.Status.SUCCEEDED).first()

    def add_event(self, event: str, detail: str = "") -> None:
        """Append an event to the run and save that field alone."""
        self.events.append(
            {"at": timezone.now().isoformat(), "event": event, "detail": detail}
        )
        self.save(update_fields=["events"])

    def check_counts(self) -> None:
        """Raise :class:`DataError` unless the row counts known so far add up.

        Every extracted row is either written or rejected, and every
        written row goes to training or to evaluation.
        """
        extracted, written = self.rows_extracted, self.rows_written
        rejected = self.rows_rejected or 0
        if None not in (extracted, written) and extracted != written + rejected:
            raise DataError(
                f"Pipeline {self.pipeline!r} run {self.pk}: {extracted} rows were "
                f"extracted, but {written} written and {rejected} rejected."
            )
        split = (self.rows_train, self.rows_evaluation)
        if None not in (written, *split) and sum(split) != written:
            raise DataError(
                f"Pipeline {self.pipeline!r} run {self.pk}: the data sources hold "
                f"{split[0]} + {split[1]} rows, but {written} were written."
            )

    def fail(self, error: BaseException) -> None:
        """Record the run as failed by ``error``, also on a lost connection."""
        reconnect_if_lost(self._state.db or "default")
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


class TrainedModel(models.Model):
    """A model one run trained, as the registry records it.

    Rows are written once, when the run's load has finished; afterwards only
    the decision fields (the gate's or a person's verdict and its reason),
    ``activated_at`` and ``deactivated_at`` change.
    """

    class Decision(models.TextChoices):
        PROMOTED = "promoted", "Promoted by the gate"
        REFUSED = "refused", "Refused by the gate"
        FORCED = "forced", "Promoted by hand"
        IMPORTED = "imported", "Served before the registry existed"

    run = models.OneToOneField(
        Run, on_delete=models.CASCADE, related_name="trained_model"
    )
    pipeline = models.CharField(max_length=40, db_index=True)
    backend = models.CharField(max_length=40)
    model_type = models.CharField(max_length=20)
    model_id = models.CharField(max_length=64)
    endpoint_url = models.CharField(max_length=2048, blank=True)
    #: Backend ids of the data sources and evaluation, by kind.
    entity_ids = models.JSONField(default=dict, blank=True)
    schema = models.JSONField(null=True, blank=True)
    #: The rule that chose the evaluation rows, as the run recorded it; the
    #: gate notes when two compared models were evaluated by different ones.
    split = models.JSONField(default=dict, blank=True)
    parameters = models.JSONField(default=dict, blank=True)
    rows_written = models.PositiveBigIntegerField(null=True, blank=True)
    rows_train = models.PositiveBigIntegerField(null=True, blank=True)
    rows_evaluation = models.PositiveBigIntegerField(null=True, blank=True)
    #: The data sources' statistics, under "train" and "evaluation".
    statistics = models.JSONField(default=dict, blank=True)
    metric_name = models.CharField(max_length=40, blank=True)
    metric_value = models.FloatField(null=True, blank=True)
    baseline = models.FloatField(null=True, blank=True)
    evaluation = models.JSONField(null=True, blank=True)
    #: The evaluation rows' score (BINARY) or residual (REGRESSION)
    #: histogram, made when the model was recorded; see
    #: :func:`mlpipeline.engine.metrics.score_histogram`. Null when the
    #: backend gave none.
    distribution = models.JSONField(null=True, blank=True)
    #: Versions of Python and the libraries that trained the model.
    library_versions = models.JSONField(default=dict, blank=True)
    trained_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    decision = models.CharField(max_length=20, choices=Decision.choices, blank=True)
    #: Why the gate decided as it did, or who forced the promotion.
    decision_reason = models.TextField(blank=True)
    #: The active model's metric when the decision was made, if any.
    compared_with = models.FloatField(null=True, blank=True)
    decided_at = models.DateTimeField(null=True, blank=True)
    decided_by = models.CharField(max_length=150, blank=True)
    #: When this model last became active (promotion or rollback).
    activated_at = models.DateTimeField(null=True, blank=True)
    #: When another model last took over from this one; cleanup_models
    #: counts MLPIPELINE_RETENTION from here.
    deactivated_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-pk"]
        verbose_name = "trained model"
        permissions = [
            ("promote_model", "Can force a model's promotion or roll back"),
            ("predict", "Can ask the prediction API"),
        ]

    def __str__(self) -> str:
        return f"{self.pipeline} model {self.model_id}"
