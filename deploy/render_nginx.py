"""Render ``deploy/nginx.conf`` for one host: its ``${MUSEHUB_*}`` placeholders filled in.

    python deploy/render_nginx.py --listen 80 --server-name hub.example.com \\
        --upstream unix:/run/musehub/gunicorn.sock --static-root /srv/musehub/staticfiles \\
        > /etc/nginx/conf.d/musehub.conf

Only the ``${MUSEHUB_*}`` names are replaced (nginx's own ``$host``, ``$scheme`` stay), the
same as ``envsubst '${MUSEHUB_LISTEN} ${MUSEHUB_SERVER_NAME} ${MUSEHUB_UPSTREAM}
${MUSEHUB_STATIC_ROOT}' < deploy/nginx.conf`` would do.
"""

from __future__ import annotations

import argparse
import string
import sys
from pathlib import Path

TEMPLATE = Path(__file__).resolve().with_name("nginx.conf")


def render(*, listen: str, upstream: str, static_root: str | Path, server_name: str = "_") -> str:
    """The configuration text, every placeholder filled in (``ValueError`` for a bad value)."""
    values = {
        "MUSEHUB_LISTEN": listen,
        "MUSEHUB_UPSTREAM": upstream,
        # nginx's alias wants an absolute path; a relative one means from here.
        "MUSEHUB_STATIC_ROOT": str(Path(static_root).absolute()).rstrip("/"),
        "MUSEHUB_SERVER_NAME": server_name,
    }
    for name, value in values.items():
        # Each value is one nginx token: whitespace, quotes, braces or ';' would change the config.
        if not value or any(c.isspace() or c in ";{}'\"$#" for c in value):
            raise ValueError(f"{name} must be one word without ; {{ }} quotes, $ or #: {value!r}")
    text = string.Template(TEMPLATE.read_text()).safe_substitute(values)
    if "${MUSEHUB_" in text:  # a placeholder this script does not know: fail, never guess
        raise ValueError("deploy/nginx.conf has a placeholder render_nginx.py does not fill")
    return text


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--listen", default="80", help="nginx `listen` value: a port or address:port (default 80)")
    parser.add_argument(
        "--upstream",
        default="unix:/run/musehub/gunicorn.sock",
        help="where gunicorn listens: unix:/path or 127.0.0.1:8000 (default unix:/run/musehub/gunicorn.sock)",
    )
    parser.add_argument("--static-root", required=True, help="STATIC_ROOT, where collectstatic put the assets")
    parser.add_argument("--server-name", default="_", help="the host name served (default _: any)")
    args = parser.parse_args(argv)
    try:
        text = render(
            listen=args.listen, upstream=args.upstream, static_root=args.static_root, server_name=args.server_name
        )
    except ValueError as exc:
        parser.error(str(exc))
    sys.stdout.write(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
