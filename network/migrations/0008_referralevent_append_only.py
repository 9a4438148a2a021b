"""A referral's timeline refuses UPDATE and DELETE in the database itself (see cms.append_only)."""

from django.db import migrations

from cms.append_only import append_only_operation


class Migration(migrations.Migration):

    dependencies = [
        ('network', '0007_network_collection'),
    ]

    operations = [
        append_only_operation('network_referralevent'),
    ]
