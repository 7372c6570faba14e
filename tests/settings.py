"""Test settings: the real settings module, fed a test environment before it reads it."""

import os

os.environ.setdefault("DJANGO_SECRET_KEY", "test-only-secret-key")
os.environ.setdefault("ORQ_API_KEY", "test-orq-key")
os.environ.setdefault("ORQ_PROJECT_ID", "prj_01kfd2test0000000000000000")
os.environ.setdefault("MISTRAL_API_KEY", "test-mistral-key")
os.environ.setdefault("DJANGO_HTTPS", "0")  # the test client and the e2e servers speak plain HTTP

from webchat.settings import *  # noqa: F403
from webchat.settings import STORAGES

PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]

# Tests render templates without running collectstatic first.
STORAGES = {
    **STORAGES,
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}
# Static files come from the source folders, as under runserver (no collectstatic in tests).
WHITENOISE_USE_FINDERS = True
WHITENOISE_AUTOREFRESH = True
# Attachments go to a folder of this test run's own, removed at exit.
import atexit  # noqa: E402
import shutil  # noqa: E402
import tempfile  # noqa: E402

MEDIA_ROOT = tempfile.mkdtemp(prefix="webchat-test-media-")
atexit.register(shutil.rmtree, MEDIA_ROOT, ignore_errors=True)
