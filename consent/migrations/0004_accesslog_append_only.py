"""The access log refuses UPDATE and DELETE in the database itself (see cms.append_only)."""

from django.db import migrations

from cms.append_only import append_only_operation


class Migration(migrations.Migration):

    dependencies = [
        ('consent', '0003_signed_forms_private'),
    ]

    operations = [
        append_only_operation('consent_accesslog'),
    ]
