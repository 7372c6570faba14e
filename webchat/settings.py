"""Webchat settings: every value comes from the environment (see the README's table)."""

from datetime import timedelta
from pathlib import Path

from webchat.env import (
    cache_config,
    channel_layers_config,
    database_config,
    env_bool,
    env_float,
    env_int,
    env_json_object,
    env_list,
    env_pairs,
    env_secret,
    env_str,
    env_url,
)

BASE_DIR = Path(__file__).resolve().parent.parent
PACKAGE_DIR = Path(__file__).resolve().parent
# Installed from the wheel, setup.py puts templates/, static/ and locale/ inside this package.
INSTALLED = (PACKAGE_DIR / "templates").is_dir()


def _shipped(folder: str) -> Path:
    """templates/, static/ or locale/: inside this package when installed, beside the apps in
    a checkout."""
    return PACKAGE_DIR / folder if INSTALLED else BASE_DIR / folder


# What Webchat writes (the SQLite database, the collected static files): the checkout in a
# checkout; installed, the directory it is started in, never the read-only site-packages.
DATA_DIR = Path(env_str("WEBCHAT_DATA_DIR") or (Path.cwd() if INSTALLED else BASE_DIR)).resolve()


# The run command sets WEBCHAT_DEMO=1: it then works with no configuration at all.
DEMO = env_bool("WEBCHAT_DEMO", False)
DEBUG = env_bool("DJANGO_DEBUG", False)
SECRET_KEY = env_secret(
    "DJANGO_SECRET_KEY",
    demo_default="insecure-demo-key-only-for-the-run-command" if DEMO or DEBUG else None,
)
ALLOWED_HOSTS = env_list("DJANGO_ALLOWED_HOSTS", "localhost,127.0.0.1,[::1]")
CSRF_TRUSTED_ORIGINS = env_list("DJANGO_CSRF_TRUSTED_ORIGINS")

INSTALLED_APPS = [
    "daphne",
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "channels",
    "django_htmx",
    "template_partials",
    "conversations",
    "sharing",
    "administration",
    "widgets",
    "emulator",
    "axes",
    # Last: the project's own commands (`serve`), above every app (webchat/apps.py).
    "webchat",
]

MIDDLEWARE = [
    # First, so that every response gets the policy: pages, the admin, static files, errors.
    "webchat.csp.content_security_policy",
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.middleware.gzip.GZipMiddleware",
    # Before anything reads a cookie, a query or a form: PostgreSQL cannot take a NUL.
    "webchat.badinput.refuse_nul",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    # Each signed-in person's language (else the browser's) and settings, read once a request.
    "conversations.user_settings.user_language",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    # Last, as django-axes asks: it turns a lockout into the locked-out page.
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "webchat.urls"
ASGI_APPLICATION = "webchat.asgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [_shipped("templates")],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "conversations.user_settings.user_settings",
            ],
        },
    },
]

DATABASES = {"default": database_config(env_str("DATABASE_URL"), base_dir=DATA_DIR)}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

REDIS_URL = env_str("REDIS_URL")
CHANNEL_LAYERS = channel_layers_config(REDIS_URL)
CACHES = cache_config(REDIS_URL)

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

LANGUAGE_CODE = "en-us"
# English and French are shipped (locale/): the widget speaks its visitors' language, the team
# chat each person's (their settings, else their browser's: conversations/user_settings.py).
LANGUAGES = [("en", "English"), ("fr", "Français")]
LOCALE_PATHS = [_shipped("locale")]
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "conversations:index"
LOGOUT_REDIRECT_URL = "login"

STATIC_URL = "static/"
STATICFILES_DIRS = [_shipped("static")]
STATIC_ROOT = DATA_DIR / "var" / "static"
# WhiteNoise serves hashed, pre-compressed files under daphne (nothing else would).
# Files people attach to messages: on the local file system under MEDIA_ROOT by default, or
# any Django storage backend (django-storages' S3Storage, say) named by WEBCHAT_STORAGE_BACKEND
# with its options as a JSON object in WEBCHAT_STORAGE_OPTIONS. Never served from MEDIA_URL:
# only through the views that check who may read them (conversations/attachment_views.py).
MEDIA_ROOT = Path(env_str("WEBCHAT_MEDIA_ROOT") or DATA_DIR / "var" / "media")
STORAGES = {
    "default": {
        "BACKEND": env_str("WEBCHAT_STORAGE_BACKEND")
        or "django.core.files.storage.FileSystemStorage",
        "OPTIONS": env_json_object("WEBCHAT_STORAGE_OPTIONS"),
    },
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"},
}

