"""The `hub` command line (typer + rich). Exit codes: 0 ok, 1 rejected records, 2 usage or
configuration error, 3 a system could not be reached; --json output is stable for scripts."""

from __future__ import annotations

import getpass
import json
import os
import sys
from importlib import resources
from pathlib import Path
from typing import Annotated, Any, NoReturn

import typer
from rich.console import Console
from rich.table import Table

from hub import __version__
from hub.config import DEFAULT_PATH
from hub.console import RichProgress, err_console, setup_logging
from hub.errors import HubError

app = typer.Typer(name="hub", no_args_is_help=True, add_completion=False,
                  help="Keep one consistent contact record across CRM, shop, newsletter and files.")
contacts_app = typer.Typer(no_args_is_help=True, help="Look up golden contacts.")
secrets_app = typer.Typer(no_args_is_help=True, help="Store or remove secrets in the keyring.")
app.add_typer(contacts_app, name="contacts")
app.add_typer(secrets_app, name="secrets")
consent_app = typer.Typer(no_args_is_help=True, help="The consent trail and its proof.")
app.add_typer(consent_app, name="consent")

out = Console()
ConfigOption = Annotated[Path, typer.Option("--config", "-c", help="Path of config.toml.",
                                            envvar="HUB_CONFIG")]
JsonOption = Annotated[bool, typer.Option("--json", help="Print one JSON object for scripts.")]
_state = {"debug": False}


@app.callback()
def _main(debug: Annotated[bool, typer.Option("--debug", help="Tracebacks and debug logs.")]
          = False,
          version: Annotated[bool, typer.Option("--version", help="Print the version.")]
          = False) -> None:
    _state["debug"] = debug
    setup_logging(debug=debug)
    if version:
        out.print(f"hub {__version__}")
        raise typer.Exit(0)


def _fail(error: HubError) -> NoReturn:
    err_console.print(f"[red]error:[/red] {error}", markup=True, highlight=False, soft_wrap=True)
    raise typer.Exit(error.exit_code)


def _runtime(config: Path) -> Any:
    from hub.runtime import Runtime

    try:
        return Runtime.load(config)
    except HubError as exc:
        _fail(exc)


def _print_json(data: Any) -> None:
    sys.stdout.write(json.dumps(data, indent=2, ensure_ascii=False, default=str) + "\n")


# -- setup -----------------------------------------------------------------------------------
@app.command()
def init(config: ConfigOption = DEFAULT_PATH,
         force: Annotated[bool, typer.Option("--force", help="Overwrite an existing file.")]
         = False) -> None:
    """Write a commented starter config.toml."""
    if config.exists() and not force:
        err_console.print(f"[red]error:[/red] {config} exists — edit it, or pass --force to "
                          "replace it")
        raise typer.Exit(2)
    template = resources.files("hub").joinpath("templates/config.toml").read_text("utf-8")
    config.write_text(template, encoding="utf-8")
    out.print(f"wrote {config}; next: edit it, then `hub check`")


@app.command()
def check(config: ConfigOption = DEFAULT_PATH, as_json: JsonOption = False) -> None:
    """Validate config and secrets, then test each connector's connection."""
    from hub.http import RetryPolicy

    runtime = _runtime(config)
    runtime.retry = RetryPolicy(attempts=2, base=0.5, cap=2.0)
    results: dict[str, dict[str, str]] = {}
    code = 0
    for name in runtime.connector_names:
        try:
            connector = runtime.connector(name)
            try:
                connector.check()
            finally:
                connector.close()
            results[name] = {"status": "ok", "plugin": runtime.config.connectors[name].plugin}
        except HubError as exc:
            results[name] = {"status": "problem", "message": str(exc),
                             "plugin": runtime.config.connectors[name].plugin}
            code = max(code, exc.exit_code)
    if as_json:
        _print_json({"config": str(config), "connectors": results, "exit_code": code})
    else:
        table = Table("connector", "plugin", "status", title=f"hub check — {config}")
        for name, result in results.items():
            mark = "[green]ok[/green]" if result["status"] == "ok" else \
                f"[red]{result['message']}[/red]"
            table.add_row(name, result["plugin"], mark)
        out.print(table)
    raise typer.Exit(code)


