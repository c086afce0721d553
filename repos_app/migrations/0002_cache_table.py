"""Once created the database cache table; that moved to ``musehub.core`` (its 0001), which
owns shared infrastructure. Kept, empty, so databases migrated before the move and new
ones share one history (``createcachetable`` leaves an existing table alone)."""

from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [("repos_app", "0001_initial")]

    operations = []
