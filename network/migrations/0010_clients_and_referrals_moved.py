# The referral loop's models moved to ``referrals`` (its 0001) with their tables and rows: they
# leave ``network``'s state only; no table is dropped.

from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [
        ("network", "0009_invitation_and_membership_last_used"),
        ("consent", "0006_clients_and_referrals_moved"),
        ("referrals", "0001_initial"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.DeleteModel(name="Notification"),
                migrations.DeleteModel(name="ReferralEvent"),
                migrations.DeleteModel(name="Referral"),
                migrations.DeleteModel(name="Screening"),
                migrations.DeleteModel(name="Client"),
            ],
        ),
    ]
