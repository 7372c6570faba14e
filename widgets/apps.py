from django.apps import AppConfig


class WidgetsConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "widgets"
    verbose_name = "Embeddable widgets"
