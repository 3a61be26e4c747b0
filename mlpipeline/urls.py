from django.urls import path

from mlpipeline import pages, views

app_name = "mlpipeline"

urlpatterns = [
    path("realtime/<str:model_id>/", views.realtime, name="realtime"),
    path("realtime/<str:model_id>", views.realtime),
    # Any text up to the last slash reaches the view, which answers every
    # pipeline name it does not serve with its own JSON 404.
    path("predict/<path:pipeline>/", views.predict_api, name="predict"),
    path("openapi.json", views.openapi, name="openapi"),
    path("predictor/<str:pipeline>/", pages.predictor, name="predictor"),
]