@app.command()
def plugins(as_json: JsonOption = False) -> None:
    """List installed plugins, their distributions and connector types."""
    from hub.plugins import load_plugins

    try:
        infos = load_plugins().infos()
    except HubError as exc:
        _fail(exc)
    if as_json:
        _print_json([{"name": i.name, "distribution": i.distribution, "version": i.version,
                      "connector_types": list(i.connector_types)} for i in infos])
        return
    table = Table("plugin", "distribution", "version", "connector types")
    for i in infos:
        table.add_row(i.name, i.distribution or "-", i.version or "-",
                      ", ".join(i.connector_types))
    out.print(table)


# -- syncing ---------------------------------------------------------------------------------
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
    from hub.engine import SyncOptions
    from hub.engine import sync as run_sync

    runtime = _runtime(config)
    options = SyncOptions(plan=plan, full=full, connectors=connector)
    try:
        if sys.stderr.isatty() and not as_json:
            with RichProgress() as progress:
                summary = run_sync(runtime, options, progress)
        else:
            summary = run_sync(runtime, options)
    except HubError as exc:
        _fail(exc)
    if as_json:
        _print_json(summary)
    else:
        print_summary(summary)
    raise typer.Exit(summary["exit_code"])


_BLOCKED = {
    "none": "without any e-mail permission",
    "unsubscribed": "opted out (and not on the list)",
    "suppressed": "bounced or complained (and not on the list)",
    "pending": "awaiting confirmation (and not on the list)",
    "confirmation_requested_recently": "asked to confirm within the request window already",
    "stale": "with a double opt-in too old to use (re-permission first)",
}


def print_summary(summary: dict[str, Any], console: Console | None = None) -> None:
    """The run report people read after `hub sync` and `hub demo`."""
    console = console or out
    title = "plan (nothing written)" if summary["plan"] else f"run {summary['run_id']}"
    table = Table("connector", "read", "unchanged", "merged", "created", "updated",
                  "rejected", "API calls", title=f"hub sync — {title}")
    for name, c in summary["connectors"].items():
        table.add_row(name, str(c["read"]), str(c["skipped_unchanged"]), str(c["merged"]),
                      str(c["created"]), str(c["updated"]), str(c["rejected"]),
                      str(c["api_calls"]))
    console.print(table)
    contacts = summary["contacts"]
    console.print(f"contacts: {contacts['total']} in total, {contacts['created']} new, "
                  f"{contacts['updated']} updated, {contacts['merged']} merged, "
                  f"{contacts['held_for_review']} merges held for review")
    for name, p in (summary.get("planned") or {}).items():
        if summary["plan"]:
            console.print(f"would write to {name}: {p['create']} new, {p['update']} updates, "
                          f"{p['delete']} deletions")
        if p.get("consent"):
            told = ", ".join(f"{n} {state}" for state, n in p["consent"].items())
            verb = "would tell" if summary["plan"] else "told"
            console.print(f"consent: {verb} {name} {told}", highlight=False)
        if p.get("blocked"):
            why = ", ".join(f"{n} {_BLOCKED.get(state, state)}"
                            for state, n in p["blocked"].items())
            console.print(f"consent kept {sum(p['blocked'].values())} contacts out of {name}: "
                          f"{why}", highlight=False)
    lead = summary.get("lifecycle") or {}
    if lead.get("changed"):
        moves = ", ".join(f"{n} to {s}" for s, n in lead["stage_moves"].items()) or "none"
        handed = sum(1 for h in lead["handed_over"] if h.get("owner"))
        console.print(f"lifecycle: {lead['changed']} contacts changed (stage moves: {moves}); "
                      f"new MQLs handed over: {lead['new_mqls']} ({handed} with an owner)",
                      highlight=False)
    if summary["rejected"]:
        console.print(f"[yellow]{summary['rejected_total']} records rejected[/yellow] "
                      "(all of them: `hub dead-letters`):")
        for r in summary["rejected"][:20]:
            where = r["origin"] or r["record_id"] or "?"
            console.print(f"  {r['connector']} {where}: {r['reason']}", highlight=False)
    for d in summary.get("drift", []):
        console.print(f"[red]drift: {d['message']}[/red]", highlight=False)
    for e in summary["errors"]:
        console.print(f"[red]{e['connector']}: {e['message']}[/red]", highlight=False)
    console.print(f"finished in {summary['duration_s']:.1f} s, exit code {summary['exit_code']}")


