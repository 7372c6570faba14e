"""Settings for `manage.py emulator` alone: it serves the two fake APIs and needs nothing else.

No database, no sessions, no signing: the secret key below is made afresh for each process so
that Django starts, and nothing uses it. Webchat's own settings (which insist on a real secret
outside demo mode) are not read at all.
"""

import secrets

SECRET_KEY = secrets.token_urlsafe(50)
INSTALLED_APPS = ["emulator"]
DATABASES: dict = {}
USE_TZ = True
