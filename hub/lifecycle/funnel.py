"""Funnel numbers: how many contacts stand on each stage and band, and how they moved.

Marketing and sales judge their agreement by these: the waterfall's counts, the conversions
from one stage to the next over a period, the sleeping customers a win-back campaign should
reach, and how many new MQLs each run handed to sales. Everything is read from the store
(`leads`, `stage_changes`, `runs`), so `hub status` and `hub report` cost no API call.
"""

from __future__ import annotations

from datetime import datetime
from itertools import pairwise
from typing import Any

from sqlalchemy import Connection, String, and_, case, cast, func, or_, select
from sqlalchemy.sql.elements import ColumnElement

from hub.clock import iso
from hub.lifecycle.stage import Stage
from hub.store.schema import contacts, leads, runs, stage_changes

_ACTIVE = and_(leads.c.contact_id == contacts.c.id, contacts.c.status == "active")


def tagged(tag: str) -> ColumnElement[bool]:
    """Leads carrying `tag`, matched in the stored JSON text of their tags.

    Tags are a JSON array of strings with no quote or backslash in them, so the quoted tag
    occurs in the text exactly when the array holds it. Counted by the store, not by
    loading every customer's tags.
    """
    return cast(leads.c.tags, String).like(f'%"{tag}"%')


def counts(conn: Connection) -> dict[str, Any]:
    """Contacts per stage (waterfall order) and per band, and dormant/premium customers."""
    by_stage: dict[str, int] = {
        str(k): int(v) for k, v in conn.execute(
            select(leads.c.stage, func.count()).select_from(leads).join(contacts, _ACTIVE)
            .group_by(leads.c.stage))}
    by_band: dict[str, int] = {
        str(k): int(v) for k, v in conn.execute(
            select(leads.c.band, func.count()).select_from(leads).join(contacts, _ACTIVE)
            .group_by(leads.c.band))}
    dormant, premium = (int(conn.execute(
        select(func.count()).select_from(leads).join(contacts, _ACTIVE)
        .where(leads.c.value.is_not(None), tagged(tag))).scalar_one())
        for tag in ("hub:dormant", "hub:premium"))
    return {"stages": {s.value: int(by_stage.get(s.value, 0)) for s in Stage},
            "bands": {str(k): int(v) for k, v in sorted(by_band.items())},
            "dormant_customers": dormant, "premium_customers": premium}


def report(conn: Connection, *, since: datetime | None, until: datetime) -> dict[str, Any]:
    """Counts now, plus the moves and conversions in [since, until] and new MQLs per run."""
    period = [stage_changes.c.at <= until, *([stage_changes.c.at >= since] if since else [])]
    transitions: dict[tuple[str, str], int] = {}
    for before, after, n in conn.execute(
            select(stage_changes.c.from_stage, stage_changes.c.to_stage, func.count())
            .where(*period).group_by(stage_changes.c.from_stage, stage_changes.c.to_stage)):
        key = (before or "new", after)
        transitions[key] = transitions.get(key, 0) + int(n)
    # per contact, which stages it reached in the period; then, per step of the waterfall,
    # how many reached it and how many of those reached a later one: counted by the store
    waterfall = [s for s in Stage if s is not Stage.OTHER]
    reached = select(*(func.max(case((stage_changes.c.to_stage == s.value, 1), else_=0))
                       .label(s.value) for s in waterfall)) \
        .where(*period).group_by(stage_changes.c.contact_id).subquery("reached")
    steps = list(pairwise(waterfall))
    columns = []
    for before, after in steps:
        later = or_(*(reached.c[s.value] == 1 for s in waterfall[waterfall.index(after):]))
        columns.append(func.coalesce(func.sum(reached.c[before.value]), 0)
                       .label(f"entered_{before.value}"))
        columns.append(func.coalesce(func.sum(case(
            (and_(reached.c[before.value] == 1, later), 1), else_=0)), 0)
            .label(f"converted_{before.value}"))
    totals = conn.execute(select(*columns)).one()._mapping
    conversions = []
    for before, after in steps:
        entered = int(totals[f"entered_{before.value}"])
        went_on = int(totals[f"converted_{before.value}"])
        conversions.append({"from": before.value, "to": after.value, "entered": entered,
                            "converted": went_on,
                            "rate": round(went_on / entered, 3) if entered else None})
    per_run = []
    recent = select(runs.c.id, runs.c.started_at, runs.c.summary).order_by(runs.c.id.desc()) \
        .limit(20)
    if since is not None:
        recent = recent.where(runs.c.started_at >= since)
    for run in conn.execute(recent):
        lifecycle = (run.summary or {}).get("lifecycle") or {}
        per_run.append({"run_id": run.id, "started_at": iso(run.started_at),
                        "new_mqls": int(lifecycle.get("new_mqls", 0)),
                        "handed_over": sum(1 for h in lifecycle.get("handed_over", [])
                                           if h.get("owner"))})
    return {**counts(conn), "since": iso(since), "until": iso(until),
            "moves": [{"from": f, "to": t, "count": n}
                      for (f, t), n in sorted(transitions.items())],
            "conversions": conversions, "runs": per_run}


