"""Reviewing probable duplicates: list scored pairs, accept (merge) or reject (keep apart)."""

from __future__ import annotations

import getpass
from typing import Annotated

import typer
from rich.table import Table

from hub.cli.app import ConfigOption, JsonOption, app, fail, load_runtime, print_json
from hub.cli.screen import out
from hub.config import DEFAULT_PATH
from hub.errors import HubError

duplicates_app = typer.Typer(help="Probable duplicates: review, accept or reject them.")
app.add_typer(duplicates_app, name="duplicates")

StatusOption = Annotated[str | None, typer.Option(
    "--status", help="Only pairs in this state: suggested, merged or rejected.")]


@duplicates_app.callback(invoke_without_command=True)
def duplicates(ctx: typer.Context, config: ConfigOption = DEFAULT_PATH,
               as_json: JsonOption = False, status: StatusOption = None) -> None:
    """Scored pairs with per-field evidence (suggestions first), and merges held for review."""
    if ctx.invoked_subcommand is not None:
        return
    from hub import contacts
    from hub.matching import review

    if status not in (None, "suggested", "merged", "rejected"):
        fail(HubError(f"--status {status!r} is not one of suggested, merged, rejected"))
    runtime = load_runtime(config)
    pairs = review.listing(runtime.store, status=status)
    with runtime.store.begin() as conn:
        held = contacts.held_merges(conn)
    if as_json:
        print_json({"pairs": pairs, "held": held})
        return
    if not pairs:
        out.print("no scored pairs" + (f" with status {status}" if status else ""))
    for pair in pairs:
        a, b = pair["a"], pair["b"]
        out.print(f"[bold]pair {pair['id']}[/bold]  {pair['status']}  probability "
                  f"{pair['probability']:.4f}  contact {a['contact']} "
                  f"({a['connector']}:{a['record_id']}) ↔ contact {b['contact']} "
                  f"({b['connector']}:{b['record_id']})", highlight=False)
        table = Table("field", "a", "b", "comparison", "weight")
        for field, e in pair["evidence"].items():
            table.add_row(field, e["a"] or "", e["b"] or "", e["comparison"], f"{e['weight']:+.1f}")
        out.print(table)
    if any(p["status"] == "suggested" for p in pairs):
        out.print("decide with `hub duplicates accept ID` (merge) or `hub duplicates reject ID` "
                  "(never merge them)")
    for h in held:
        out.print(f"held: [bold]{h['key']}[/bold]: {h['reason']}", highlight=False)
        shown = ", ".join(f"{r['connector']}:{r['id']}" for r in h["records"][:10])
        out.print(f"  records (first {min(10, len(h['records']))}): {shown}", highlight=False)
    if held:
        out.print("these records stay separate contacts; raise [identity] "
                  "max_records_per_contact or add the address to [identity] placeholder_emails "
                  "to settle it", markup=False)


@duplicates_app.command("accept")
def accept(pair_id: int, config: ConfigOption = DEFAULT_PATH,
           as_json: JsonOption = False) -> None:
    """Merge the two contacts of pair PAIR_ID (audited; `hub contacts split` undoes it)."""
    from hub.matching import review

    runtime = load_runtime(config)
    try:
        survivor = review.accept(runtime.store, pair_id, actor=getpass.getuser())
    except HubError as exc:
        fail(exc)
    if as_json:
        print_json({"pair": pair_id, "status": "accepted", "contact": survivor})
        return
    out.print(f"pair {pair_id} merged into contact {survivor}; the next `hub sync` tells the "
              "systems", highlight=False)


@duplicates_app.command("reject")
def reject(pair_id: int, config: ConfigOption = DEFAULT_PATH,
           as_json: JsonOption = False) -> None:
    """Keep the two contacts of pair PAIR_ID apart, now and in every later sync."""
    from hub.matching import review

    runtime = load_runtime(config)
    try:
        review.reject(runtime.store, pair_id, actor=getpass.getuser())
    except HubError as exc:
        fail(exc)
    if as_json:
        print_json({"pair": pair_id, "status": "rejected"})
        return
    out.print(f"pair {pair_id} rejected: these contacts will not be merged", highlight=False)
