"""Settings shared by every environment; everything deployment-specific comes from the environment.

The embedded default (no variables set) is SQLite, eager Celery tasks, local-memory cache,
database search and the offline geocoder, so that one command runs the demo anywhere.
"""

import importlib.util
import json
import os
from datetime import timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import dj_database_url
from celery.schedules import crontab
from django.core.exceptions import ImproperlyConfigured
from django.utils.translation import gettext_lazy as _

from cms.object_storage import storages_from_env

PROJECT_DIR = Path(__file__).resolve().parent.parent
BASE_DIR = PROJECT_DIR.parent
VAR_DIR = Path(os.environ.get("HANDOFF_VAR_DIR", BASE_DIR / "var"))


def env_str(name: str, default: str = "") -> str:
    return os.environ.get(name, default)


def env_bool(name: str, default: bool) -> bool:
    value = os.environ.get(name)
    if value is None or value == "":
        return default
    lowered = value.strip().lower()
    if lowered in {"1", "true", "yes", "on"}:
        return True
    if lowered in {"0", "false", "no", "off"}:
        return False
    raise ImproperlyConfigured(f"{name} must be a boolean (true/false), got {value!r}")


def env_int(name: str, default: int) -> int:
    value = os.environ.get(name)
    if value is None or value == "":
        return default
    try:
        return int(value)
    except ValueError:
        raise ImproperlyConfigured(f"{name} must be an integer, got {value!r}") from None


def env_float(name: str, default: float) -> float:
    value = os.environ.get(name)
    if value is None or value == "":
        return default
    try:
        return float(value)
    except ValueError:
        raise ImproperlyConfigured(f"{name} must be a number, got {value!r}") from None


def env_list(name: str, default: list[str]) -> list[str]:
    value = os.environ.get(name)
    if value is None:
        return default
    return [item.strip() for item in value.split(",") if item.strip()]


DEBUG = env_bool("DEBUG", False)
SECRET_KEY = env_str("SECRET_KEY")
ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", [])
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS", [])

INSTALLED_APPS = [
    "cms",
    "network",
    "directory",
    "consent",
    "search.apps.SearchConfig",
    "referrals",
    "wagtail.contrib.forms",
    "wagtail.contrib.redirects",
    "wagtail.contrib.settings",
    "wagtail.embeds",
    "wagtail.sites",
    "wagtail.users",
    "wagtail.snippets",
    "wagtail.documents",
    "wagtail.images",
    "wagtail.search",
    "wagtail.admin",
    "wagtail",
    "modelcluster",
    "taggit",
    "django_filters",
    "guardian",
    "django_celery_beat",
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django.contrib.postgres",  # trigram lookups and full-text search (inert on SQLite)
    "django_htmx",
    # The API docs page (cms.api) from ninja's own static Swagger UI files, not a CDN.
    "ninja",
    # Sign-in (issue 13 §5): lockout, two-factor, CSP.
    "axes",
    "django_otp",
    "django_otp.plugins.otp_totp",
    "django_otp.plugins.otp_static",
    "csp",
]

# The widgets every form draws written in Python, the same HTML as their templates
# (cms/form_renderer.py).
FORM_RENDERER = "cms.form_renderer.WidgetRenderer"

MIDDLEWARE = [
    # First: every response carries a request id, and every log line of the request names it.
    "cms.request_id.RequestIdMiddleware",
    # Before host validation and the HTTPS redirect: probes come over plain HTTP with the pod's
    # address as Host, which ALLOWED_HOSTS refuses (cms/health.py).
    "cms.health.HealthMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "cms.nul.NulCharacterMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django_otp.middleware.OTPMiddleware",
    "network.middleware.TenantMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "cms.middleware.IdleTimeoutMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    "wagtail.contrib.redirects.middleware.RedirectMiddleware",
    "network.middleware.TwoFactorMiddleware",
    "cms.middleware.PasswordResetThrottleMiddleware",
    "cms.middleware.ContentSecurityPolicyMiddleware",
    # Last, as django-axes asks: turns a locked-out sign-in into its 429 page.
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "cms.urls"
WSGI_APPLICATION = "cms.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [PROJECT_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.debug",
                "django.template.context_processors.request",
                "django.template.context_processors.i18n",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "network.context_processors.tenant",
                # The header's unread count (a setting, so cms imports nothing of referrals).
                "referrals.context_processors.notifications",
            ],
        },
    },
]

