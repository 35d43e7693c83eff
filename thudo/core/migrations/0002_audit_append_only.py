"""The database itself refuses to change or delete audit rows (SQLite and PostgreSQL)."""

from django.db import migrations

from thudo.core import dbguard


def install(apps, schema_editor):
    for sql in dbguard.CREATE.get(schema_editor.connection.vendor, []):
        schema_editor.execute(sql)


def remove(apps, schema_editor):
    for sql in dbguard.DROP.get(schema_editor.connection.vendor, []):
        schema_editor.execute(sql)


class Migration(migrations.Migration):
    dependencies = [("core", "0001_initial")]

    operations = [migrations.RunPython(install, remove)]
