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

from sqlalchemy import Connection, and_, func, select

from hub.clock import iso
from hub.lifecycle.stage import Stage
from hub.store.schema import contacts, leads, runs, stage_changes

_ACTIVE = and_(leads.c.contact_id == contacts.c.id, contacts.c.status == "active")


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
    tagged = conn.execute(select(leads.c.tags).select_from(leads).join(contacts, _ACTIVE)
                          .where(leads.c.value.is_not(None))).scalars()
    dormant = premium = 0
    for tags in tagged:
        dormant += "hub:dormant" in (tags or [])
        premium += "hub:premium" in (tags or [])
    return {"stages": {s.value: int(by_stage.get(s.value, 0)) for s in Stage},
            "bands": {str(k): int(v) for k, v in sorted(by_band.items())},
            "dormant_customers": dormant, "premium_customers": premium}


def report(conn: Connection, *, since: datetime | None, until: datetime) -> dict[str, Any]:
    """Counts now, plus the moves and conversions in [since, until] and new MQLs per run."""
    moves = select(stage_changes.c.contact_id, stage_changes.c.from_stage,
                   stage_changes.c.to_stage, stage_changes.c.source,
                   stage_changes.c.run_id).where(stage_changes.c.at <= until)
    if since is not None:
        moves = moves.where(stage_changes.c.at >= since)
    transitions: dict[tuple[str, str], int] = {}
    reached: dict[str, set[int]] = {}
    for row in conn.execute(moves):
        key = (row.from_stage or "new", row.to_stage)
        transitions[key] = transitions.get(key, 0) + 1
        reached.setdefault(row.to_stage, set()).add(row.contact_id)
    waterfall = [s for s in Stage if s is not Stage.OTHER]
    conversions = []
    for before, after in pairwise(waterfall):
        entered = len(reached.get(before.value, set()))
        went_on = len(reached.get(before.value, set()) & set().union(
            *(reached.get(s.value, set()) for s in waterfall[waterfall.index(after):])))
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


