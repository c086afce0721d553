#!/usr/bin/env python
"""Django's command-line utility for administrative tasks."""

import sys


def main() -> None:
    from musehub.startup import load_settings_or_exit

    # A misconfigured deployment (DJANGO_DEBUG=0 with the development secret, say) is
    # refused with one line an operator can act on, not a traceback.
    load_settings_or_exit()
    from django.core.management import execute_from_command_line

    execute_from_command_line(sys.argv)


if __name__ == "__main__":
    main()
