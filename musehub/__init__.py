"""MuseHub Sessions: the project package. ``celery_app`` is what ``celery -A musehub`` loads."""

from musehub.celery import app as celery_app

__all__ = ("celery_app",)
