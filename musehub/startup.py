"""Refusing to start: the one way ``manage.py`` and gunicorn stop on a bad configuration.

The settings raise ``ImproperlyConfigured`` for a configuration that must not serve
(``musehub.settings.refuse_unsafe_start``, a malformed variable). Each entry point calls
``load_settings_or_exit()`` before doing anything else, so an operator sees one line,
``Error: refusing to start: ...``, and a non-zero exit, not a traceback, and no worker
boots and no table is touched.
"""

from __future__ import annotations

import os
import sys

#: Exit status of a refused start (2, like a usage error).
REFUSED = 2


def load_settings_or_exit() -> None:
    """Load (and so check) Django's settings; on a refusal print one line and exit."""
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "musehub.settings")
    from django.conf import settings
    from django.core.exceptions import ImproperlyConfigured

    try:
        settings.INSTALLED_APPS  # noqa: B018 - loads (and so checks) the settings now
    except ImproperlyConfigured as exc:
        message = " ".join(str(exc).split())
        sys.stderr.write(f"Error: refusing to start: {message}\n")
        sys.stderr.flush()
        # os._exit: leave at once, whatever handlers the caller (gunicorn's arbiter) has
        # around this hook; nothing needs cleaning up this early.
        os._exit(REFUSED)
