"""``manage.py seed_demo``: a demo user, a token, repos and sessions for the quickstart."""

from datetime import timedelta

from django.contrib.auth import get_user_model
from django.db import transaction
from django.utils import timezone
from knox.models import AuthToken

from musehub.core.commands import MuseHubCommand
from repos_app.models import Repo, Visibility
from repos_app.services import repo_create
from sessions_app.services import session_create, session_stop

DEMO_USER = "demo"
DEMO_REPOS = [
    ("Demo Album", Visibility.PUBLIC, "Songs for the quickstart."),
    ("Secret Sketches", Visibility.PRIVATE, "Unreleased ideas: only demo can see these."),
]


class Command(MuseHubCommand):
    help = (
        "Create the demo user 'demo' with a public and a private repo holding a few sessions "
        "(once; running it again only issues a new token), then print a new API token as "
        "the last word of the last line. `make run` runs it before serving."
    )
    examples = ("",)

    @transaction.atomic
    def handle(self, *args, **options):
        user, created = get_user_model().objects.get_or_create(username=DEMO_USER)
        if created:
            self.stdout.write(f"Created user '{DEMO_USER}'.")
        for name, visibility, description in DEMO_REPOS:
            repo_id = Repo.objects.filter(owner=user, name=name).values_list("repo_id", flat=True).first()
            if repo_id is None:
                repo_id = repo_create(owner=user, name=name, visibility=visibility, description=description)["repo_id"]
                self._add_sessions(repo_id, user)
                self.stdout.write(f"Created {visibility} repo '{name}': {repo_id}")
            else:
                self.stdout.write(f"Repo '{name}' exists: {repo_id}")
        _, token = AuthToken.objects.create(user=user)
        self.stdout.write(f"Demo API token (shown once): {token}")

    @staticmethod
    def _add_sessions(repo_id: str, user) -> None:
        now = timezone.now().replace(microsecond=0)
        for days_ago, intent in [(3, "Sketch the verse"), (2, "Record drums"), (1, "Write the chorus")]:
            started = now - timedelta(days=days_ago)
            session, _ = session_create(
                repo_id=repo_id,
                author=user,
                started_at=started,
                participants=[user.username, "bandmate"],
                intent=intent,
                location="Home studio",
            )
            session_stop(repo_id=repo_id, session_id=session["session_id"], ended_at=started + timedelta(hours=2))
        session_create(repo_id=repo_id, author=user, participants=[user.username], intent="Mix the single")
