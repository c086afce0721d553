"""Streamed answers (exports) that outlive the worker timeout while they make progress.

gunicorn's sync worker tells its master it is alive between requests only: a response
streaming for longer than ``GUNICORN_TIMEOUT`` (30 s; a million-session export takes
longer) would be killed mid-stream as if it hung. ``gunicorn.conf.py`` hands each worker's
heartbeat to ``set_heartbeat``; a stream wrapped in ``with_heartbeat`` beats once per
chunk it has written. A stream that stops making progress (a client that stops reading,
a database that stops answering) stops beating, and the timeout still applies to it.
Outside gunicorn (tests, ``runserver``) the heartbeat does nothing.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator

_heartbeat: Callable[[], None] = lambda: None  # noqa: E731


def set_heartbeat(beat: Callable[[], None]) -> None:
    """Called once per worker (gunicorn's ``post_worker_init``) with ``worker.notify``."""
    global _heartbeat
    _heartbeat = beat


def with_heartbeat(chunks: Iterable[bytes]) -> Iterator[bytes]:
    """``chunks``, telling the worker's master after each one that the worker is alive."""
    for chunk in chunks:
        yield chunk
        _heartbeat()
