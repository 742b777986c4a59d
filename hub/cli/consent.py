"""`hub consent`: a person's permission and its proof, the ledger check, export, erasure."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table
from rich.text import Text

from hub.cli.app import ConfigOption, JsonOption, consent_app, fail, load_runtime, print_json
from hub.cli.contacts import contact_id_of
from hub.cli.screen import err_console, out, say
from hub.config import DEFAULT_PATH
from hub.errors import HubError


@consent_app.command("show")
def consent_show(email: str, config: ConfigOption = DEFAULT_PATH,
                 as_json: JsonOption = False) -> None:
    """The contact's newsletter permission, why, and every ledger entry with its evidence."""
    from hub import contacts
    from hub.consent import ledger

    runtime = load_runtime(config)
    with runtime.store.begin() as conn:
        contact_id = contact_id_of(conn, email)
        decision = contacts.contact_view(conn, contact_id)["consent"]["newsletter"]
        entries = ledger.trail(conn, contact_id)
    if as_json:
        print_json({"contact_id": contact_id, "newsletter": decision, "trail": entries})
        return
    out.print(Text.assemble((f"newsletter: {decision['state']}", "bold"),
                            f" — {decision['reason']}"), highlight=False)
    table = Table("#", "event", "happened", "system", "record", "evidence")
    for e in entries:
        evidence = ", ".join(f"{k}={v}" for k, v in sorted(e["evidence"].items()))
        table.add_row(*(Text(str(cell)) for cell in (
            e["id"], e["kind"], e["occurred_at"] or "unknown", e["connector"] or "",
            e["record_id"] or "", evidence)))
    out.print(table)


@consent_app.command("verify")
def consent_verify(config: ConfigOption = DEFAULT_PATH, as_json: JsonOption = False) -> None:
    """Walk the ledger's hash chain; exit 1 if any entry was changed, removed or reordered."""
    from hub.consent import ledger

    runtime = load_runtime(config)
    with runtime.store.begin() as conn:
        result = ledger.verify(conn)
    if as_json:
        print_json({"ok": result.ok, "checked": result.checked,
                     "broken_at": result.broken_at, "reason": result.reason})
    elif result.ok:
        out.print(f"the consent ledger is intact: {result.checked} entries checked")
    else:
        say(err_console, f"the consent ledger is broken at entry {result.broken_at}:",
            f"{result.reason} ({result.checked} entries before it are intact)")
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
    from hub.consent import export

    if fmt not in ("csv", "json"):
        fail(HubError(f"--format {fmt!r}: use csv or json"))
    runtime = load_runtime(config)
    with runtime.store.begin() as conn:
        if output is None:
            export.write(conn, sys.stdout, fmt=fmt, now=runtime.clock())
            return
        with output.open("w", encoding="utf-8", newline="") as f:
            count = export.write(conn, f, fmt=fmt, now=runtime.clock())
    err_console.print(f"wrote the consent of {count} contacts to {output}", markup=False,
                      highlight=False)


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
    from hub.consent import erasure

    runtime = load_runtime(config)
    try:
        address = erasure.address_of(email)
    except HubError as exc:
        fail(exc)
    if not yes:
        if not sys.stdin.isatty():
            fail(HubError("erasing cannot be undone — pass --yes to confirm when not on a "
                          "terminal"))
        typer.confirm(f"Erase {address} from hub and every connected system, for good?",
                      abort=True)
    now = runtime.clock()
    try:
        deletable = erasure.deletable(runtime)
        with runtime.store.begin() as conn:
            done = erasure.forget(conn, address, deletable=deletable, now=now)
        sent = erasure.propagate(runtime, sorted(done.queued), now=now)
    except HubError as exc:
        fail(exc)
    report = {**done.as_dict(), "systems": sent}
    if as_json:
        print_json(report)
    else:
        out.print(f"erased from hub: {done.contacts} contacts, {done.records} source records, "
                  f"{done.ledger_entries} consent ledger entries (the chain stays verifiable); "
                  "the address is on the suppression list"
                  + (" (it already was)" if done.already_suppressed else ""))
        for name, state in sorted(sent.items()):
            out.print(f"  {name}: deletion {state}", highlight=False, markup=False)
        for name, why in sorted(done.manual.items()):
            say(out, f"  {name}:", why, style="yellow")
    waiting = any(not state.startswith("done") for state in sent.values())
    raise typer.Exit(1 if waiting or done.manual else 0)
