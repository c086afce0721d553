from django.apps import AppConfig


class SessionsConfig(AppConfig):
    """Recording sessions: the creative context of a stretch of studio time on a repo."""

    name = "sessions_app"
    verbose_name = "Recording sessions"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from sessions_app import lookups  # noqa: F401  (registers JSONField lookups)
