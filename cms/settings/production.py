"""Production: every secret and address from the environment; refuses to start without them."""

import os
from urllib.parse import urlsplit

from django.core.exceptions import ImproperlyConfigured

from cms.object_storage import storages_from_env

from .base import *  # noqa: F403
from .base import LOGGING, MIDDLEWARE, PRIVATE_ROOT, env_bool, env_float, env_int, env_list, env_str

DEBUG = False

SECRET_KEY = env_str("SECRET_KEY")
if len(SECRET_KEY) < 50 or len(set(SECRET_KEY)) < 5 or SECRET_KEY.startswith("django-insecure"):
    raise ImproperlyConfigured(
        "SECRET_KEY must be set to a random value of at least 50 characters in production "
        "(for example: python -c 'import secrets; print(secrets.token_urlsafe(64))')."
    )

ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", [])
if not ALLOWED_HOSTS:
    raise ImproperlyConfigured("ALLOWED_HOSTS must list the host names this deployment serves.")

if not (env_str("CELERY_BROKER_URL") or env_str("REDIS_URL")):
    raise ImproperlyConfigured("CELERY_BROKER_URL or REDIS_URL must point at the Celery broker.")
CELERY_TASK_ALWAYS_EAGER = False

# Every link in an email (invitations, password resets, listing checks, referral notices) starts
# here; the development default would send people to http://127.0.0.1:8000.
WAGTAILADMIN_BASE_URL = env_str("WAGTAILADMIN_BASE_URL").rstrip("/")
_base_url = urlsplit(WAGTAILADMIN_BASE_URL)
if _base_url.scheme not in {"http", "https"} or not _base_url.hostname:
    raise ImproperlyConfigured(
        "WAGTAILADMIN_BASE_URL must be the public address people reach this deployment at "
        "(for example https://handoff.example.org); it starts every link in emails."
    )

SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT", True)
# Probes come over plain HTTP (cms.health answers them first; this keeps it so if it moves).
SECURE_REDIRECT_EXEMPT = [r"^healthz/?$", r"^readyz/?$"]
SECURE_HSTS_SECONDS = env_int("SECURE_HSTS_SECONDS", 60 * 60 * 24 * 365)
SECURE_HSTS_INCLUDE_SUBDOMAINS = True
# Preload needs includeSubDomains and a year of max-age; operators who cannot commit turn it off.
SECURE_HSTS_PRELOAD = env_bool("SECURE_HSTS_PRELOAD", True)
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
SESSION_COOKIE_SECURE = True
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_AGE = env_int("SESSION_COOKIE_AGE", 60 * 60 * 8)
CSRF_COOKIE_SECURE = True
CSRF_COOKIE_HTTPONLY = True
X_FRAME_OPTIONS = "DENY"

# The local filesystem, or S3 buckets when AWS_STORAGE_BUCKET_NAME is set (cms/object_storage.py).
STORAGES = storages_from_env(
    environ=os.environ,
    private_root=PRIVATE_ROOT,
    staticfiles_backend="whitenoise.storage.CompressedManifestStaticFilesStorage",
)

# ADMINS stays empty: error emails could carry client data in tracebacks.
ADMINS: list[tuple[str, str]] = []

# WhiteNoise serves the collected static files from the web processes (right after security).
_after_security = MIDDLEWARE.index("django.middleware.security.SecurityMiddleware") + 1
MIDDLEWARE = [
    *MIDDLEWARE[:_after_security],
    "whitenoise.middleware.WhiteNoiseMiddleware",
    *MIDDLEWARE[_after_security:],
]

# One JSON object a line for the log collector (LOG_FORMAT=plain for people reading a terminal).
LOG_FORMAT = env_str("LOG_FORMAT", "json")
if LOG_FORMAT not in {"plain", "json"}:
    raise ImproperlyConfigured(f"LOG_FORMAT must be plain or json, got {LOG_FORMAT!r}")
LOGGING["handlers"]["console"]["formatter"] = LOG_FORMAT

# Errors to Sentry only when SENTRY_DSN is set, scrubbed of client data (cms/sentry.py).
SENTRY_DSN = env_str("SENTRY_DSN")
if SENTRY_DSN:
    from cms.sentry import sentry_init

    sentry_init(
        dsn=SENTRY_DSN,
        environment=env_str("SENTRY_ENVIRONMENT", "production"),
        release=env_str("SENTRY_RELEASE") or None,
        traces_sample_rate=env_float("SENTRY_TRACES_SAMPLE_RATE", 0.0),
    )

# --- Sign-in fit for health data (issue 13 §5) -------------------------------------------------
# Two-factor sign-in for admins and superusers cannot be switched off in production.
if not env_bool("HANDOFF_TWO_FACTOR_REQUIRED", True):
    raise ImproperlyConfigured(
        "HANDOFF_TWO_FACTOR_REQUIRED cannot be turned off in production: admins and superusers "
        "reach health information and must sign in with a second factor."
    )
HANDOFF_TWO_FACTOR_REQUIRED = True
# --- end sign-in -----------------------------------------------------------------------------