@app.command()
def status(config: ConfigOption = DEFAULT_PATH, as_json: JsonOption = False) -> None:
    """Contacts, waiting writes, dead letters and the last runs."""
    from hub import funnel, history, lookup

    runtime = _runtime(config)
    schedule = runtime.config.config.schedule
    with runtime.store.begin() as conn:
        data = lookup.status(conn)
        data["pipelines"] = history.pipeline_status(
            conn, list(schedule),
            {name: s.connectors or runtime.connector_names for name, s in schedule.items()})
        data["funnel"] = funnel.counts(conn)
    if as_json:
        _print_json(data)
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
                   "--http", help="Serve /healthz and /metrics on HOST:PORT (port 0: any).")]
               = None,
               as_json: Annotated[bool, typer.Option(
                   "--json", help="Print one JSON line (node, http URL) when ready.")] = False
               ) -> None:
    """The scheduler daemon: run the [schedule.NAME] pipelines until SIGTERM."""
    from hub.console import personal_data
    from hub.daemon import run_once, serve
    from hub.scheduler import Scheduler

    runtime = _runtime(config)
    personal_data.reveal_at_debug = runtime.config.config.hub.log_emails
    address: tuple[str, int] | None = None
    if http is not None:
        host, _, port = http.rpartition(":")
        if not host or not port.isdigit():
            err_console.print(f"[red]error:[/red] --http {http!r}: write HOST:PORT, e.g. "
                              "127.0.0.1:9100")
            raise typer.Exit(2)
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
        _fail(exc)
    raise typer.Exit(code)


@app.command()
def runs(config: ConfigOption = DEFAULT_PATH, as_json: JsonOption = False,
         limit: Annotated[int, typer.Option(help="How many runs, newest first.")] = 20,
         pipeline: Annotated[str | None, typer.Option(help="Only this pipeline.")] = None
         ) -> None:
    """Run history: when each run ran, what it did and how it ended."""
    from hub import history

    runtime = _runtime(config)
    with runtime.store.begin() as conn:
        rows = history.recent_runs(conn, limit=limit, pipeline=pipeline)
    if as_json:
        _print_json(rows)
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


def print_funnel(numbers: dict[str, Any]) -> None:
    """Stage and band counts, one line each."""
    out.print("stages: " + ", ".join(f"{k} {v}" for k, v in numbers["stages"].items()),
              highlight=False)
    out.print("bands: " + (", ".join(f"{k} {v}" for k, v in numbers["bands"].items()) or "-")
              + f"   dormant customers: {numbers['dormant_customers']}   premium customers: "
              f"{numbers['premium_customers']}", highlight=False)


