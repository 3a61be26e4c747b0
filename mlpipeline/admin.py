"""The admin: pipelines with "Retrain now" and "Roll back"; runs, their
steps, "Resume" and "Download features file"; trained models with
"Promote".
"""

import logging

from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.utils.html import format_html

from mlpipeline import registry
from mlpipeline.admin_statistics import StatisticsAdmin
from mlpipeline.download import features_response
from mlpipeline.exceptions import MlpipelineError
from mlpipeline.models import PipelineState, Run, RunStep, TrainedModel
from mlpipeline.pipeline import site
from mlpipeline.report import evaluation_html
from mlpipeline.schedule import schedule_for
from mlpipeline.split import describe as describe_split
from mlpipeline.trigger import request_resume, request_run

logger = logging.getLogger(__name__)


class RunStepInline(admin.TabularInline):
    model = RunStep
    extra = 0
    can_delete = False
    fields = ["name", "status", "entity_id", "started_at", "seconds", "error"]
    readonly_fields = fields

    def has_add_permission(self, request, obj=None):
        return False


@admin.register(PipelineState)
class PipelineAdmin(admin.ModelAdmin):
    list_select_related = ["active_model"]
    list_display = ["name", "schedule", "lock", "last_run", "serving_model"]
    actions = ["retrain_now", "roll_back"]
    readonly_fields = [
        "name", "locked_by", "holder", "locked_at", "heartbeat_at",
        "active_model", "previous_model", "version",
    ]  # fmt: skip

    def changelist_view(self, request, extra_context=None):
        # Declared pipelines live in code; give each a row to act on.
        for pipeline in site:
            PipelineState.objects.get_or_create(name=pipeline.get_name())
        return super().changelist_view(request, extra_context)

    def has_add_permission(self, request):
        return False

    def has_run_permission(self, request):
        return request.user.has_perm("mlpipeline.run_pipeline")

    def has_promote_permission(self, request):
        return request.user.has_perm("mlpipeline.promote_model")

    @admin.display(description="weekly schedule")
    def schedule(self, state):
        try:
            schedule = schedule_for(state.name)
        except Exception as err:  # shown, not raised: the page must render
            return f"invalid: {err}"
        return "off" if schedule is None else repr(schedule).strip("<>")

    @admin.display(description="lock")
    def lock(self, state):
        if state.locked_by_id is None:
            return "free"
        return f"run {state.locked_by_id} ({state.holder})"

    @admin.display(description="last run")
    def last_run(self, state):
        run = Run.objects.filter(pipeline=state.name).order_by("-pk").first()
        if run is None:
            return "-"
        metric = (
            ""
            if run.metric_value is None
            else f", {run.metric_name} {run.metric_value:.4f}"
        )
        return f"run {run.pk}: {run.status}{metric}"

    @admin.display(description="serving model")
    def serving_model(self, state):
        model = state.active_model
        if model is None:
            return "-"
        return format_html(
            "{} <small>(run {}, version {})</small>",
            model.model_id,
            model.run_id,
            state.version,
        )

    @admin.action(
        description="Roll back to the previous model", permissions=["promote"]
    )
    def roll_back(self, request, queryset):
        for state in queryset:
            try:
                restored = registry.rollback(state.name, user=request.user)
            except (MlpipelineError, PermissionDenied) as err:
                self.message_user(request, f"{state.name}: {err}", messages.ERROR)
                continue
            self.log_change(
                request, state, f"Rolled back to model {restored.model_id}."
            )
            self.message_user(
                request,
                f"{state.name}: model {restored.model_id} is active again.",
                messages.SUCCESS,
            )

    @admin.action(description="Retrain now", permissions=["run"])
    def retrain_now(self, request, queryset):
        for state in queryset:
            try:
                run, created = request_run(
                    state.name,
                    trigger=Run.Trigger.ADMIN,
                    requested_by=request.user.get_username(),
                )
            except MlpipelineError as err:
                self.message_user(request, f"{state.name}: {err}", messages.ERROR)
                continue
            if created:
                self.message_user(
                    request, f"{state.name}: queued run {run.pk}.", messages.SUCCESS
                )
            else:
                self.message_user(
                    request,
                    f"{state.name}: run {run.pk} is already {run.status}; this "
                    "request was skipped and recorded on it.",
                    messages.WARNING,
                )


