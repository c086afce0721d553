"""``manage.py create_repo OWNER NAME [--private] [--description TEXT]``."""

from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.core.management.base import CommandError
from django.db import transaction

from musehub.core.commands import MuseHubCommand, check_text
from musehub.core.errors import ConflictError
from repos_app.models import Visibility
from repos_app.services import repo_create


class Command(MuseHubCommand):
    help = (
        "Create a repo owned by OWNER (an existing user) and print its id as the last line of output. "
        "The repo is public unless --private is given; its slug comes from NAME."
    )
    examples = ('alice "First Album"', 'alice "Unreleased" --private --description "Demos in progress"')

    def add_arguments(self, parser):
        parser.add_argument("owner", help="Username of the owner (must exist; see create_token --create-user).")
        parser.add_argument("name", help="Repo name, up to 100 characters; the slug is derived from it.")
        parser.add_argument("--private", action="store_true", help="Make the repo private (default: public).")
        parser.add_argument("--description", default="", help="A description of the repo.")

    def handle(self, *args, owner: str, name: str, private: bool, description: str, **options):
        check_text(owner, what="The owner's username", max_length=150)
        check_text(name, what="The name", max_length=100)
        check_text(description, what="The description", max_length=10_000, allow_blank=True)
        user = get_user_model().objects.filter(username=owner).first()
        if user is None:
            raise CommandError(f"No user named '{owner}'.")
        try:
            # A savepoint of its own: a refused create leaves an enclosing transaction usable.
            with transaction.atomic():
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
        self.stdout.write(repo["repo_id"])
