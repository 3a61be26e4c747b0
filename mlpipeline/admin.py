from django.contrib import admin

from mlpipeline.models import Run, RunStep


class RunStepInline(admin.TabularInline):
    model = RunStep
    extra = 0
    can_delete = False
    fields = ["name", "status", "entity_id", "started_at", "seconds", "error"]
    readonly_fields = fields

    def has_add_permission(self, request, obj=None):
        return False


@admin.register(Run)
class RunAdmin(admin.ModelAdmin):
    list_display = [
        "pk", "pipeline", "status", "model_type", "metric_name", "metric_value",
        "baseline", "rows_extracted", "rows_train", "rows_evaluation", "started_at",
    ]  # fmt: skip
    list_filter = ["pipeline", "status", "model_type", "backend"]
    inlines = [RunStepInline]

    def get_readonly_fields(self, request, obj=None):
        return [field.name for field in Run._meta.fields]

    def has_add_permission(self, request):
        return False