@app.command()
def report(config: ConfigOption = DEFAULT_PATH, as_json: JsonOption = False,
           since: Annotated[str | None, typer.Option(
               help="Start of the period: a duration back from now (30d, 2w) or a date "
                    "(2026-01-01).")] = None) -> None:
    """The funnel: counts per stage and band, moves and conversions, new MQLs per run."""
    from datetime import UTC, datetime

    from hub import funnel
    from hub.config import parse_duration

    runtime = _runtime(config)
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
        _print_json(data)
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
    from hub import lookup

    runtime = _runtime(config)
    if retry:
        from hub.deadletters import retry as retry_letters

        with runtime.store.begin() as conn:
            done = retry_letters(conn, now=runtime.clock(), connector=connector)
        if as_json:
            _print_json({"requeued": done.requeued, "superseded": done.superseded,
                         "read_rejections": done.read_rejections})
            return
        out.print(f"{done.requeued} refused writes go out again at the next run; "
                  f"{done.superseded} were already replaced by a newer change. "
                  f"{done.read_rejections} records that could not be read come back when they "
                  "change in their system (or: hub sync --full --connector NAME).")
        return
    with runtime.store.begin() as conn:
        rows = lookup.dead_letter_list(conn, limit=limit)
    if as_json:
        _print_json(rows)
        return
    table = Table("id", "connector", "stage", "where", "reason")
    for r in rows:
        table.add_row(str(r["id"]), r["connector"], r["stage"],
                      r["origin"] or r["record_id"] or "", r["reason"])
    out.print(table)


@app.command()
def duplicates(config: ConfigOption = DEFAULT_PATH, as_json: JsonOption = False) -> None:
    """Merges held for review: an e-mail shared by more records than one person has."""
    from hub import lookup

    runtime = _runtime(config)
    with runtime.store.begin() as conn:
        held = lookup.held_merges(conn)
    if as_json:
        _print_json(held)
        return
    if not held:
        out.print("no merges are held for review")
        return
    for h in held:
        out.print(f"[bold]{h['key']}[/bold]: {h['reason']}", highlight=False)
        shown = ", ".join(f"{r['connector']}:{r['id']}" for r in h["records"][:10])
        out.print(f"  records (first {min(10, len(h['records']))}): {shown}", highlight=False)
    out.print("these records stay separate contacts; raise [identity] max_records_per_contact "
              "or add the address to [identity] placeholder_emails to settle it")


# -- contacts --------------------------------------------------------------------------------
def _contact_id(runtime: Any, conn: Any, email: str) -> int:
    from hub import lookup

    found = lookup.find_contact(conn, email)
    if found is None:
        err_console.print(f"no contact with e-mail {email!r}", highlight=False)
        raise typer.Exit(1)
    return found


@contacts_app.command("show")
def contacts_show(email: str, config: ConfigOption = DEFAULT_PATH,
                  as_json: JsonOption = False) -> None:
    """The golden contact for EMAIL, its sources and where each field came from."""
    from hub import lookup

    runtime = _runtime(config)
    with runtime.store.begin() as conn:
        view = lookup.contact_view(conn, _contact_id(runtime, conn, email))
    if as_json:
        _print_json(view)
        return
    table = Table("field", "value", "from", title=f"contact {view['id']}")
    for field in ("email", "first_name", "last_name", "phone", "company", "job_title",
                  "street", "zip", "city", "region", "country", "birthday", "language"):
        if view.get(field):
            p = view["provenance"].get(field, {})
            table.add_row(field, str(view[field]), f"{p.get('connector', '')} {p.get('id', '')}")
    if view["emails"]:
        table.add_row("emails", ", ".join(view["emails"]), "all sources")
    if view["tags"]:
        table.add_row("tags", ", ".join(view["tags"]), "all sources")
    out.print(table)
    out.print("sources: " + ", ".join(f"{s['connector']}:{s['id']}" for s in view["sources"]))


