"""What a person sees: progress bars on a terminal, JSON log lines under a scheduler."""

from __future__ import annotations

import json
import logging
import sys
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
    root.addHandler(handler)
    root.setLevel(logging.DEBUG if debug else logging.WARNING)
    logging.getLogger("hub").setLevel(logging.DEBUG if debug else logging.INFO)
    for noisy in ("httpx", "httpcore", "alembic", "uvicorn"):
        logging.getLogger(noisy).setLevel(logging.DEBUG if debug else logging.WARNING)
