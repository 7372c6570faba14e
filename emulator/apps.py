"""The bundled upstream emulator, installed as an app so `manage.py emulator` exists."""

from django.apps import AppConfig


class EmulatorConfig(AppConfig):
    name = "emulator"
    verbose_name = "Upstream emulator"
