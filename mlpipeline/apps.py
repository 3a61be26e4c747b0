from __future__ import annotations

from django.apps import AppConfig
from django.utils.module_loading import autodiscover_modules


class MlpipelineConfig(AppConfig):
    name = "mlpipeline"
    verbose_name = "Machine learning pipelines"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        # Import every installed app's pipelines.py so its @register runs.
        autodiscover_modules("pipelines")
        # Register the system checks of declarations and settings.
        from mlpipeline import checks  # noqa: F401