@admin.register(Run)
class RunAdmin(StatisticsAdmin):
    list_display = [
        "pk", "pipeline", "status", "trigger", "model_type", "metric_name",
        "metric_value", "baseline", "rows_extracted", "rows_rejected",
        "rows_train", "rows_evaluation", "started_at",
    ]  # fmt: skip
    list_filter = ["pipeline", "status", "trigger", "model_type", "backend"]
    inlines = [RunStepInline]
    actions = ["resume", "download_features"]

    def get_readonly_fields(self, request, obj=None):
        return [field.name for field in Run._meta.fields]

    def has_add_permission(self, request):
        return False

    def has_resume_permission(self, request):
        return request.user.has_perm("mlpipeline.resume_run")

    def has_download_permission(self, request):
        return request.user.has_perm("mlpipeline.download_data")

    @admin.action(
        description="Download features file (CSV, safe for spreadsheets)",
        permissions=["download"],
    )
    def download_features(self, request, queryset):
        if queryset.count() != 1:
            self.message_user(
                request,
                f"Select one run to download, not {queryset.count()}.",
                messages.ERROR,
            )
            return None
        run = queryset.get()
        try:
            response = features_response(run)
        except MlpipelineError as err:
            self.message_user(request, str(err), messages.ERROR)
            return None
        logger.info(
            "%s downloaded the features file of %s run %s",
            request.user.get_username(), run.pipeline, run.pk,
        )  # fmt: skip
        return response

    @admin.action(description="Resume", permissions=["resume"])
    def resume(self, request, queryset):
        for run in queryset:
            if run.status != Run.Status.FAILED:
                self.message_user(
                    request,
                    f"Run {run.pk} is {run.status}; only failed runs resume.",
                    messages.WARNING,
                )
                continue
            request_resume(run, requested_by=request.user.get_username())
            self.message_user(
                request, f"Run {run.pk}: resume queued.", messages.SUCCESS
            )


@admin.register(TrainedModel)
class TrainedModelAdmin(StatisticsAdmin):
    list_display = [
        "pk", "pipeline", "model_id", "decision", "metric_name", "metric_value",
        "baseline", "compared_with", "decided_by", "created_at",
    ]  # fmt: skip
    list_filter = ["pipeline", "decision", "model_type", "backend"]
    actions = ["promote"]

    def get_readonly_fields(self, request, obj=None):
        return ["metric_against_baseline", "evaluation_report", "evaluation_rows"] + [
            field.name for field in TrainedModel._meta.fields
        ]

    def get_fieldsets(self, request, obj=None):
        first = [
            "metric_against_baseline", "evaluation_report", "evaluation_rows",
            "decision", "decision_reason", "compared_with", "decided_at",
            "decided_by", "activated_at", "deactivated_at",
        ]  # fmt: skip
        bulky = [
            "schema", "parameters", "statistics", "evaluation", "distribution",
            "split",
        ]  # fmt: skip
        rest = [
            field.name
            for field in TrainedModel._meta.fields
            if field.name not in (*first, *bulky)
        ]
        return [
            (None, {"fields": first}),
            ("Model", {"fields": rest}),
            ("Schema, parameters and statistics", {
                "fields": bulky, "classes": ["collapse"],
            }),
        ]  # fmt: skip

    @admin.display(description="evaluation report")
    def evaluation_report(self, model):
        return evaluation_html(model.evaluation, model.model_type, model.distribution)

    @admin.display(description="evaluation rows chosen by")
    def evaluation_rows(self, model):
        return describe_split(model.split)

    def has_add_permission(self, request):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    def has_promote_permission(self, request):
        return request.user.has_perm("mlpipeline.promote_model")

    @admin.display(description="metric against baseline")
    def metric_against_baseline(self, model):
        if model.metric_value is None:
            return "-"
        baseline = "none" if model.baseline is None else f"{model.baseline:.4f}"
        return f"{model.metric_name} {model.metric_value:.4f} (baseline {baseline})"

    @admin.action(description="Promote (overrides the gate)", permissions=["promote"])
    def promote(self, request, queryset):
        if queryset.count() != 1:
            self.message_user(
                request,
                f"Select one model to promote, not {queryset.count()}.",
                messages.ERROR,
            )
            return
        model = queryset.get()
        try:
            registry.force_promote(model, request.user)
        except (MlpipelineError, PermissionDenied) as err:
            self.message_user(request, str(err), messages.ERROR)
            return
        self.log_change(request, model, f"Promoted by hand: {model.decision_reason}")
        self.message_user(
            request,
            f"{model.pipeline}: model {model.model_id} is active.",
            messages.SUCCESS,
        )