@contacts_app.command("explain")
def contacts_explain(email: str, config: ConfigOption = DEFAULT_PATH,
                     as_json: JsonOption = False) -> None:
    """Why these records are one contact, and why each field has its value."""
    from hub import lifecycle, lookup
    from hub.engine import lifecycle_of
    from hub.merge import Survivorship

    runtime = _runtime(config)
    with runtime.store.begin() as conn:
        contact_id = _contact_id(runtime, conn, email)
        data = lookup.explain(conn, contact_id, Survivorship(runtime.config.config.merge))
        data["lead"] = lifecycle.explain(conn, contact_id, lifecycle_of(runtime),
                                         runtime.clock())
    if as_json:
        _print_json(data)
        return
    out.print(f"[bold]contact {data['contact']['id']}[/bold] "
              f"({data['contact']['email']}) is made of {len(data['records'])} records:")
    for r in data["records"]:
        flag = " [red](deleted in its system)[/red]" if r["deleted"] else ""
        out.print(f"  {r['connector']}:{r['id']}  {r['origin'] or ''}  keys: "
                  f"{', '.join(r['keys']) or 'none'}{flag}", highlight=False)
    for j in data["joined_by"]:
        out.print(f"  joined because they share {j['key']}: {', '.join(j['records'])}",
                  highlight=False)
    for m in data["merges"]:
        out.print(f"  {m['kind']} {m['at']}: {m['reason']}", highlight=False)
    table = Table("field", "value", "from", "rule", "beat")
    for f in data["fields"]:
        beat = "; ".join(f"{b['value']} ({b['connector']})" for b in f["beaten"])
        table.add_row(f["field"], str(f["value"]), f"{f['from']['connector']} {f['from']['id']}",
                      f["rule"], beat)
    out.print(table)
    print_lead(data["lead"])


def print_lead(lead: dict[str, Any]) -> None:
    """The lifecycle part of `hub contacts explain`: stage, why, and the score rule by rule."""
    why = f" — {lead['reason']}" if lead["reason"] else ""
    out.print(f"[bold]stage: {lead['stage']}[/bold] (set by {lead['stage_source']}){why}",
              highlight=False)
    for note in lead["notes"]:
        out.print(f"  {note}", highlight=False)
    score = lead["score"]
    table = Table("rule", "saw", "points", "after decay", "age (days)",
                  title=f"score {score['total']} ({score['band']})")
    for r in score["rules"]:
        table.add_row(r["rule"], str(r["value"]), f"{r['points']:g}", f"{r['earned']:g}",
                      "" if r["age_days"] is None else f"{r['age_days']:g}")
    out.print(table)
    if lead["value"]:
        v = lead["value"]
        out.print(f"customer value: {v['orders']} orders, revenue {v['revenue']} "
                  f"{v['currency'] or ''}, AOV {v['aov']}, last order {v['last_order_at']}, "
                  f"RFM {v['rfm']} ({v['segment']}), dormant {v['dormant']}, "
                  f"premium {v['premium']}", highlight=False)
    for h in lead["history"]:
        out.print(f"  {h['at']}: {h['from'] or 'new'} → {h['to']} ({h['source']}: "
                  f"{h['reason']})", highlight=False)


@contacts_app.command("set-stage")
def contacts_set_stage(email: str, stage: str,
                       reason: Annotated[str, typer.Option(
                           "--reason", help="Why (kept in the audit trail).")],
                       config: ConfigOption = DEFAULT_PATH) -> None:
    """Put EMAIL on lifecycle STAGE, forward or back; audited, pushed by the next sync."""
    from hub import lifecycle
    from hub.stage import Stage

    try:
        target = Stage.parse(stage)
    except ValueError as exc:
        err_console.print(f"[red]error:[/red] argument STAGE: {exc}", highlight=False)
        raise typer.Exit(2) from None
    if not reason.strip():
        err_console.print("[red]error:[/red] --reason is empty; say why, it is kept in the "
                          "audit trail")
        raise typer.Exit(2)
    runtime = _runtime(config)
    with runtime.store.begin() as conn:
        contact_id = _contact_id(runtime, conn, email)
        previous = lifecycle.set_stage(conn, contact_id, target, reason=reason.strip(),
                                       now=runtime.clock(), actor=getpass.getuser())
    out.print(f"contact {contact_id}: {previous or 'no stage'} → {target.value}; the next "
              "`hub sync` tells the systems", highlight=False)


