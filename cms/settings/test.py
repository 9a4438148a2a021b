"""Test settings: the embedded default unless DATABASE_URL points at PostgreSQL."""

from .base import *  # noqa: F403
from .base import DATABASES, VAR_DIR, env_bool, env_str

DEBUG = False
SECRET_KEY = "test-only-key-not-secret"
ALLOWED_HOSTS = ["testserver", "localhost", "127.0.0.1", ".localhost"]
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
EMAIL_BACKEND = env_str("EMAIL_BACKEND", "django.core.mail.backends.locmem.EmailBackend")
CELERY_TASK_ALWAYS_EAGER = True
CELERY_BROKER_URL = env_str("CELERY_BROKER_URL", "redis://127.0.0.1:6379/15")
HANDOFF_ALLOW_DEMO_DATA = True
WAGTAILADMIN_BASE_URL = "http://testserver"
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.InMemoryStorage"},
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
    "private": {"BACKEND": "django.core.files.storage.InMemoryStorage"},
}

if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # A file, not :memory:, so that a separate Celery worker process can open the test database.
    DATABASES["default"]["TEST"] = {"NAME": str(VAR_DIR / "test.sqlite3")}
INSTALLED_APPS = [*INSTALLED_APPS, "demo"]  # noqa: F405 — the demo data and seed_demo
# No map tiles from the internet in tests (the Content-Security-Policy still names the default
# tile host, for the browser tests that turn them on and answer the requests themselves).
SEARCH_MAP_TILES = env_bool("SEARCH_MAP_TILES", False)
# The feed tests serve their HSDS APIs from this machine, and do not wait between retries.
HSDS_FEED_ALLOW_PRIVATE_ADDRESSES = True
HSDS_FEED_BACKOFF_SECONDS = 0.0
