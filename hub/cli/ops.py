"""Watching and repairing unattended operation: status, the daemon, run history, dead letters."""

from __future__ import annotations

import json
import sys
from typing import Annotated

import typer
from rich.table import Table
from rich.text import Text

from hub.cli.app import ConfigOption, JsonOption, app, fail, load_runtime, print_json
from hub.cli.render import print_funnel
from hub.cli.screen import err_console, out
from hub.config import DEFAULT_PATH
from hub.errors import HubError


@app.command()
def status(config: ConfigOption = DEFAULT_PATH, as_json: JsonOption = False) -> None:
    """Contacts, waiting writes, dead letters and the last runs."""
    from hub.lifecycle import funnel
    from hub.ops import history

    runtime = load_runtime(config)
    schedule = runtime.config.config.schedule
    with runtime.store.begin() as conn:
        data = history.status(conn)
        data["pipelines"] = history.pipeline_status(
            conn, list(schedule),
            {name: s.connectors or runtime.connector_names for name, s in schedule.items()})
        data["funnel"] = funnel.counts(conn)
    if as_json:
        print_json(data)
        return
    out.print(f"contacts: {data['contacts']}   held for review: {data['held_for_review']}")
    print_funnel(data["funnel"])
    table = Table("connector", "source records", "outbox pending", "dead letters")
    for name in sorted(set(data["source_records"]) | set(data["outbox_pending"])
                       | set(data["dead_letters"])):
        table.add_row(name, str(data["source_records"].get(name, 0)),
                      str(data["outbox_pending"].get(name, 0)),
                      str(data["dead_letters"].get(name, 0)))
    out.print(table)
    runs = Table("run", "pipeline", "status", "started", "duration s", "exit", title="last runs")
    for r in data["runs"]:
        runs.add_row(str(r["id"]), r["pipeline"], r["status"], r["started_at"] or "",
                     str(r["duration_s"] or ""), str(r["exit_code"]))
    out.print(runs)
    if data["pipelines"]:
        table = Table("pipeline", "last run", "result", "next run", "failures in a row",
                      "outbox", "dead letters", title="pipelines")
        for name, p in data["pipelines"].items():
            last = p["last_run"] or {}
            table.add_row(name, last.get("started_at") or "never", last.get("status") or "",
                          p["next_run"] or "", str(p["consecutive_failures"]),
                          str(p["outbox_pending"]), str(p["dead_letters"]))
        out.print(table)


@app.command("run")
def run_daemon(config: ConfigOption = DEFAULT_PATH,
               once: Annotated[bool, typer.Option(
                   "--once", help="Run every pipeline now, once, and exit.")] = False,
               http: Annotated[str | None, typer.Option(
                   "--http", help="Serve /healthz, /metrics and the web console (when "
                                  "\\[web] has users) on HOST:PORT (port 0: any).")]
               = None,
               as_json: Annotated[bool, typer.Option(
                   "--json", help="Print one JSON line (node, http URL) when ready.")] = False
               ) -> None:
    """The scheduler daemon: run the \\[schedule.NAME] pipelines until SIGTERM."""
    from hub.logs import personal_data
    from hub.ops.daemon import run_once, serve
    from hub.ops.scheduler import Scheduler

    runtime = load_runtime(config)
    personal_data.reveal_at_debug = runtime.config.config.hub.log_emails
    address: tuple[str, int] | None = None
    if http is not None:
        host, _, port = http.rpartition(":")
        if not host or not port.isdigit():
            fail(HubError(f"--http {http!r}: write HOST:PORT, e.g. 127.0.0.1:9100"))
        address = (host, int(port))
    try:
        scheduler = Scheduler(runtime)
        if once:
            raise typer.Exit(run_once(scheduler))

        def ready(url: str | None) -> None:
            if as_json:
                sys.stdout.write(json.dumps({"node": scheduler.node, "http": url,
                                             "pipelines": list(scheduler.specs)}) + "\n")
                sys.stdout.flush()
            else:
                err_console.print(f"hub run: node {scheduler.node}, pipelines "
                                  f"{', '.join(scheduler.specs)}"
                                  + (f", health on {url}/healthz" if url else ""))
        code = serve(scheduler, http=address, on_ready=ready)
    except HubError as exc:
        fail(exc)
    raise typer.Exit(code)


@app.command()
def runs(config: ConfigOption = DEFAULT_PATH, as_json: JsonOption = False,
         limit: Annotated[int, typer.Option(help="How many runs, newest first.")] = 20,
         pipeline: Annotated[str | None, typer.Option(help="Only this pipeline.")] = None
         ) -> None:
    """Run history: when each run ran, what it did and how it ended."""
    from hub.ops import history

    runtime = load_runtime(config)
    with runtime.store.begin() as conn:
        rows = history.recent_runs(conn, limit=limit, pipeline=pipeline)
    if as_json:
        print_json(rows)
        return
    table = Table("run", "pipeline", "trigger", "status", "started", "duration s", "read",
                  "written", "rejected", "API calls", "node", title="runs")
    for r in rows:
        c = r["counts"]
        table.add_row(str(r["id"]), r["pipeline"], r["trigger"], r["status"],
                      r["started_at"] or "", str(r["duration_s"] or ""), str(c["read"]),
                      str(c["created"] + c["updated"]), str(c["rejected"]), str(c["api_calls"]),
                      r["node"] or "")
    out.print(table)
    for r in rows:  # where and when a crashed run stopped: the table has no room for it
        if r["status"] == "crashed" and r["message"]:
            out.print(f"run {r['id']} crashed: {r['message']}", markup=False, highlight=False)


@app.command("dead-letters")
def dead_letters(config: ConfigOption = DEFAULT_PATH, as_json: JsonOption = False,
                 limit: Annotated[int, typer.Option(help="How many to show.")] = 50,
                 retry: Annotated[bool, typer.Option(
                     "--retry", help="After a fix: send refused writes again at the next run.")]
                 = False,
                 connector: Annotated[str | None, typer.Option(
                     "--connector", help="Only this connector's dead letters (with --retry).")]
                 = None) -> None:
    """Records a system could not use or refused, with the reason."""
    from hub.ops.dead_letters import open_letters
    from hub.ops.dead_letters import retry as retry_letters

    runtime = load_runtime(config)
    if retry:
        with runtime.store.begin() as conn:
            done = retry_letters(conn, now=runtime.clock(), connector=connector)
        if as_json:
            print_json({"requeued": done.requeued, "superseded": done.superseded,
                         "read_rejections": done.read_rejections})
            return
        out.print(f"{done.requeued} refused writes go out again at the next run; "
                  f"{done.superseded} were already replaced by a newer change. "
                  f"{done.read_rejections} records that could not be read come back when they "
                  "change in their system (or: hub sync --full --connector NAME).")
        return
    with runtime.store.begin() as conn:
        rows = open_letters(conn, limit=limit)
    if as_json:
        print_json(rows)
        return
    table = Table("id", "connector", "stage", "where", "reason")
    for r in rows:
        table.add_row(str(r["id"]), r["connector"], r["stage"],
                      Text(r["origin"] or r["record_id"] or ""), Text(r["reason"]))
    out.print(table)
