"""What a person sees on a terminal: the two consoles and the progress bars of a run."""

from __future__ import annotations

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    SpinnerColumn,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
)
from rich.text import Text

#: Results go to standard output (so `--json` can be piped); messages and bars to stderr.
out = Console()
err_console = Console(stderr=True)


def say(console: Console, label: str, text: str, *, style: str = "red") -> None:
    """`label` in colour, then `text` exactly as given.

    Messages quote what users wrote (``[connectors.accounting.columns]``, a file name, a
    reason a system gave): as markup, rich would take a bracketed part for a style and drop it.
    """
    console.print(Text.assemble((label, style), " ", text), highlight=False, soft_wrap=True)


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
