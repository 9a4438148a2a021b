from django.apps import AppConfig


class NetworkConfig(AppConfig):
    name = "network"
    verbose_name = "Network"

    def ready(self) -> None:
        from django.contrib.auth.signals import user_logged_in

        from .two_factor import enrolment_note_at_sign_in

        user_logged_in.connect(enrolment_note_at_sign_in, dispatch_uid="network-two-factor")

        from django.db.models.signals import post_delete, post_save
        from wagtail.models import Site

        from .middleware import site_networks_changed
        from .models import Network

        for model in (Site, Network):
            for signal in (post_save, post_delete):
                signal.connect(
                    site_networks_changed,
                    sender=model,
                    dispatch_uid=f"site-networks-{model.__name__}-{signal is post_save}",
                )
