"""``manage.py create_token USERNAME [--create-user]``: issue an API token."""

from django.contrib.auth import get_user_model
from django.core.management.base import CommandError
from knox.models import AuthToken

from musehub.core.commands import MuseHubCommand, check_text


class Command(MuseHubCommand):
    help = (
        "Issue a new API token for USERNAME and print it as the last line of output. "
        "The token is shown only this once (it is stored as a hash); send it as "
        "'Authorization: Bearer <token>'. Run it again for another token: each one can be revoked on its own."
    )
    examples = ("alice", "newcomer --create-user")

    def add_arguments(self, parser):
        parser.add_argument("username", help="The user the token belongs to.")
        parser.add_argument(
            "--create-user", action="store_true", help="Create the user first if there is none by that name."
        )

    def handle(self, *args, username: str, create_user: bool, **options):
        check_text(username, what="The username", max_length=150)
        User = get_user_model()
        user = User.objects.filter(username=username).first()
        if user is None:
            if not create_user:
                raise CommandError(f"No user named '{username}' (pass --create-user to create one).")
            user = User.objects.create_user(username=username)
            self.stderr.write(f"Created user '{username}'.")
        _, token = AuthToken.objects.create(user=user)
        self.stdout.write(token)
