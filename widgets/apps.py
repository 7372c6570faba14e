from django.apps import AppConfig


class WidgetsConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "widgets"
    verbose_name = "Embeddable widgets"

    def ready(self) -> None:
        # An Orq agent remembers a verified visitor across conversations (widgets/memory.py).
        from conversations.providers.orq import remember_with
        from widgets.memory import memory_key

        remember_with(memory_key)
