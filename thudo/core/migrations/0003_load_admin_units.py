"""Every deployment starts with Vietnam's 34 provinces and 3,321 commune-level units
(vietnam-provinces 2025.10.1). `thudo load_units` refreshes them later."""

from django.db import migrations


def load(apps, schema_editor):
    from vietnam_provinces import Province, Ward

    AdminUnit = apps.get_model("core", "AdminUnit")
    have = set(AdminUnit.objects.values_list("code", flat=True))
    parents = {}
    for p in Province.iter_all():
        code = f"{int(p.code):02d}"
        if code not in have:
            AdminUnit.objects.create(code=code, name=p.name, codename=p.codename,
                                     division_type=p.division_type.value, level="province")
        parents[int(p.code)] = AdminUnit.objects.get(code=code)
    AdminUnit.objects.bulk_create(
        [
            AdminUnit(code=f"{int(w.code):05d}", name=w.name, codename=w.codename,
                      division_type=w.division_type.value, level="commune",
                      parent=parents[int(w.province_code)])
            for w in Ward.iter_all()
            if f"{int(w.code):05d}" not in have
        ],
        batch_size=500,
    )


class Migration(migrations.Migration):
    dependencies = [("core", "0002_audit_append_only")]
    operations = [migrations.RunPython(load, migrations.RunPython.noop)]
