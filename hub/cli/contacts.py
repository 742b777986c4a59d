"""Looking people up: a contact's fields and sources, why they are one, their stage."""

from __future__ import annotations

import getpass
from typing import Annotated, Any

import typer
from rich.table import Table

from hub.cli.app import ConfigOption, JsonOption, contacts_app, load_runtime, print_json
from hub.cli.render import print_lead
from hub.cli.screen import err_console, out
from hub.config import DEFAULT_PATH


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


def _contact_arg(conn: Any, contact: str) -> int:
    """CONTACT as a contact id or an e-mail address."""
    if contact.strip().isdigit():
        return int(contact.strip())
    return contact_id_of(conn, contact)


@contacts_app.command("split")
def contacts_split(contact: str,
                   records: Annotated[list[str], typer.Option(
                       "--records", help="CONNECTOR:ID of each record to move to a new "
                                         "contact (repeat the option or separate by commas).")],
                   config: ConfigOption = DEFAULT_PATH, as_json: JsonOption = False) -> None:
    """Undo a merge: move RECORDS of CONTACT (id or e-mail) to a new contact; audited."""
    from hub.cli.app import fail
    from hub.errors import HubError
    from hub.matching import review

    runtime = load_runtime(config)
    with runtime.store.begin() as conn:
        contact_id = _contact_arg(conn, contact)
    keys = [k for item in records for k in item.split(",") if k.strip()]
    try:
        new_id = review.split(runtime.store, contact_id, keys, actor=getpass.getuser())
    except HubError as exc:
        fail(exc)
    if as_json:
        print_json({"contact": contact_id, "new_contact": new_id, "moved": keys})
        return
    out.print(f"contact {contact_id}: {len(keys)} records moved to new contact {new_id}; each "
              "keeps its own fields, and the next `hub sync` tells the systems", highlight=False)


@contacts_app.command("export")
def contacts_export(
        config: ConfigOption = DEFAULT_PATH,
        export_format: Annotated[str, typer.Option(
            "--format", help="jsonl (one object per contact) or csv.")] = "jsonl") -> None:
    """Every golden contact with fields, provenance and source records, streamed to stdout."""
    import csv
    import json
    import sys

    from hub import contacts
    from hub.cli.app import fail
    from hub.consent.export import formula_safe
    from hub.contact import GOLDEN_FIELDS
    from hub.errors import HubError

    if export_format not in ("jsonl", "csv"):
        fail(HubError(f"--format {export_format!r} is not one of jsonl, csv"))
    runtime = load_runtime(config)
    with runtime.store.begin() as conn:
        if export_format == "jsonl":
            for item in contacts.exported(conn):
                sys.stdout.write(json.dumps(item, ensure_ascii=False, default=str) + "\n")
            return
        columns = ["id", *[f for f in GOLDEN_FIELDS if f != "id"], "sources", "provenance"]
        writer = csv.writer(sys.stdout)
        writer.writerow(columns)
        for item in contacts.exported(conn):
            fields = item["fields"]
            row = [str(item["id"])]
            for name in columns[1:-2]:
                value = fields.get(name)
                row.append(", ".join(map(str, value)) if isinstance(value, list)
                           else "" if value is None else str(value))
            row.append(" ".join(f"{s['connector']}:{s['record_id']}" for s in item["sources"]))
            row.append(" ".join(f"{f}={p['connector']}:{p['record_id']}"
                                for f, p in item["provenance"].items()))
            writer.writerow([formula_safe(cell) for cell in row])
