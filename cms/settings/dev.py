"""Development: the embedded default with no services (SQLite, eager tasks, console email)."""

from .base import *  # noqa: F403
from .base import env_bool, env_int, env_list, env_str

DEBUG = env_bool("DEBUG", True)
# A fixed key is acceptable only here: dev settings are never used to serve real data.
SECRET_KEY = env_str("SECRET_KEY") or "dev-only-insecure-key-never-used-in-production"
ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", ["127.0.0.1", "localhost", ".localhost", "testserver"])
EMAIL_BACKEND = env_str("EMAIL_BACKEND", "django.core.mail.backends.console.EmailBackend")
HANDOFF_ALLOW_DEMO_DATA = True
# Links in emails point at the address `make demo` serves (it passes HANDOFF_HOST and PORT).
WAGTAILADMIN_BASE_URL = env_str("WAGTAILADMIN_BASE_URL") or (
    f"http://{env_str('HANDOFF_HOST', '127.0.0.1')}:{env_int('PORT', 8000)}"
)
INSTALLED_APPS = [*INSTALLED_APPS, "demo"]  # noqa: F405 — the demo data and seed_demo
# The demo may follow a feed served by another process on this machine.
HSDS_FEED_ALLOW_PRIVATE_ADDRESSES = env_bool("HSDS_FEED_ALLOW_PRIVATE_ADDRESSES", True)
