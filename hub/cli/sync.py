"""`hub sync`: one run, with progress bars on a terminal and a report after."""

from __future__ import annotations

import sys
from typing import Annotated

import typer

from hub.cli.app import ConfigOption, JsonOption, app, fail, load_runtime, print_json
from hub.cli.render import print_summary
from hub.cli.screen import RichProgress
from hub.config import DEFAULT_PATH
from hub.errors import HubError


@app.command()
def sync(config: ConfigOption = DEFAULT_PATH,
         plan: Annotated[bool, typer.Option("--plan", help="Read and decide; write nothing "
                                            "to any system.")] = False,
         full: Annotated[bool, typer.Option("--full", help="Ignore cursors; read everything.")]
         = False,
         connector: Annotated[list[str] | None, typer.Option(
             "--connector", help="Only this connector (repeatable).")] = None,
         wait: Annotated[bool, typer.Option(
             "--wait", help="When another run writes to the store, wait for it instead of "
                            "exiting with code 4.")] = False,
         as_json: JsonOption = False) -> None:
    """Run one sync: read every system, merge, decide, write back."""
    from hub.pipeline.engine import SyncOptions
    from hub.pipeline.engine import sync as run_sync
    from hub.pipeline.progress import Lines

    runtime = load_runtime(config)
    options = SyncOptions(plan=plan, full=full, connectors=connector, wait=wait,
                          on_wait=_say)
    try:
        if sys.stderr.isatty() and not as_json:
            with RichProgress() as progress:
                summary = run_sync(runtime, options, progress)
        elif not as_json:  # a log file or a pipe: plain lines, so a slow system is visible
            summary = run_sync(runtime, options, Lines(_say))
        else:
            summary = run_sync(runtime, options)
    except HubError as exc:
        fail(exc)
    if as_json:
        print_json(summary.as_dict())
    else:
        print_summary(summary)
    raise typer.Exit(summary.exit_code)


def _say(line: str) -> None:
    """One line on stderr, flushed at once (a pipe would otherwise hold it back)."""
    sys.stderr.write(f"hub sync: {line}\n")
    sys.stderr.flush()