# Database: DATABASE_URL (postgres://user@host:port/name), else the embedded SQLite file.
DATABASES = {
    "default": dj_database_url.parse(
        env_str("DATABASE_URL") or f"sqlite:///{VAR_DIR / 'handoff.sqlite3'}",
        conn_max_age=env_int("DATABASE_CONN_MAX_AGE", 0),
        conn_health_checks=True,
    )
}
if DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql":
    # A database that does not answer fails the request within seconds (503), never hangs it.
    DATABASES["default"].setdefault("OPTIONS", {}).setdefault(
        "connect_timeout", env_int("DATABASE_CONNECT_TIMEOUT", 5)
    )
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_USER_MODEL = "network.User"
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",  # first: refuses locked-out sign-ins (see below)
    "django.contrib.auth.backends.ModelBackend",
    "guardian.backends.ObjectPermissionBackend",
]
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "network:workspace"
LOGOUT_REDIRECT_URL = "login"

# django-guardian: no database row for the anonymous user, who holds no object permissions.
ANONYMOUS_USER_NAME = None
GUARDIAN_RAISE_403 = False

LANGUAGE_CODE = "en"
LANGUAGES = [("en", _("English")), ("es", _("Spanish"))]
LOCALE_PATHS = [BASE_DIR / "locale"]
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True
# Dates and times written one way per language (cms/formats), in the network's zone (the tenant
# middleware activates it).
FORMAT_MODULE_PATH = ["cms.formats"]

STATIC_URL = "/static/"
STATIC_ROOT = Path(env_str("STATIC_ROOT") or VAR_DIR / "static")
STATICFILES_DIRS: list[Path | tuple[str, Path]] = [PROJECT_DIR / "static"]
# Leaflet comes from the django-leaflet package; only its static files are used (its app would
# pull in GeoDjango), found without importing it.
_leaflet = importlib.util.find_spec("leaflet")
if _leaflet is not None and _leaflet.submodule_search_locations:
    STATICFILES_DIRS.append(
        ("leaflet", Path(next(iter(_leaflet.submodule_search_locations))) / "static" / "leaflet")
    )
MEDIA_URL = "/media/"
MEDIA_ROOT = Path(env_str("MEDIA_ROOT") or VAR_DIR / "media")
# Files that hold client data (signed consent forms and agreements): outside MEDIA_ROOT, with no
# URL, read only by views that check the actor and log the download (cms/storage.py).
PRIVATE_ROOT = Path(env_str("PRIVATE_ROOT") or VAR_DIR / "private")
PRIVATE_STORAGE = {
    "BACKEND": "cms.storage.PrivateFileSystemStorage",
    "OPTIONS": {"location": PRIVATE_ROOT},
}
# AWS_STORAGE_BUCKET_NAME moves media and private files to S3 (cms/object_storage.py).
STORAGES = storages_from_env(
    environ=os.environ,
    private_root=PRIVATE_ROOT,
    staticfiles_backend="django.contrib.staticfiles.storage.StaticFilesStorage",
)
# The largest signed consent form or agreement accepted, in bytes.
HANDOFF_PRIVATE_UPLOAD_MAX_BYTES = 10 * 1024 * 1024
DATA_UPLOAD_MAX_NUMBER_FIELDS = 10_000

# Cache: Redis when REDIS_URL is set, else process-local memory.
REDIS_URL = env_str("REDIS_URL")
if REDIS_URL:
    CACHES = {
        "default": {
            # Degrades to misses while Redis restarts, never an error page (cms/cache.py).
            "BACKEND": "cms.cache.ResilientRedisCache",
            "LOCATION": REDIS_URL,
            # A Redis that stops answering costs a request at most this long, not a hang.
            "OPTIONS": {"socket_connect_timeout": 2, "socket_timeout": 2},
        }
    }
else:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}

# Celery: a broker URL means real workers; without one, tasks run eagerly in-process.
CELERY_BROKER_URL = env_str("CELERY_BROKER_URL") or REDIS_URL
CELERY_RESULT_BACKEND = env_str("CELERY_RESULT_BACKEND") or None
CELERY_TASK_ALWAYS_EAGER = env_bool("CELERY_TASK_ALWAYS_EAGER", not CELERY_BROKER_URL)
if not CELERY_BROKER_URL:
    CELERY_BROKER_URL = "memory://"  # eager tasks: no broker is ever contacted
