from django.apps import AppConfig


class CoreConfig(AppConfig):
    """Shared infrastructure (an app so that it can own the cache table's migration)."""

    name = "musehub.core"
    label = "core"
    verbose_name = "MuseHub core"
