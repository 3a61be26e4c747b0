"""The admin: pipelines with "Retrain now"; runs, their steps, "Resume"."""

from django.contrib import admin, messages
from django.utils.html import format_html

from mlpipeline.exceptions import MlpipelineError
from mlpipeline.models import PipelineState, Run, RunStep
from mlpipeline.pipeline import site
from mlpipeline.schedule import schedule_for
from mlpipeline.trigger import request_resume, request_run


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
    list_display = ["name", "schedule", "lock", "last_run", "serving_model"]
    actions = ["retrain_now"]
    readonly_fields = ["name", "locked_by", "holder", "locked_at", "heartbeat_at"]

    def changelist_view(self, request, extra_context=None):
        # Declared pipelines live in code; give each a row to act on.
        for pipeline in site:
            PipelineState.objects.get_or_create(name=pipeline.get_name())
        return super().changelist_view(request, extra_context)

    def has_add_permission(self, request):
        return False

    def has_run_permission(self, request):
        return request.user.has_perm("mlpipeline.run_pipeline")

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
        run = (
            Run.objects.filter(pipeline=state.name, status=Run.Status.SUCCEEDED)
            .order_by("-finished_at", "-pk")
            .first()
        )
        if run is None:
            return "-"
        return format_html("{} <small>(run {})</small>", run.model_id, run.pk)

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
class RunAdmin(admin.ModelAdmin):
    list_display = [
        "pk", "pipeline", "status", "trigger", "model_type", "metric_name",
        "metric_value", "baseline", "rows_extracted", "rows_train",
        "rows_evaluation", "started_at",
    ]  # fmt: skip
    list_filter = ["pipeline", "status", "trigger", "model_type", "backend"]
    inlines = [RunStepInline]
    actions = ["resume"]

    def get_readonly_fields(self, request, obj=None):
        return [field.name for field in Run._meta.fields]

    def has_add_permission(self, request):
        return False

    def has_resume_permission(self, request):
        return request.user.has_perm("mlpipeline.resume_run")

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
