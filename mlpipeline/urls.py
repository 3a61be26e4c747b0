from django.urls import path

from mlpipeline import pages, views

app_name = "mlpipeline"

urlpatterns = [
    path("realtime/<str:model_id>/", views.realtime, name="realtime"),
    path("realtime/<str:model_id>", views.realtime),
    path("predict/<str:pipeline>/", views.predict_api, name="predict"),
    path("openapi.json", views.openapi, name="openapi"),
    path("predictor/<str:pipeline>/", pages.predictor, name="predictor"),
]
