"""How run summaries, funnel counts and a lead's story read on a terminal.

`hub sync`, `hub demo` (in the sandbox distribution), `hub status`, `hub report` and
`hub contacts explain` share these, so the same facts always look the same.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from rich.console import Console
from rich.table import Table
from rich.text import Text

from hub.cli.screen import out, say

if TYPE_CHECKING:
    from hub.pipeline.summary import RunSummary

_BLOCKED = {
    "none": "without any e-mail permission",
    "unsubscribed": "opted out (and not on the list)",
    "suppressed": "bounced or complained (and not on the list)",
    "pending": "awaiting confirmation (and not on the list)",
    "confirmation_requested_recently": "asked to confirm within the request window already",
    "stale": "with a double opt-in too old to use (re-permission first)",
}


def print_summary(summary: RunSummary, console: Console | None = None) -> None:
    """The run report people read after `hub sync` and `hub demo`."""
    console = console or out
    title = "plan (nothing written)" if summary.plan else f"run {summary.run_id}"
    table = Table("connector", "read", "unchanged", "merged", "created", "updated",
                  "rejected", "API calls", title=f"hub sync — {title}")
    for name, c in (summary.connectors or {}).items():
        table.add_row(name, str(c.read), str(c.skipped_unchanged), str(c.merged),
                      str(c.created), str(c.updated), str(c.rejected), str(c.api_calls))
    console.print(table)
    contacts = summary.contacts
    if contacts is not None:
        console.print(f"contacts: {contacts.total} in total, {contacts.created} new, "
                      f"{contacts.updated} updated, {contacts.merged} merged, "
                      f"{contacts.held_for_review} merges held for review")
    for name, p in (summary.planned or {}).items():
        if summary.plan:
            console.print(f"would write to {name}: {p.create} new, {p.update} updates, "
                          f"{p.delete} deletions")
        if p.consent:
            told = ", ".join(f"{n} {state}" for state, n in sorted(p.consent.items()))
            verb = "would tell" if summary.plan else "told"
            console.print(f"consent: {verb} {name} {told}", highlight=False, markup=False)
        if p.blocked:
            why = ", ".join(f"{n} {_BLOCKED.get(state, state)}"
                            for state, n in sorted(p.blocked.items()))
            console.print(f"consent kept {sum(p.blocked.values())} contacts out of {name}: "
                          f"{why}", highlight=False, markup=False)
    lead = summary.lifecycle
    if lead is not None and lead.rules_changed:
        verb = "would be" if summary.plan else "were"
        console.print(f"lifecycle: [scoring] or [lifecycle] changed since the last run, so all "
                      f"{lead.evaluated} contacts {verb} evaluated again", highlight=False,
                      markup=False)
    if lead is not None and lead.changed:
        moves = ", ".join(f"{n} to {s}" for s, n in sorted(lead.moves.items())) or "none"
        handed = sum(1 for h in lead.handed_over if h.get("owner"))
        console.print(f"lifecycle: {lead.changed} contacts changed (stage moves: {moves}); "
                      f"new MQLs handed over: {lead.new_mqls} ({handed} with an owner)",
                      highlight=False, markup=False)
    if summary.rejected:
        console.print(f"[yellow]{summary.rejected_total} records rejected[/yellow] "
                      "(all of them: `hub dead-letters`):")
        for r in summary.rejected[:20]:
            where = r.origin or r.record_id or "?"
            console.print(f"  {r.connector} {where}: {r.reason}", highlight=False, markup=False)
    for d in summary.drift or []:
        say(console, "drift:", d.message)
    for e in summary.errors:
        say(console, f"{e.connector}:", e.message)
    console.print(f"finished in {summary.duration_s or 0.0:.1f} s, exit code {summary.exit_code}")


def print_funnel(numbers: dict[str, Any]) -> None:
    """Stage and band counts, one line each."""
    out.print("stages: " + ", ".join(f"{k} {v}" for k, v in numbers["stages"].items()),
              highlight=False, markup=False)
    out.print("bands: " + (", ".join(f"{k} {v}" for k, v in numbers["bands"].items()) or "-")
              + f"   dormant customers: {numbers['dormant_customers']}   premium customers: "
              f"{numbers['premium_customers']}", highlight=False, markup=False)


def print_lead(lead: dict[str, Any]) -> None:
    """The lifecycle part of `hub contacts explain`: stage, why, and the score rule by rule."""
    why = f" — {lead['reason']}" if lead["reason"] else ""
    out.print(Text.assemble((f"stage: {lead['stage']}", "bold"),
                            f" (set by {lead['stage_source']}){why}"), highlight=False)
    for note in lead["notes"]:
        out.print(f"  {note}", highlight=False, markup=False)
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
                  f"premium {v['premium']}", highlight=False, markup=False)
    for h in lead["history"]:
        out.print(f"  {h['at']}: {h['from'] or 'new'} → {h['to']} ({h['source']}: "
                  f"{h['reason']})", highlight=False, markup=False)
