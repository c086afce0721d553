"""Create the database cache table, so throttling works after a plain ``migrate``.

Without ``REDIS_URL`` the shared cache is the database; Django creates its table only
with ``createcachetable``, which an operator (or a test harness) may never run.
"""

from django.core.management import call_command
from django.db import migrations


def create_cache_table(apps, schema_editor):
    call_command("createcachetable", database=schema_editor.connection.alias, verbosity=0)


class Migration(migrations.Migration):
    initial = True
    dependencies = []

    operations = [migrations.RunPython(create_cache_table, migrations.RunPython.noop)]
