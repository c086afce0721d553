"""Structured logging: one JSON object per line, tagged with the request id."""

from __future__ import annotations

import contextvars
import json
import logging
from datetime import UTC, datetime

#: The id of the request this thread is serving (set by ``RequestIdMiddleware``).
current_request_id: contextvars.ContextVar[str | None] = contextvars.ContextVar("current_request_id", default=None)

# Attributes every LogRecord has; anything else was passed with ``extra=`` and is logged.
_STANDARD_ATTRS = set(vars(logging.LogRecord("", 0, "", 0, "", None, None))) | {"message", "asctime"}
# Never log these, even if a caller passes them in ``extra``.
_SECRET_KEYS = {"authorization", "token", "password", "secret", "cookie", "request"}


class RequestIdFilter(logging.Filter):
    """Attach the current request id to every record."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.request_id = current_request_id.get()
        return True


class JsonFormatter(logging.Formatter):
    """Format a record as a single JSON line."""

    def format(self, record: logging.LogRecord) -> str:
        entry = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat().replace("+00:00", "Z"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
            # Which gunicorn worker wrote it: tells workers' lines apart in one stream.
            "pid": record.process,
        }
        for key, value in vars(record).items():
            if key in _STANDARD_ATTRS or key.lower() in _SECRET_KEYS:
                continue
            entry[key] = value if isinstance(value, (str, int, float, bool, type(None))) else str(value)
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return json.dumps(entry, ensure_ascii=False)
