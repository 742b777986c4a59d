"""Log lines: readable on a terminal, JSON under a scheduler, never a person's data at INFO.

Every part of hub logs through the standard `logging` module; this module decides how those
lines look and what they may contain, so a scheduler's journal can be shipped and kept without
carrying people's addresses. A traceback keeps its frames but not the messages of exceptions
hub did not raise on purpose: a database error quotes the row it choked on (PostgreSQL's
"Key (email)=(…)", a plugin's KeyError the record), and names or phone numbers cannot be
recognised reliably enough to mask.
"""

from __future__ import annotations

import json
import logging
import re
import sys
import traceback
from contextvars import ContextVar
from datetime import UTC, datetime
from typing import Any

from rich.console import Console
from rich.logging import RichHandler

from hub.errors import HubError

_STANDARD = set(logging.LogRecord("", 0, "", 0, "", (), None).__dict__) | {"message"}

#: Fields every log line of the current run carries (run_id, pipeline); each scheduler
#: thread has its own context, so concurrent pipelines never mix their fields.
log_context: ContextVar[dict[str, Any]] = ContextVar("hub_log_context", default={})  # noqa: B039

_EMAIL = re.compile(r"([A-Za-z0-9._%+-])[A-Za-z0-9._%+-]*@([A-Za-z0-9-]+\.)+[A-Za-z]{2,}")


def mask_emails(text: str) -> str:
    """'anna.schmidt@example.de' → 'a***@***': enough to tell lines apart, not to identify."""
    return _EMAIL.sub(lambda m: f"{m.group(1)}***@***", text)


class PersonalData(logging.Filter):
    """No e-mail address in the logs: masked at INFO and above always, at DEBUG by default.

    ``[hub] log_emails = true`` (for a debugging session) shows addresses at DEBUG only.
    """

    reveal_at_debug = False

    def filter(self, record: logging.LogRecord) -> bool:
        """Mask addresses in the message and in string extras; never drops a record."""
        if record.levelno <= logging.DEBUG and self.reveal_at_debug:
            return True
        try:
            message = record.getMessage()
        except Exception:  # a malformed log call is logging's to report, not ours to crash on
            return True
        masked = mask_emails(message)
        if masked != message:
            record.msg, record.args = masked, None
        for key, value in list(record.__dict__.items()):
            if key not in _STANDARD and isinstance(value, str):
                record.__dict__[key] = mask_emails(value)
        return True


def safe_traceback(exc: BaseException) -> str:
    """The traceback with every frame, but only the messages hub wrote on purpose.

    A `HubError`'s message is written for users (and masked like any line); any other
    exception shows its type only, its message may quote a record.
    """
    lines: list[str] = []
    seen: set[int] = set()
    chain: list[BaseException] = []
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        chain.append(current)
        current = current.__cause__ or (None if current.__suppress_context__
                                        else current.__context__)
    for i, error in enumerate(reversed(chain)):
        if i:
            lines.append("\nThe above exception led to the following one:\n")
        lines.append("Traceback (most recent call last):")
        lines.extend(line.rstrip("\n") for line in
                     traceback.format_list(traceback.extract_tb(error.__traceback__)))
        kind = f"{type(error).__module__}.{type(error).__qualname__}"
        if isinstance(error, HubError):
            lines.append(f"{kind}: {mask_emails(str(error))}")
        else:
            lines.append(f"{kind} (message withheld: it may quote personal data)")
    return "\n".join(lines)


personal_data = PersonalData()


class Context(logging.Filter):
    """Adds the current run's fields (and the connector of a connector's logger)."""

    def filter(self, record: logging.LogRecord) -> bool:
        """Never drops a record."""
        for key, value in log_context.get().items():
            record.__dict__.setdefault(key, value)
        if record.name.startswith("hub.connector."):
            record.__dict__.setdefault("connector", record.name.removeprefix("hub.connector."))
        return True


class Redacting(logging.Formatter):
    """Tracebacks as `safe_traceback` writes them: frames, and only hub's own messages.

    Done by the formatter, not a filter: the record stays whole for any other handler a
    deployment adds (and for tests that inspect it).
    """

    def formatException(self, ei: Any) -> str:
        """The traceback without foreign exceptions' messages."""
        return safe_traceback(ei[1]) if ei and ei[1] is not None else ""


class JsonLines(Redacting):
    """One JSON object per log record: what log shippers and the scheduler's journal want."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(),
            "level": record.levelname.lower(),
            "logger": record.name,
            "msg": record.getMessage(),
        }
        entry.update({k: v for k, v in record.__dict__.items() if k not in _STANDARD})
        if record.exc_info:
            entry["exc"] = self.formatException(record.exc_info)
        return json.dumps(entry, default=str)


def setup_logging(*, debug: bool, console: Console | None = None) -> None:
    """Rich on a terminal (drawn on `console`), JSON lines otherwise; DEBUG with --debug."""
    root = logging.getLogger()
    root.handlers.clear()
    if sys.stderr.isatty():
        handler: logging.Handler = RichHandler(console=console or Console(stderr=True),
                                                show_path=False)
        handler.setFormatter(Redacting())
    else:
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(JsonLines())
    handler.addFilter(Context())
    handler.addFilter(personal_data)
    root.addHandler(handler)
    root.setLevel(logging.DEBUG if debug else logging.WARNING)
    logging.getLogger("hub").setLevel(logging.DEBUG if debug else logging.INFO)
    for noisy in ("httpx", "httpcore", "alembic", "uvicorn"):
        logging.getLogger(noisy).setLevel(logging.DEBUG if debug else logging.WARNING)
