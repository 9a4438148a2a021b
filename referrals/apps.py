from django.apps import AppConfig


class ReferralsConfig(AppConfig):
    name = "referrals"
    verbose_name = "Referrals"

    def ready(self) -> None:
        # Imported here: the receivers need the app registry, which is ready only now.
        from consent.signals import consent_revoked

        from .services.transitions import referrals_consent_revoked

        consent_revoked.connect(referrals_consent_revoked, dispatch_uid="referrals-consent-revoked")
