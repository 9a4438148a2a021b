from django.apps import AppConfig


class NetworkConfig(AppConfig):
    name = "network"
    verbose_name = "Network"

    def ready(self) -> None:
        from django.contrib.auth.signals import user_logged_in

        from .two_factor import enrolment_note_at_sign_in

        user_logged_in.connect(enrolment_note_at_sign_in, dispatch_uid="network-two-factor")
