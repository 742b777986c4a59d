"""Looking people up: a contact's fields and sources, why they are one, their stage."""

from __future__ import annotations

import getpass
from typing import Annotated, Any

import typer
from rich.table import Table

from hub.cli.app import ConfigOption, JsonOption, app, contacts_app, load_runtime, print_json
from hub.cli.render import print_lead
from hub.cli.screen import err_console, out
from hub.config import DEFAULT_PATH


@app.command()
def duplicates(config: ConfigOption = DEFAULT_PATH, as_json: JsonOption = False) -> None:
    """Merges held for review: an e-mail shared by more records than one person has."""
    from hub import contacts

    runtime = load_runtime(config)
    with runtime.store.begin() as conn:
        held = contacts.held_merges(conn)
    if as_json:
        print_json(held)
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


def contact_id_of(conn: Any, email: str) -> int:
    """The contact with `email`, or exit 1 saying there is none."""
    from hub import contacts

    found = contacts.find_contact(conn, email)
    if found is None:
        err_console.print(f"no contact with e-mail {email!r}", highlight=False)
        raise typer.Exit(1)
    return found


@contacts_app.command("show")
def contacts_show(email: str, config: ConfigOption = DEFAULT_PATH,
                  as_json: JsonOption = False) -> None:
    """The golden contact for EMAIL, its sources and where each field came from."""
    from hub import contacts

    runtime = load_runtime(config)
    with runtime.store.begin() as conn:
        view = contacts.contact_view(conn, contact_id_of(conn, email))
    if as_json:
        print_json(view)
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
    from hub import contacts
    from hub.lifecycle import evaluation
    from hub.pipeline.engine import lifecycle_of
    from hub.pipeline.merge import Survivorship

    runtime = load_runtime(config)
    with runtime.store.begin() as conn:
        contact_id = contact_id_of(conn, email)
        data = contacts.explain(conn, contact_id, Survivorship(runtime.config.config.merge))
        data["lead"] = evaluation.explain(conn, contact_id, lifecycle_of(runtime),
                                         runtime.clock())
    if as_json:
        print_json(data)
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


@contacts_app.command("set-stage")
def contacts_set_stage(email: str, stage: str,
                       reason: Annotated[str, typer.Option(
                           "--reason", help="Why (kept in the audit trail).")],
                       config: ConfigOption = DEFAULT_PATH) -> None:
    """Put EMAIL on lifecycle STAGE, forward or back; audited, pushed by the next sync."""
    from hub.lifecycle import evaluation
    from hub.lifecycle.stage import Stage

    try:
        target = Stage.parse(stage)
    except ValueError as exc:
        err_console.print(f"[red]error:[/red] argument STAGE: {exc}", highlight=False)
        raise typer.Exit(2) from None
    if not reason.strip():
        err_console.print("[red]error:[/red] --reason is empty; say why, it is kept in the "
                          "audit trail")
        raise typer.Exit(2)
    runtime = load_runtime(config)
    with runtime.store.begin() as conn:
        contact_id = contact_id_of(conn, email)
        previous = evaluation.set_stage(conn, contact_id, target, reason=reason.strip(),
                                       now=runtime.clock(), actor=getpass.getuser())
    out.print(f"contact {contact_id}: {previous or 'no stage'} → {target.value}; the next "
              "`hub sync` tells the systems", highlight=False)