CELERY_TASK_EAGER_PROPAGATES = True
CELERY_TASK_DEFAULT_QUEUE = env_str("CELERY_TASK_DEFAULT_QUEUE", "handoff")
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_TIMEZONE = "UTC"
CELERY_BEAT_SCHEDULER = "django_celery_beat.schedulers:DatabaseScheduler"
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
# Workers log through LOGGING below (JSON lines with the task id), not Celery's own format.
CELERY_WORKER_HIJACK_ROOT_LOGGER = False
# A task a worker took and never acknowledged (it died) goes back to the queue after this long.
# The outbox sweep delivers such a task's notifications sooner (HANDOFF_OUTBOX_LOST_AFTER_SECONDS).
CELERY_BROKER_TRANSPORT_OPTIONS = {"visibility_timeout": env_int("CELERY_VISIBILITY_TIMEOUT", 3600)}
# An outbox row (a notification) whose delivery task has not run this long after it was written
# is delivered by the every-minute sweep instead (its task was lost with a worker or the broker).
HANDOFF_OUTBOX_LOST_AFTER_SECONDS = env_int("HANDOFF_OUTBOX_LOST_AFTER_SECONDS", 120)
# A row a worker claimed and did not finish (it died during the send) is sent again after this
# long; a worker that sent a message keeps trying to mark it for most of this while the
# database is unreachable (referrals.outbox).
HANDOFF_OUTBOX_CLAIM_LAPSE_SECONDS = env_int("HANDOFF_OUTBOX_CLAIM_LAPSE_SECONDS", 600)
# Synced into django-celery-beat's database schedule when beat starts; admins can retime them.
CELERY_BEAT_SCHEDULE = {
    "listings-verification-request": {
        "task": "directory.tasks.listings_verification_request_all",
        "schedule": crontab(hour=16, minute=0),  # 08:00 on the US west coast
    },
    "notifications-sweep": {
        "task": "referrals.tasks.notifications_sweep",
        "schedule": crontab(minute="*"),
    },
    "network-dashboards-warm": {
        "task": "referrals.tasks.network_dashboards_warm",
        "schedule": crontab(minute="*"),
    },
    "hsds-feeds-sync": {
        "task": "directory.tasks.hsds_feeds_sync_due",
        "schedule": crontab(minute="*/10"),
    },
    "directory-jobs-abandoned-close": {
        "task": "directory.tasks.jobs_abandoned_close",
        "schedule": crontab(minute="*/10"),
    },
    "referrals-overdue-sweep": {
        "task": "referrals.tasks.referrals_overdue_sweep",
        "schedule": crontab(minute="*/15"),
    },
    "fhir-subscriptions-sweep": {
        "task": "referrals.tasks.fhir_subscriptions_sweep",
        "schedule": crontab(minute="*"),
    },
}

# Email: console in development; SMTP settings from the environment in production.
EMAIL_BACKEND = env_str("EMAIL_BACKEND", "django.core.mail.backends.smtp.EmailBackend")
EMAIL_HOST = env_str("EMAIL_HOST", "localhost")
EMAIL_PORT = env_int("EMAIL_PORT", 25)
EMAIL_HOST_USER = env_str("EMAIL_HOST_USER")
EMAIL_HOST_PASSWORD = env_str("EMAIL_HOST_PASSWORD")
EMAIL_USE_TLS = env_bool("EMAIL_USE_TLS", False)
EMAIL_USE_SSL = env_bool("EMAIL_USE_SSL", False)
EMAIL_FILE_PATH = env_str("EMAIL_FILE_PATH") or str(VAR_DIR / "mail")
EMAIL_TIMEOUT = env_int("EMAIL_TIMEOUT", 10)
DEFAULT_FROM_EMAIL = env_str("DEFAULT_FROM_EMAIL", "Handoff <no-reply@handoff.invalid>")
SERVER_EMAIL = env_str("SERVER_EMAIL", DEFAULT_FROM_EMAIL)