# -- consent ---------------------------------------------------------------------------------
@consent_app.command("show")
def consent_show(email: str, config: ConfigOption = DEFAULT_PATH,
                 as_json: JsonOption = False) -> None:
    """The contact's newsletter permission, why, and every ledger entry with its evidence."""
    from hub import ledger, lookup

    runtime = _runtime(config)
    with runtime.store.begin() as conn:
        contact_id = _contact_id(runtime, conn, email)
        decision = lookup.contact_view(conn, contact_id)["consent"]["newsletter"]
        entries = ledger.trail(conn, contact_id)
    if as_json:
        _print_json({"contact_id": contact_id, "newsletter": decision, "trail": entries})
        return
    out.print(f"[bold]newsletter: {decision['state']}[/bold] — {decision['reason']}",
              highlight=False)
    table = Table("#", "event", "happened", "system", "record", "evidence")
    for e in entries:
        evidence = ", ".join(f"{k}={v}" for k, v in sorted(e["evidence"].items()))
        table.add_row(str(e["id"]), e["kind"], e["occurred_at"] or "unknown",
                      e["connector"] or "", e["record_id"] or "", evidence)
    out.print(table)


@consent_app.command("verify")
def consent_verify(config: ConfigOption = DEFAULT_PATH, as_json: JsonOption = False) -> None:
    """Walk the ledger's hash chain; exit 1 if any entry was changed, removed or reordered."""
    from hub import ledger

    runtime = _runtime(config)
    with runtime.store.begin() as conn:
        result = ledger.verify(conn)
    if as_json:
        _print_json({"ok": result.ok, "checked": result.checked,
                     "broken_at": result.broken_at, "reason": result.reason})
    elif result.ok:
        out.print(f"the consent ledger is intact: {result.checked} entries checked")
    else:
        err_console.print(f"[red]the consent ledger is broken at entry {result.broken_at}: "
                          f"{result.reason}[/red] ({result.checked} entries before it are intact)")
    raise typer.Exit(0 if result.ok else 1)


@consent_app.command("export")
def consent_export(config: ConfigOption = DEFAULT_PATH,
                   fmt: Annotated[str, typer.Option(
                       "--format", help="csv (one row per contact) or json (with the ledger's "
                                        "verification)")] = "csv",
                   output: Annotated[Path | None, typer.Option(
                       "--output", "-o", help="Write here instead of standard output.")] = None
                   ) -> None:
    """Every contact's consent and its proof, for a data-protection officer."""
    from hub import consent_export

    if fmt not in ("csv", "json"):
        err_console.print(f"[red]error:[/red] --format {fmt!r}: use csv or json")
        raise typer.Exit(2)
    runtime = _runtime(config)
    with runtime.store.begin() as conn:
        if output is None:
            consent_export.write(conn, sys.stdout, fmt=fmt, now=runtime.clock())
            return
        with output.open("w", encoding="utf-8", newline="") as f:
            count = consent_export.write(conn, f, fmt=fmt, now=runtime.clock())
    err_console.print(f"wrote the consent of {count} contacts to {output}")


