"""What a person sees: progress bars on a terminal, JSON log lines under a scheduler."""

from __future__ import annotations

import json
import logging
import re
import sys
from contextvars import ContextVar
from datetime import UTC, datetime
from typing import Any

from rich.console import Console
from rich.logging import RichHandler
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    SpinnerColumn,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
)

err_console = Console(stderr=True)

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


class RichProgress:
    """A `ProgressSink` drawing one bar per stage on stderr."""

    def __init__(self, console: Console | None = None) -> None:
        self._progress = Progress(
            SpinnerColumn(), TextColumn("[bold]{task.description:<18}"), BarColumn(),
            MofNCompleteColumn(), TimeElapsedColumn(), console=console or err_console,
            transient=False)
        self._task: TaskID | None = None

    def __enter__(self) -> RichProgress:
        self._progress.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._progress.stop()

    def stage(self, name: str, total: int | None) -> None:
        """Start a bar for the stage (indeterminate when the total is unknown)."""
        self._task = self._progress.add_task(name, total=total)

    def advance(self, n: int = 1) -> None:
        """Move the current bar."""
        if self._task is not None:
            self._progress.advance(self._task, n)

    def done(self) -> None:
        """Finish the current bar at whatever it counted."""
        if self._task is not None:
            task = self._progress.tasks[self._task]
            self._progress.update(self._task, total=task.completed or 1,
                                  completed=task.completed or 1)
            self._task = None


class JsonLines(logging.Formatter):
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


def setup_logging(*, debug: bool) -> None:
    """Rich on a terminal, JSON lines otherwise; INFO by default, DEBUG with --debug."""
    root = logging.getLogger()
    root.handlers.clear()
    if sys.stderr.isatty():
        handler: logging.Handler = RichHandler(console=err_console, show_path=False)
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
