"""gunicorn.conf.py's logger: gunicorn's own, minus the access line's work when nobody logs it.

Each check runs in a fresh interpreter: gunicorn's logger applies ``logconfig_dict`` to the
process's logging, which the test process must keep as it is.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent.parent

# Loads gunicorn.conf.py as gunicorn does, makes its logger, then serves one made-up request
# through Logger.access; prints whether the access line was built and what was logged.
PROBE = """
import io, json, logging, sys
from types import SimpleNamespace
from gunicorn.app.base import Application

class App(Application):
    def init(self, parser, opts, args):
        pass
    def load(self):
        pass

app = App()
app.load_config_from_file("gunicorn.conf.py")
logger = app.cfg.logger_class(app.cfg)
if sys.argv[1] == "info":
    logging.getLogger("gunicorn.access").setLevel(logging.INFO)
out = io.StringIO()
handler = logging.StreamHandler(out)
logging.getLogger("gunicorn.access").addHandler(handler)
built = []
atoms = logger.atoms
logger.atoms = lambda *args: built.append(1) or atoms(*args)
request = SimpleNamespace(method="GET", path="/healthz", query="", version=(1, 1), headers=[("HOST", "x")])
response = SimpleNamespace(status="200 OK", headers=[("Content-Type", "text/plain")], sent=2, status_code=200)
environ = {"REMOTE_ADDR": "127.0.0.1", "REQUEST_METHOD": "GET", "RAW_URI": "/healthz", "SERVER_PROTOCOL": "HTTP/1.1"}
from datetime import timedelta
logger.access(response, request, environ, timedelta(milliseconds=3))
print(json.dumps({"class": type(logger).__name__, "enabled": logger.access_log_enabled,
                  "built": bool(built), "logged": out.getvalue()}))
"""


def _probe(level: str) -> dict:
    done = subprocess.run(
        [sys.executable, "-c", PROBE, level], cwd=ROOT, capture_output=True, text=True, timeout=60, check=True
    )
    return json.loads(done.stdout.strip().splitlines()[-1])


def test_the_access_line_gunicorn_would_drop_is_not_built() -> None:
    """gunicorn.conf.py keeps ``gunicorn.access`` at CRITICAL (Django's access log has each
    request, with its id): gunicorn must not spend a request's time building the line."""
    seen = _probe("shipped")
    assert seen == {"class": "QuietAccessLogger", "enabled": False, "built": False, "logged": ""}


def test_an_operator_who_turns_gunicorn_s_access_log_on_gets_its_lines() -> None:
    seen = _probe("info")
    assert seen["enabled"] is True
    assert seen["built"] is True
    assert '"GET /healthz HTTP/1.1" 200' in seen["logged"]
