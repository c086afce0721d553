"""``manage.py create_repo OWNER NAME [--private] [--description TEXT]``."""

from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError

from musehub.errors import ConflictError
from repos_app.models import Visibility
from repos_app.services import repo_create


class Command(BaseCommand):
    help = "Create a repo owned by OWNER (public unless --private) and print its id (last line of output)."

    def add_arguments(self, parser):
        parser.add_argument("owner", help="Username of the owner (must exist).")
        parser.add_argument("name", help="Repo name; the slug is derived from it.")
        parser.add_argument("--private", action="store_true", help="Make the repo private (default: public).")
        parser.add_argument("--description", default="", help="A description of the repo.")

    def handle(self, *args, owner: str, name: str, private: bool, description: str, **options):
        user = get_user_model().objects.filter(username=owner).first()
        if user is None:
            raise CommandError(f"No user named '{owner}'.")
        try:
            repo = repo_create(
                owner=user,
                name=name,
                visibility=Visibility.PRIVATE if private else Visibility.PUBLIC,
                description=description,
            )
        except ValidationError as exc:
            raise CommandError(" ".join(exc.messages)) from None
        except ConflictError as exc:
            raise CommandError(exc.message) from None
        self.stdout.write(repo.repo_id)
