from django.apps import AppConfig


class ReposConfig(AppConfig):
    """Muse repositories, their collaborators and who may do what with them."""

    name = "repos_app"
    verbose_name = "Repositories"
    default_auto_field = "django.db.models.BigAutoField"
