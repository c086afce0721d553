from django.apps import AppConfig


class EventsAppConfig(AppConfig):
    """The numbered event log of session changes, and the webhooks that carry it out."""

    name = "events_app"
    verbose_name = "Events and webhooks"
    default_auto_field = "django.db.models.BigAutoField"
