from django.apps import AppConfig

from consent.signals import consent_revoked
from network.workspace_panels import workspace_panel_register


class ReferralsConfig(AppConfig):
    name = "referrals"
    verbose_name = "Referrals"

    def ready(self) -> None:
        # The services import models: only now is the app registry ready for them.
        from .services.transitions import referrals_consent_revoked
        from .workspace import workspace_panel

        consent_revoked.connect(referrals_consent_revoked, dispatch_uid="referrals-consent-revoked")
        workspace_panel_register("referrals", workspace_panel)
