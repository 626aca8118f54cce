"""Structured logs: one JSON object per line on stderr, so operators can grep and ship them as is.

Use `log_event(logger, "event_name", key=value, ...)`; call `configure_logging()` once in an entry
point. Everything that logs through the standard `logging` module (uvicorn included) comes out in the
same shape.
"""

from __future__ import annotations

import json
import logging
import sys
from typing import Any


class JsonFormatter(logging.Formatter):
    """Renders a record as `{"ts", "level", "logger", "event", **fields}` on a single line."""

    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, Any] = {
            "ts": round(record.created, 3),
            "level": record.levelname.lower(),
            "logger": record.name,
            "event": record.getMessage(),
        }
        line.update(getattr(record, "fields", {}))
        if record.exc_info:
            line["exc"] = self.formatException(record.exc_info)
        return json.dumps(line, default=str)


def configure_logging(level: str | int = logging.INFO) -> None:
    """Routes every logger to one stderr handler with the JSON formatter."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)


def log_event(logger: logging.Logger, event: str, level: int = logging.INFO, **fields: Any) -> None:
    logger.log(level, event, extra={"fields": fields})
