"""The log's look-up of an entry by its leaf hash (`proof/inclusion?hash=…`): an index on
LogEntry.leaf_hash. Plain SQL, so the model's state (owned by models.py) does not change."""

from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [("exchange", "0001_initial")]

    operations = [
        migrations.RunSQL(
            sql="CREATE INDEX ex_log_leaf_hash ON exchange_logentry (leaf_hash)",
            reverse_sql="DROP INDEX ex_log_leaf_hash",
        )
    ]
