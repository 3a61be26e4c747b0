from django.urls import path, register_converter

from mlpipeline import pages, views


class _AnyText:
    """Any text, slashes and line breaks included, for names a view checks."""

    regex = r"[\s\S]+"

    def to_python(self, value: str) -> str:
        return value

    def to_url(self, value: str) -> str:
        return value


register_converter(_AnyText, "mlpipeline_any_text")

app_name = "mlpipeline"

urlpatterns = [
    path("realtime/<str:model_id>/", views.realtime, name="realtime"),
    path("realtime/<str:model_id>", views.realtime),
    # Any text up to the last slash reaches the view, which answers every
    # pipeline name it does not serve with its own JSON 404.
    path("predict/<mlpipeline_any_text:pipeline>/", views.predict_api, name="predict"),
    path("openapi.json", views.openapi, name="openapi"),
    path("predictor/<str:pipeline>/", pages.predictor, name="predictor"),
]
