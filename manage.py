#!/usr/bin/env python
"""Django's command-line utility for Webchat."""

import os
import sys


def main() -> None:
    if sys.argv[1:2] == ["emulator"]:
        # The emulator uses nothing of Webchat's settings: it starts with no secret key set.
        os.environ["DJANGO_SETTINGS_MODULE"] = "emulator.settings"
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "webchat.settings")
    from django.core.management import execute_from_command_line

    execute_from_command_line(sys.argv)


if __name__ == "__main__":
    main()