SESSION_COOKIE_HTTPONLY = True
CSRF_COOKIE_SAMESITE = "Lax"
SESSION_COOKIE_SECURE = env_bool("DJANGO_SECURE_COOKIES", not DEBUG and not DEMO)
CSRF_COOKIE_SECURE = SESSION_COOKIE_SECURE

# HTTPS in production: redirect plain HTTP, and tell browsers to stay on HTTPS (HSTS).
HTTPS = env_bool("DJANGO_HTTPS", not DEBUG and not DEMO)
SECURE_SSL_REDIRECT = HTTPS
SECURE_HSTS_SECONDS = env_int("DJANGO_HSTS_SECONDS", 31_536_000 if HTTPS else 0, minimum=0)
SECURE_HSTS_INCLUDE_SUBDOMAINS = env_bool("DJANGO_HSTS_INCLUDE_SUBDOMAINS", True)
# Preloading is a commitment browsers ship for months: opt in knowingly.
SECURE_HSTS_PRELOAD = env_bool("DJANGO_HSTS_PRELOAD", False)
if not SECURE_HSTS_PRELOAD:
    SILENCED_SYSTEM_CHECKS = ["security.W021"]
# Behind a proxy that terminates TLS: trust its X-Forwarded-Proto (only then).
if env_bool("DJANGO_BEHIND_TLS_PROXY", False):
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")

# Sign-in attempts are limited per user name and address (django-axes), the admin's included.
AXES_FAILURE_LIMIT = env_int("WEBCHAT_LOGIN_ATTEMPTS", 5, minimum=1)
AXES_COOLOFF_TIME = timedelta(minutes=env_int("WEBCHAT_LOGIN_COOLOFF_MINUTES", 15, minimum=1))
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_RESET_ON_SUCCESS = True
AXES_VERBOSE = False
AXES_LOCKOUT_TEMPLATE = "registration/locked_out.html"
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
]

# --- Upstream providers -------------------------------------------------------------------------
# The provider adapters (conversations/providers/): each reads <PREFIX>_API_KEY, _BASE_URL,
# _MODELS and _AGENTS below. A provider is usable when its key is set. The run command starts the
# bundled emulator and points every provider without a key at it.
WEBCHAT_PROVIDERS = env_list(
    "WEBCHAT_PROVIDERS",
    "conversations.providers.orq.OrqAdapter,conversations.providers.mistral.MistralAdapter",
)
ORQ_API_KEY = env_str("ORQ_API_KEY")
ORQ_BASE_URL = env_url("ORQ_BASE_URL", "https://api.orq.ai")
ORQ_PROJECT_ID = env_str("ORQ_PROJECT_ID")
ORQ_MODELS = env_list("ORQ_MODELS", "openai/gpt-4o,openai/gpt-4o-mini,anthropic/claude-sonnet-4-5")
ORQ_AGENTS = env_pairs("ORQ_AGENTS", "demo=agent_01kfd2demq7v3m8xw5r9ht4abc")
MISTRAL_API_KEY = env_str("MISTRAL_API_KEY")
MISTRAL_BASE_URL = env_url("MISTRAL_BASE_URL", "https://api.mistral.ai")
MISTRAL_MODELS = env_list("MISTRAL_MODELS", "mistral-medium-latest,mistral-small-latest")
MISTRAL_AGENTS = env_pairs("MISTRAL_AGENTS", "demo=ag_0694d3e0c7a47f1e8000a1b2c3d4e5f6")
# The emulator, if any, that the run command pointed keyless providers at (for the status page).
WEBCHAT_EMULATOR_URL = env_str("WEBCHAT_EMULATOR_URL")