@consent_app.command("forget")
def consent_forget(email: str, config: ConfigOption = DEFAULT_PATH,
                   yes: Annotated[bool, typer.Option(
                       "--yes", help="Do not ask; needed when not on a terminal.")] = False,
                   as_json: JsonOption = False) -> None:
    """Erase a person everywhere (GDPR Art. 17) and refuse their address from now on.

    Deletes them from hub's store, erases their consent ledger entries' personal part, asks
    every connected system that can to delete them for good (Mailchimp permanent delete,
    HubSpot GDPR delete, Shopify data erasure, CSV export rows) and keeps only a salted hash
    so any later import of the address is refused and counted. Cannot be undone.
    """
    from hub import erasure

    runtime = _runtime(config)
    try:
        address = erasure.address_of(email)
    except HubError as exc:
        _fail(exc)
    if not yes:
        if not sys.stdin.isatty():
            err_console.print("[red]error:[/red] erasing cannot be undone — pass --yes to "
                              "confirm when not on a terminal")
            raise typer.Exit(2)
        typer.confirm(f"Erase {address} from hub and every connected system, for good?",
                      abort=True)
    now = runtime.clock()
    try:
        deletable = erasure.deletable(runtime)
        with runtime.store.begin() as conn:
            done = erasure.forget(conn, address, deletable=deletable, now=now)
        sent = erasure.propagate(runtime, sorted(done.queued), now=now)
    except HubError as exc:
        _fail(exc)
    report = {**done.as_dict(), "systems": sent}
    if as_json:
        _print_json(report)
    else:
        out.print(f"erased from hub: {done.contacts} contacts, {done.records} source records, "
                  f"{done.ledger_entries} consent ledger entries (the chain stays verifiable); "
                  "the address is on the suppression list"
                  + (" (it already was)" if done.already_suppressed else ""))
        for name, state in sorted(sent.items()):
            out.print(f"  {name}: deletion {state}", highlight=False)
        for name, why in sorted(done.manual.items()):
            out.print(f"  [yellow]{name}: {why}[/yellow]", highlight=False)
    waiting = any(not state.startswith("done") for state in sent.values())
    raise typer.Exit(1 if waiting or done.manual else 0)


# -- secrets ---------------------------------------------------------------------------------
@secrets_app.command("set")
def secrets_set(name: str,
                from_env: Annotated[str | None, typer.Option(
                    "--from-env", help="Read the value from this environment variable.")] = None,
                stdin: Annotated[bool, typer.Option(
                    "--stdin", help="Read the value from standard input.")] = False) -> None:
    """Store secret NAME in the system keyring (asks twice, shows nothing)."""
    from hub.secrets import Secrets, env_var_name

    if from_env:
        value = os.environ.get(from_env, "")
    elif stdin:
        value = sys.stdin.readline().rstrip("\n")
    else:
        value = getpass.getpass(f"value for {name}: ")
        if value != getpass.getpass("again: "):
            err_console.print("the two entries differ; nothing stored")
            raise typer.Exit(2)
    if not value:
        err_console.print("empty value; nothing stored")
        raise typer.Exit(2)
    try:
        Secrets().set(name, value)
    except HubError as exc:
        _fail(exc)
    out.print(f"stored {name} in the keyring (an environment variable {env_var_name(name)} "
              "would take precedence)")


@secrets_app.command("delete")
def secrets_delete(name: str) -> None:
    """Remove secret NAME from the system keyring."""
    from hub.secrets import Secrets

    if Secrets().delete(name):
        out.print(f"deleted {name}")
    else:
        err_console.print(f"{name} was not in the keyring")
        raise typer.Exit(1)


