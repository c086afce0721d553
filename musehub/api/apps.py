from django.apps import AppConfig


class ApiConfig(AppConfig):
    """The HTTP layer; an app only for the migration of the throttle counters' table."""

    name = "musehub.api"
    label = "musehub_api"
    verbose_name = "API"
