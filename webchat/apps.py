"""The project package as an app, for what belongs to no app: the `serve` command.

`serve` starts the whole of Webchat (the demo user, the demo widget, the emulator, daphne), so
it imports several apps; in `conversations` it made conversations import widgets. Apps import
downwards only (tests/test_layers.py); the wiring above them lives here. No models.
"""

from django.apps import AppConfig


class WebchatConfig(AppConfig):
    name = "webchat"
    verbose_name = "Webchat"
