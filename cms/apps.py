from typing import Any

from django.apps import AppConfig
from django.core.checks import Error, register
from django.db.backends.signals import connection_created
from django.db.models.signals import post_migrate


class CmsConfig(AppConfig):
    name = "cms"
    verbose_name = "Site"

    def ready(self) -> None:
        from django.contrib.auth.signals import user_logged_in

        from .append_only import append_only_reinstall, sqlite_function_register
        from .middleware import activity_record_at_sign_in
        from .storage import documents_private
        from .wagtail_csp import install as admin_inline_scripts_replace

        documents_private()
        admin_inline_scripts_replace()

        connection_created.connect(sqlite_function_register, dispatch_uid="handoff_append_only")
        # Sent once per migrate for this app, after every app's migrations ran.
        post_migrate.connect(append_only_reinstall, sender=self, dispatch_uid="handoff_append_only")
        register(trusted_proxies_check)
        user_logged_in.connect(activity_record_at_sign_in, dispatch_uid="cms-idle-timeout")


def trusted_proxies_check(app_configs: Any = None, **kwargs: Any) -> list[Error]:
    """HANDOFF_TRUSTED_PROXIES must name addresses or networks (else no request could log)."""
    from .client_address import trusted_proxies

    try:
        trusted_proxies()
    except (TypeError, ValueError) as exc:
        return [Error(f"HANDOFF_TRUSTED_PROXIES: {exc}", id="handoff.E101")]
    return []
