from django.apps import AppConfig


class FieldZooConfig(AppConfig):
    name = "tests.fieldzoo"
    label = "fieldzoo"
    default_auto_field = "django.db.models.BigAutoField"