# Geocoding: the offline ZIP geocoder by default; any geopy geocoder in production, e.g.
# GEOCODER_BACKEND=geopy.geocoders.Nominatim GEOCODER_OPTIONS='{"user_agent": "handoff-humboldt"}'
try:
    _geocoder_options = json.loads(env_str("GEOCODER_OPTIONS") or "{}")
except json.JSONDecodeError:
    raise ImproperlyConfigured("GEOCODER_OPTIONS must be a JSON object") from None
HANDOFF_GEOCODER = {
    "BACKEND": env_str("GEOCODER_BACKEND", "directory.geocoding.OfflineZipGeocoder"),
    "OPTIONS": _geocoder_options,
    "CACHE_SECONDS": env_int("GEOCODER_CACHE_SECONDS", 60 * 60 * 24 * 30),
}

# Directory search. The database backend (PostgreSQL full-text + trigram, or SQLite) is the
# default and the fallback; ELASTICSEARCH_URL (comma-separated) makes Elasticsearch answer first.
ELASTICSEARCH_URL = env_str("ELASTICSEARCH_URL")
HANDOFF_SEARCH_BACKENDS: dict[str, dict[str, object]] = {
    "database": {"BACKEND": "search.backends.database"},
}
if ELASTICSEARCH_URL:
    HANDOFF_SEARCH_BACKENDS["default"] = {
        "BACKEND": "search.backends.elasticsearch",
        "URLS": [url.strip() for url in ELASTICSEARCH_URL.split(",") if url.strip()],
        "INDEX": env_str("ELASTICSEARCH_INDEX", "handoff-services"),
        "TIMEOUT": env_float("ELASTICSEARCH_TIMEOUT", 2.0),
    }
else:
    HANDOFF_SEARCH_BACKENDS["default"] = HANDOFF_SEARCH_BACKENDS["database"]
# The search map's tiles: OpenStreetMap's standard tiles by default, with the attribution their
# tile usage policy requires (https://operations.osmfoundation.org/policies/tiles/); another
# server through SEARCH_MAP_TILE_URL (and its SEARCH_MAP_ATTRIBUTION, HTML). SEARCH_MAP_TILES=off
# (or an empty SEARCH_MAP_TILE_URL) asks no tile server anything, for offline or private use:
# the markers stand on a blank background and the list works as before.
SEARCH_MAP_TILES = env_bool("SEARCH_MAP_TILES", True)
SEARCH_MAP_TILE_URL = (
    env_str("SEARCH_MAP_TILE_URL", "https://tile.openstreetmap.org/{z}/{x}/{y}.png")
    if SEARCH_MAP_TILES
    else ""
)
SEARCH_MAP_ATTRIBUTION = env_str(
    "SEARCH_MAP_ATTRIBUTION",
    '&copy; <a href="https://www.openstreetmap.org/copyright">OpenStreetMap</a> contributors',
)

# Wagtail
WAGTAIL_SITE_NAME = "Handoff"
WAGTAILADMIN_BASE_URL = env_str("WAGTAILADMIN_BASE_URL", "http://127.0.0.1:8000")
WAGTAILSEARCH_BACKENDS = {"default": {"BACKEND": "wagtail.search.backends.database"}}
WAGTAILDOCS_EXTENSIONS = ["csv", "docx", "odt", "pdf", "txt", "xlsx", "zip"]
WAGTAILDOCS_MAX_UPLOAD_SIZE = 10 * 1024 * 1024
# Documents are signed agreements in private storage: always through Wagtail's serve view (which
# checks the reader in consent.wagtail_hooks), always as a download.
WAGTAILDOCS_SERVE_METHOD = "serve_view"
WAGTAILDOCS_INLINE_CONTENT_TYPES: list[str] = []
WAGTAILDOCS_DOCUMENT_FORM_BASE = "consent.forms.DocumentForm"  # content checked, not only names
WAGTAIL_I18N_ENABLED = False
WAGTAILADMIN_PERMITTED_LANGUAGES = LANGUAGES

