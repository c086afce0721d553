#!/usr/bin/env python
"""Django's command-line utility for administrative tasks."""

import os
import sys


def main() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "musehub.settings")
    from django.conf import settings
    from django.core.exceptions import ImproperlyConfigured
    from django.core.management import execute_from_command_line

    try:
        settings.INSTALLED_APPS  # noqa: B018 - loads (and so checks) the settings now
    except ImproperlyConfigured as exc:
        # A misconfigured deployment (say DJANGO_DEBUG=0 with the development secret) is
        # refused with one line an operator can act on, not a traceback.
        message = " ".join(str(exc).split())
        sys.stderr.write(f"Error: refusing to start: {message}\n")
        sys.exit(2)
    execute_from_command_line(sys.argv)


if __name__ == "__main__":
    main()