@app.command()
def demo(directory: Annotated[Path | None, typer.Option(
        "--dir", help="Keep the demo here (default: a temporary folder, removed after).")]
        = None,
         contacts: Annotated[int, typer.Option(help="People in the sandbox.")] = 1500,
         keep: Annotated[bool, typer.Option(
             "--keep", help="Keep the sandbox running afterwards (with --dir: the folder too) "
                            "and print how to reach it; Ctrl-C stops it.")] = False) -> None:
    """Start the sandbox (HubSpot, Shopify, Mailchimp), sync it with an accountant's export."""
    import tempfile

    from hub.engine import SyncOptions
    from hub.engine import sync as run_sync
    from hub.runtime import Runtime
    from hub.sandbox.app import Sandbox
    from hub.sandbox.demo import prepare
    from hub.secrets import MemoryBackend, Secrets

    with tempfile.TemporaryDirectory(prefix="hub-demo-") as scratch:
        folder = directory or Path(scratch) / "demo"
        if folder.exists() and any(folder.iterdir()):
            err_console.print(f"[red]error:[/red] {folder} is not empty — pick a new --dir")
            raise typer.Exit(2)
        # the simulated APIs refill their rate limits 100× faster than the real ones: the demo
        # shows what hub does, the benchmarks how long it takes at real limits
        with Sandbox(contacts=contacts, seed=1, rate_scale=100).start() as running:
            secrets, person = prepare(folder, running)
            out.print(f"[bold]hub demo[/bold] in {folder}\n"
                      f"sandbox on {running.base_url}: a HubSpot CRM with "
                      f"{running.sandbox.hubspot.summary()['contacts']} contacts, a Shopify shop "
                      f"with {running.sandbox.shopify.summary()['customers']} customers and "
                      f"{running.sandbox.shopify.summary()['orders']} orders, a Mailchimp "
                      f"audience with {running.sandbox.mailchimp.summary()['members']} members "
                      "(every consent state), plus the accountant's Excel export (; and cp1252, "
                      "two broken rows).\n")
            try:
                runtime = Runtime.load(folder / "config.toml",
                                       secrets=Secrets(MemoryBackend(secrets)))
                for label, options in (("first sync", SyncOptions()),
                                       ("second sync (nothing changed)", SyncOptions())):
                    out.rule(label)
                    if sys.stderr.isatty():
                        with RichProgress() as progress:
                            summary = run_sync(runtime, options, progress)
                    else:
                        summary = run_sync(runtime, options)
                    print_summary(summary)
                runtime.store.close()
            except HubError as exc:
                _fail(exc)
            mails = running.sandbox.mailchimp.summary()["confirmation_mails"]
            out.print(f"Mailchimp sent {mails} confirmation mails on hub's behalf (single "
                      "opt-ins become pending, never subscribed).")
            if keep:
                _keep_serving(running.base_url, folder, secrets)
        config = folder / "config.toml"
        if directory is None:
            out.print("\nrun `hub demo --dir DIR` to keep the demo folder and explore it, e.g. "
                      f"`hub contacts explain {person} --config DIR/config.toml`")
        else:
            out.print(f"\nexplore: hub contacts explain {person} --config {config}\n"
                      f"         hub status --config {config}")
    # the broken rows are part of the demonstration; only real failures fail the demo
    raise typer.Exit(0 if summary["exit_code"] in (0, 1) else summary["exit_code"])


def _keep_serving(base_url: str, folder: Path, secrets: dict[str, str]) -> None:
    """Block until Ctrl-C or SIGTERM, saying how to work with the running sandbox."""
    import signal
    import threading

    from hub.secrets import env_var_name

    stop = threading.Event()
    for number in (signal.SIGINT, signal.SIGTERM):
        signal.signal(number, lambda *_args: stop.set())
    # the sandbox's own fixed credentials (as `hub sandbox serve --json` prints them)
    exports = " ".join(f"{env_var_name(name)}={value}" for name, value in sorted(secrets.items()))
    out.print(f"\nthe sandbox keeps running on {base_url}; try:\n"
              f"  export {exports}\n"
              f"  hub sync --config {folder / 'config.toml'}\n"
              "Ctrl-C stops it.")
    sys.stdout.flush()
    stop.wait()


def _mount_sandbox() -> None:
    import importlib

    try:
        sandbox_app = importlib.import_module("hub.sandbox.cli").app
    except ImportError:
        return
    app.add_typer(sandbox_app, name="sandbox", help="Local simulators of HubSpot, Shopify "
                  "and Mailchimp.")


_mount_sandbox()


def main() -> None:
    """Entry point of the `hub` executable."""
    try:
        app()
    except KeyboardInterrupt:
        err_console.print("interrupted")
        sys.exit(130)
    except HubError as exc:
        err_console.print(f"[red]error:[/red] {exc}", highlight=False)
        sys.exit(exc.exit_code)
    except Exception as exc:
        if _state["debug"]:
            raise
        err_console.print(f"[red]unexpected error:[/red] {type(exc).__name__}: {exc} — run "
                          "with --debug for the traceback", highlight=False)
        sys.exit(1)


if __name__ == "__main__":
    main()
