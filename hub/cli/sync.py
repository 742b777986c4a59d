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
         as_json: JsonOption = False) -> None:
    """Run one sync: read every system, merge, decide, write back."""
    from hub.pipeline.engine import SyncOptions
    from hub.pipeline.engine import sync as run_sync

    runtime = load_runtime(config)
    options = SyncOptions(plan=plan, full=full, connectors=connector)
    try:
        if sys.stderr.isatty() and not as_json:
            with RichProgress() as progress:
                summary = run_sync(runtime, options, progress)
        else:
            summary = run_sync(runtime, options)
    except HubError as exc:
        fail(exc)
    if as_json:
        print_json(summary.as_dict())
    else:
        print_summary(summary)
    raise typer.Exit(summary.exit_code)