# HSDS directory imports (admin upload and hsds_import): what one zip may expand to, how many
# files it may hold, and after how long an unfinished import no longer blocks the next one.
HSDS_IMPORT_MAX_MEMBERS = env_int("HSDS_IMPORT_MAX_MEMBERS", 64)
HSDS_IMPORT_MAX_UNCOMPRESSED_BYTES = env_int("HSDS_IMPORT_MAX_UNCOMPRESSED_BYTES", 50 * 1024 * 1024)
HSDS_IMPORT_STALE_MINUTES = env_int("HSDS_IMPORT_STALE_MINUTES", 120)
# HSDS API feeds a directory follows (directory.feeds): per request, the connect and read timeouts
# in seconds, how often a failed request is tried again (waiting BACKOFF, then twice as long…),
# the most one page and one whole feed may weigh, and the most pages a feed may have. Feeds on
# private or loopback addresses are refused unless allowed (a server's own network is not a feed).
HSDS_FEED_CONNECT_TIMEOUT = env_float("HSDS_FEED_CONNECT_TIMEOUT", 5.0)
HSDS_FEED_READ_TIMEOUT = env_float("HSDS_FEED_READ_TIMEOUT", 60.0)
HSDS_FEED_RETRIES = env_int("HSDS_FEED_RETRIES", 3)
HSDS_FEED_BACKOFF_SECONDS = env_float("HSDS_FEED_BACKOFF_SECONDS", 2.0)
HSDS_FEED_MAX_PAGE_BYTES = env_int("HSDS_FEED_MAX_PAGE_BYTES", 20 * 1024 * 1024)
HSDS_FEED_MAX_BYTES = env_int("HSDS_FEED_MAX_BYTES", 500 * 1024 * 1024)
HSDS_FEED_MAX_PAGES = env_int("HSDS_FEED_MAX_PAGES", 5000)
HSDS_FEED_ALLOW_PRIVATE_ADDRESSES = env_bool("HSDS_FEED_ALLOW_PRIVATE_ADDRESSES", False)
HSDS_FEED_STALE_MINUTES = env_int("HSDS_FEED_STALE_MINUTES", 120)
# FHIR subscriptions (referrals.services.subscriptions): a system's rest-hook endpoint must be
# https:// on a public address. FHIR_SUBSCRIPTION_ALLOW_HTTP lets http:// through and
# FHIR_SUBSCRIPTION_ALLOW_PRIVATE_ADDRESSES loopback and private addresses (a test EHR or the
# demo on this machine); DEBUG allows both.
FHIR_SUBSCRIPTION_ALLOW_HTTP = env_bool("FHIR_SUBSCRIPTION_ALLOW_HTTP", False)
FHIR_SUBSCRIPTION_ALLOW_PRIVATE_ADDRESSES = env_bool(
    "FHIR_SUBSCRIPTION_ALLOW_PRIVATE_ADDRESSES", False
)
# The public HSDS API (/api/hsds/): requests one client address may make per window (seconds);
# 0 requests turns the limit off. Counted in the default cache (shared by every web process).
HSDS_API_RATE_LIMIT = {
    "requests": env_int("HSDS_API_RATE_LIMIT_REQUESTS", 600),
    "seconds": env_int("HSDS_API_RATE_LIMIT_SECONDS", 60),
}
# --- Sign-in fit for health data (issue 13 §5) -------------------------------------------------
# Lockout (django-axes): after AXES_FAILURE_LIMIT wrong passwords for one username from one
# address, that pair is refused (429) for the cool-off, even with the right password. Every
# sign-in form goes through django.contrib.auth.authenticate, so this covers the workspace's and
# the Wagtail admin's.
AXES_FAILURE_LIMIT = env_int("AXES_FAILURE_LIMIT", 5)
AXES_COOLOFF_TIME = timedelta(minutes=env_int("AXES_COOLOFF_MINUTES", 15))
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_RESET_ON_SUCCESS = True
AXES_LOCKOUT_TEMPLATE = "registration/locked_out.html"
# The same address the access log records: REMOTE_ADDR, or the client behind a trusted proxy.
AXES_CLIENT_IP_CALLABLE = env_str("AXES_CLIENT_IP_CALLABLE") or "cms.client_address.client_ip"
AXES_ENABLE_ADMIN = False  # the Django admin is not routed by default
# Password-reset forms (workspace and Wagtail admin): at most this many requests per client
# address and per e-mail address within the window; beyond, 429 and no e-mail.
HANDOFF_PASSWORD_RESET_LIMIT = env_int("HANDOFF_PASSWORD_RESET_LIMIT", 5)
HANDOFF_PASSWORD_RESET_WINDOW_SECONDS = env_int("HANDOFF_PASSWORD_RESET_WINDOW_SECONDS", 60 * 60)

