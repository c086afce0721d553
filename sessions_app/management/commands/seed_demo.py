"""``manage.py seed_demo``: a demo user, a token, repos and sessions for the quickstart."""

from datetime import timedelta

from django.contrib.auth import get_user_model
from django.db import transaction
from django.utils import timezone
from knox.models import AuthToken

from repos_app.management.commands._base import MuseHubCommand
from repos_app.models import Repo, Visibility
from repos_app.services import repo_create
from sessions_app.services import stop_session, upsert_session

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
            repo = Repo.objects.filter(owner=user, name=name).first()
            if repo is None:
                repo = repo_create(owner=user, name=name, visibility=visibility, description=description)
                self._add_sessions(repo, user)
                self.stdout.write(f"Created {visibility} repo '{name}': {repo.repo_id}")
            else:
                self.stdout.write(f"Repo '{name}' exists: {repo.repo_id}")
        _, token = AuthToken.objects.create(user=user)
        self.stdout.write(f"Demo API token (shown once): {token}")

    @staticmethod
    def _add_sessions(repo, user) -> None:
        now = timezone.now().replace(microsecond=0)
        for days_ago, intent in [(3, "Sketch the verse"), (2, "Record drums"), (1, "Write the chorus")]:
            started = now - timedelta(days=days_ago)
            session, _ = upsert_session(
                repo_id=repo.pk,
                author=user,
                started_at=started,
                participants=[user.username, "bandmate"],
                intent=intent,
                location="Home studio",
            )
            stop_session(repo_id=repo.pk, session_id=session.pk, ended_at=started + timedelta(hours=2))
        upsert_session(repo_id=repo.pk, author=user, participants=[user.username], intent="Mix the single")
