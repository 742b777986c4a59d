"""`hub report`: the lead funnel over a period, for marketing and sales."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.table import Table

from hub.cli.app import ConfigOption, JsonOption, app, load_runtime, print_json
from hub.cli.render import print_funnel
from hub.cli.screen import err_console, out
from hub.config import DEFAULT_PATH


@app.command()
def report(config: ConfigOption = DEFAULT_PATH, as_json: JsonOption = False,
           since: Annotated[str | None, typer.Option(
               help="Start of the period: a duration back from now (30d, 2w) or a date "
                    "(2026-01-01).")] = None) -> None:
    """The funnel: counts per stage and band, moves and conversions, new MQLs per run."""
    from datetime import UTC, datetime

    from hub.config import parse_duration
    from hub.lifecycle import funnel

    runtime = load_runtime(config)
    now = runtime.clock()
    start = None
    if since:
        try:
            start = now - parse_duration(since)
        except ValueError:
            try:
                start = datetime.fromisoformat(since)
            except ValueError:
                err_console.print(f"[red]error:[/red] --since {since!r} is neither a duration "
                                  "(30d, 2w, 12h) nor a date (2026-01-01)", highlight=False)
                raise typer.Exit(2) from None
            start = start if start.tzinfo else start.replace(tzinfo=UTC)
    with runtime.store.begin() as conn:
        data = funnel.report(conn, since=start, until=now)
    if as_json:
        print_json(data)
        return
    out.print(f"[bold]funnel[/bold] {data['since'] or 'since the start'} → {data['until']}",
              highlight=False)
    print_funnel(data)
    table = Table("from", "to", "entered", "moved on", "rate", title="conversions")
    for c in data["conversions"]:
        table.add_row(c["from"], c["to"], str(c["entered"]), str(c["converted"]),
                      "-" if c["rate"] is None else f"{c['rate']:.1%}")
    out.print(table)
    runs = Table("run", "started", "new MQLs", "handed to sales", title="new MQLs per run")
    for r in data["runs"]:
        runs.add_row(str(r["run_id"]), r["started_at"] or "", str(r["new_mqls"]),
                     str(r["handed_over"]))
    out.print(runs)