WEBCHAT_DEFAULT_CHOICE = env_str("WEBCHAT_DEFAULT_CHOICE")
WEBCHAT_MAX_MESSAGE_CHARS = env_int("WEBCHAT_MAX_MESSAGE_CHARS", 32_000, minimum=1)
WEBCHAT_SENDS_PER_MINUTE = env_int("WEBCHAT_SENDS_PER_MINUTE", 20, minimum=1)
WEBCHAT_PAGE_SIZE = 30
# A streaming reply's text is saved this often (one UPDATE), and its lease lasts this long.
WEBCHAT_SAVE_INTERVAL = env_float("WEBCHAT_SAVE_INTERVAL", 1.0, minimum=0.05)
WEBCHAT_LEASE_SECONDS = env_float("WEBCHAT_LEASE_SECONDS", 30.0, minimum=1)
# On SIGTERM/SIGINT the server stops taking turns and lets replies finish this long; what is
# still streaming then is saved and marked interrupted before the process exits.
WEBCHAT_SHUTDOWN_GRACE = env_float("WEBCHAT_SHUTDOWN_GRACE", 10.0, minimum=0)
# Retention: conversations idle longer than this many days are purged (0: kept for ever), with
# per-origin overrides such as "widget=30,import=365" (0 there keeps that origin for ever).
# Widget visitor tokens last this many days (a returning visitor finds their conversation).
WEBCHAT_WIDGET_TOKEN_DAYS = env_int("WEBCHAT_WIDGET_TOKEN_DAYS", 30, minimum=1)
WEBCHAT_RETENTION_DAYS = env_int("WEBCHAT_RETENTION_DAYS", 0, minimum=0)
WEBCHAT_RETENTION_BY_ORIGIN = {
    origin: int(days) for origin, days in env_pairs("WEBCHAT_RETENTION_BY_ORIGIN").items()
}
# A conversation deleted from the sidebar waits in Trash this many days, restorable, before it
# is deleted for good (upstream too). At least a day: "Delete forever" is the way to go at once.
WEBCHAT_TRASH_DAYS = env_int("WEBCHAT_TRASH_DAYS", 30, minimum=1)
# Webchat's public address (https://chat.example.com), for the widget snippet other sites paste;
# unset, the admin page's own address is used.
WEBCHAT_PUBLIC_URL = env_url("WEBCHAT_PUBLIC_URL", "") if env_str("WEBCHAT_PUBLIC_URL") else ""
# Shared links (sharing/): whether a person may make one that anyone with the link can read.
# Off, links are for signed-in members only, and those made for anyone ask for a sign-in too.
WEBCHAT_PUBLIC_SHARES = env_bool("WEBCHAT_PUBLIC_SHARES", True)

# Attachments: at most this many bytes a file and files a message, of these types (checked by
# their content, not their names). An upload past the size is refused before it is read.
WEBCHAT_UPLOAD_MAX_BYTES = env_int("WEBCHAT_UPLOAD_MAX_BYTES", 10 * 1024 * 1024, minimum=1)
WEBCHAT_UPLOAD_MAX_FILES = env_int("WEBCHAT_UPLOAD_MAX_FILES", 5, minimum=1)
WEBCHAT_UPLOAD_TYPES = env_list(
    "WEBCHAT_UPLOAD_TYPES",
    "image/png,image/jpeg,image/gif,image/webp,image/svg+xml,application/pdf,text/plain,"
    "text/markdown,text/csv",
)
# How long the single-file link a provider fetches a document from (Mistral) stays valid.
WEBCHAT_FILE_LINK_SECONDS = env_int("WEBCHAT_FILE_LINK_SECONDS", 300, minimum=10)

UPSTREAM_CONNECT_TIMEOUT = env_float("UPSTREAM_CONNECT_TIMEOUT", 5.0)
UPSTREAM_READ_TIMEOUT = env_float("UPSTREAM_READ_TIMEOUT", 60.0)
UPSTREAM_FIRST_BYTE_TIMEOUT = env_float("UPSTREAM_FIRST_BYTE_TIMEOUT", 30.0)
UPSTREAM_RETRIES = env_int("UPSTREAM_RETRIES", 2, minimum=0)
UPSTREAM_MAX_RETRY_WAIT = env_float("UPSTREAM_MAX_RETRY_WAIT", 10.0)

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": env_str("LOG_LEVEL", "INFO").upper()},
    "loggers": {"httpx": {"level": "WARNING"}},
}
