"""The events admin: read-only hooks (the secret never shown) and deliveries, and Redeliver."""

from __future__ import annotations

import pytest
from django.urls import reverse

from events_app.models import Delivery, Hook
from events_app.services import hook_create
from tests.events_app.conftest import SECRET, quiet_session, record

pytestmark = pytest.mark.django_db


@pytest.fixture
def hook(repo, allow_private) -> Hook:
    return hook_create(repo_id=repo.pk, url="http://127.0.0.1:9/receiver", secret=SECRET)


def test_no_admin_page_shows_the_secret(admin_client, repo, hook) -> None:
    record(quiet_session(repo))
    delivery = Delivery.objects.get()
    pages = [
        reverse("admin:events_app_hook_changelist"),
        reverse("admin:events_app_hook_change", args=[hook.pk]),
        reverse("admin:events_app_delivery_changelist"),
        reverse("admin:events_app_delivery_change", args=[delivery.pk]),
        reverse("admin:events_app_event_changelist"),
        reverse("admin:repos_app_repo_change", args=[repo.pk]),
    ]
    for url in pages:
        response = admin_client.get(url)
        assert response.status_code == 200, url
        html = response.content.decode()
        assert SECRET not in html
        assert hook.secret_encrypted not in html
    assert "http://127.0.0.1:9/receiver" in admin_client.get(pages[1]).content.decode()


def test_hooks_deliveries_and_events_are_read_only(admin_client, repo, hook) -> None:
    change = reverse("admin:events_app_hook_change", args=[hook.pk])
    admin_client.post(change, {"url": "http://127.0.0.1:9/elsewhere", "active": ""})
    hook.refresh_from_db()
    assert (hook.url, hook.active) == ("http://127.0.0.1:9/receiver", True)
    assert admin_client.get(reverse("admin:events_app_hook_add")).status_code == 403
    assert admin_client.get(reverse("admin:events_app_hook_delete", args=[hook.pk])).status_code == 403
    assert admin_client.get(reverse("admin:events_app_delivery_add")).status_code == 403


def test_redeliver_action_queues_one_more_attempt(admin_client, repo, hook) -> None:
    record(quiet_session(repo))
    delivery = Delivery.objects.get()
    Delivery.objects.filter(pk=delivery.pk).update(status="failed", attempts=3)
    response = admin_client.post(
        reverse("admin:events_app_delivery_changelist"),
        {"action": "redeliver", "_selected_action": [delivery.pk]},
        follow=True,
    )
    assert "Queued 1 delivery(ies) for one more attempt." in response.content.decode()
    delivery.refresh_from_db()
    assert (delivery.status, delivery.attempts, delivery.max_attempts) == ("pending", 3, 4)
