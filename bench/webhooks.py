"""Webhook deliveries per second with one ``celery -A musehub worker`` (default settings).

Starts a private redis-server, one worker and a loopback receiver answering 204 at once,
records EVENTS events in a repo with HOOKS hooks, and times from the first event's commit
until every delivery is ``delivered``. Uses the database DATABASE_URL names (migrated first).

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/musehub_bench_hooks .venv/bin/python bench/webhooks.py
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "musehub.settings")
os.environ["MUSEHUB_WEBHOOK_ALLOW_PRIVATE"] = "1"

import django

django.setup()

from django.core.management import call_command  # noqa: E402
from django.db import transaction  # noqa: E402

from events_app.models import Delivery  # noqa: E402
from events_app.services import event_record, hook_create  # noqa: E402
from tests.events_app.harness import Receiver, RedisServer, Worker, new_queue, point_celery_at  # noqa: E402
from tests.factories import UserFactory, make_repo  # noqa: E402


def run(hooks: int, events: int) -> float:
    receiver = Receiver(secret="bench-secret-0123456789", behave=lambda path, n: 204)
    owner = UserFactory(username=f"bench-{time.time_ns()}")
    repo = make_repo(owner=owner, visibility="private")
    for n in range(hooks):
        hook_create(repo_id=repo.pk, url=receiver.url(f"/h{n}"), secret="bench-secret-0123456789")
    body = {"sessionId": "0" * 64, "intent": "bench"}
    started = time.monotonic()
    for _ in range(events):
        with transaction.atomic():
            event_record(repo_id=repo.pk, session_id="0" * 64, type="session.updated", actor=None, session=body)
    pending = Delivery.objects.filter(hook__repo_id=repo.pk).exclude(status="delivered")
    while pending.exists():
        time.sleep(0.05)
    seconds = time.monotonic() - started
    receiver.close()
    return hooks * events / seconds


def main() -> None:
    call_command("migrate", verbosity=0)
    redis = RedisServer()
    redis.start()
    queue = new_queue()
    point_celery_at(redis.url, queue)
    worker = Worker(redis.url, queue)
    try:
        worker.start()
        for hooks, events in ((1, 300), (10, 60), (30, 20)):
            rate = run(hooks, events)
            print(f"{hooks:>3} hook(s) x {events:>3} events = {hooks * events:>4} deliveries: {rate:7.1f} deliveries/s")
    finally:
        worker.stop()
        redis.stop()


if __name__ == "__main__":
    main()
