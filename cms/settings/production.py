"""Production: every secret and address from the environment; refuses to start without them."""

from urllib.parse import urlsplit

from django.core.exceptions import ImproperlyConfigured

from .base import *  # noqa: F403
from .base import env_bool, env_int, env_list, env_str

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

STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"},
    "private": PRIVATE_STORAGE,  # noqa: F405
}

# ADMINS stays empty: error emails could carry client data in tracebacks.
ADMINS: list[tuple[str, str]] = []

# WhiteNoise serves the collected static files from the web processes (right after security).
MIDDLEWARE = [*MIDDLEWARE[:1], "whitenoise.middleware.WhiteNoiseMiddleware", *MIDDLEWARE[1:]]  # noqa: F405

# --- Sign-in fit for health data (issue 13 §5) -------------------------------------------------
# Two-factor sign-in for admins and superusers cannot be switched off in production.
if not env_bool("HANDOFF_TWO_FACTOR_REQUIRED", True):
    raise ImproperlyConfigured(
        "HANDOFF_TWO_FACTOR_REQUIRED cannot be turned off in production: admins and superusers "
        "reach health information and must sign in with a second factor."
    )
HANDOFF_TWO_FACTOR_REQUIRED = True
# --- end sign-in -----------------------------------------------------------------------------
