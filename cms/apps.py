from django.apps import AppConfig


class CmsConfig(AppConfig):
    name = "cms"
    verbose_name = "Site"

    def ready(self) -> None:
        from django.contrib.auth.signals import user_logged_in

        from .middleware import activity_record_at_sign_in

        user_logged_in.connect(activity_record_at_sign_in, dispatch_uid="cms-idle-timeout")