# Two-factor sign-in (django-otp: TOTP and one-time recovery codes). Required for superusers,
# network admins and organization admins; anyone may enrol. Production forces it on.
HANDOFF_TWO_FACTOR_REQUIRED = env_bool("HANDOFF_TWO_FACTOR_REQUIRED", True)
OTP_TOTP_ISSUER = "Handoff"
HANDOFF_RECOVERY_CODE_COUNT = 10

# Idle timeout: a session unused for this long is signed out, besides SESSION_COOKIE_AGE
# (the absolute lifetime).
HANDOFF_IDLE_TIMEOUT_SECONDS = env_int("HANDOFF_IDLE_TIMEOUT_SECONDS", 30 * 60)

# Content-Security-Policy (django-csp 4): no inline script or event handler anywhere, the
# Wagtail admin included (its inline scripts are replaced by markers: cms.wagtail_csp); the
# map's tile host is allowed for images when tiles are on. The Wagtail admin (8.0) still writes
# inline styles, so /admin/ adds 'unsafe-inline' to style-src only, and blob: images (previews
# of uploads) (cms.middleware.ContentSecurityPolicyMiddleware).
_csp_images = ["'self'", "data:"]
if SEARCH_MAP_TILE_URL:
    # https://{s}.tile.example.org/{z}/{x}/{y}.png → https://*.tile.example.org
    _tiles = urlsplit(SEARCH_MAP_TILE_URL)
    _csp_images.append(f"{_tiles.scheme}://{_tiles.netloc.replace('{s}', '*')}")
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": ["'self'"],
        "script-src": ["'self'"],
        "style-src": ["'self'"],
        "img-src": _csp_images,
        "font-src": ["'self'"],
        "connect-src": ["'self'"],
        "object-src": ["'none'"],
        "base-uri": ["'self'"],
        "form-action": ["'self'"],
        "frame-ancestors": ["'self'"],
    },
}
HANDOFF_CSP_ADMIN_PREFIX = "/admin/"
HANDOFF_CSP_ADMIN_UPDATE = {
    "style-src": ["'unsafe-inline'"],
    "img-src": ["blob:"],
}
# No third-party requests: Wagtail would send staff e-mail hashes to gravatar.com.
WAGTAIL_GRAVATAR_PROVIDER_URL = None
# --- end sign-in -----------------------------------------------------------------------------

# The Django admin is not routed unless DJANGO_ADMIN_PATH names a (private) prefix.
DJANGO_ADMIN_PATH = env_str("DJANGO_ADMIN_PATH")

# Demo data may be loaded only where this is true (dev and test, never production).
HANDOFF_ALLOW_DEMO_DATA = False

# Reverse proxies (addresses or networks) whose X-Forwarded-For the access log believes: the
# client's address is the first one, from the right, that is not a trusted proxy. Empty: the
# log records REMOTE_ADDR and ignores the header (anyone can write it).
HANDOFF_TRUSTED_PROXIES = env_list("HANDOFF_TRUSTED_PROXIES", [])

# LOG_FORMAT=json: one JSON object a line (cms/logging_json.py), the production default.
LOG_FORMAT = env_str("LOG_FORMAT", "plain")
if LOG_FORMAT not in {"plain", "json"}:
    raise ImproperlyConfigured(f"LOG_FORMAT must be plain or json, got {LOG_FORMAT!r}")
LOGGING: dict[str, Any] = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {
        "plain": {"format": "%(asctime)s %(levelname)s %(name)s [%(request_id)s] %(message)s"},
        "json": {"()": "cms.logging_json.JsonFormatter"},
    },
    "filters": {
        "secret_paths": {"()": "cms.log_filters.SecretPathsRedacted"},
        # Named from cms.request_id, so that every process imports it (Celery tasks: task id).
        "request_id": {"()": "cms.request_id.RequestIdFilter"},
    },
    "handlers": {
        "console": {
            "class": "logging.StreamHandler",
            "formatter": LOG_FORMAT,
            "filters": ["secret_paths", "request_id"],
        }
    },
    "root": {"handlers": ["console"], "level": env_str("LOG_LEVEL", "INFO")},
    "loggers": {
        "django.db.backends": {"level": "WARNING"},
        "django_tasks": {"level": "WARNING"},
    },
}
