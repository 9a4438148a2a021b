from django.db import migrations

from cms.categories import SDOH_CATEGORIES, SDOHCC_SYSTEM, SENSITIVE_CATEGORY_CODES


def load(apps, schema_editor):
    SdohCategory = apps.get_model("directory", "SdohCategory")
    for order, (code, display) in enumerate(SDOH_CATEGORIES):
        SdohCategory.objects.update_or_create(
            code=code,
            defaults={"display": display, "system": SDOHCC_SYSTEM, "sort_order": order,
                      "is_sensitive": code in SENSITIVE_CATEGORY_CODES},
        )


class Migration(migrations.Migration):
    dependencies = [("directory", "0001_initial")]
    operations = [migrations.RunPython(load, migrations.RunPython.noop)]
