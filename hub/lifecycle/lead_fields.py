"""What each system is told about a contact's lifecycle: the reserved ``lead.*`` fields.

`outbox.plan` adds them to the payload of connectors with a ``[lifecycle.push.NAME]`` table;
connectors read them from `OutboundRecord.fields`: ``lead.stage`` (a `Stage` value),
``lead.score`` (int), ``lead.band``, ``lead.tags`` (full ``hub:`` tags that replace every
older ``hub:`` tag), ``lead.owner`` (CRM owner id), ``lead.status`` (the CRM's lead status),
``lead.properties`` (CRM property → value) and ``lead.reset`` (ops moved the stage back: a
CRM that only moves forward must clear its stage first).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import Connection, select

from hub.lifecycle.config import PushSection
from hub.store.bulk import chunks
from hub.store.schema import leads


def payloads(push: PushSection) -> Any:
    """For `outbox.plan`: the ``lead.*`` fields connector NAME gets, per contact id."""
    def lead_fields(conn: Connection, ids: Sequence[int]) -> dict[int, dict[str, Any]]:
        found: dict[int, dict[str, Any]] = {}
        for part in chunks(list(ids)):
            for row in conn.execute(select(leads).where(leads.c.contact_id.in_(part))):
                found[row.contact_id] = lead_payload(row, push)
        return found
    return lead_fields


def lead_payload(row: Any, push: PushSection) -> dict[str, Any]:
    """The reserved ``lead.*`` keys of `OutboundRecord.fields` for one lead row."""
    fields: dict[str, Any] = {}
    if push.stage:
        fields["lead.stage"] = row.stage
        if row.stage_source == "ops" or (row.provisional or {}).get("moved_back_from"):
            # an ops decision, or the correction of a provisional one, may be a step back,
            # which a CRM ignores unless it is reset first
            fields["lead.reset"] = True
    if push.score:
        fields["lead.score"] = int(row.score)
    if push.band and row.band:
        fields["lead.band"] = row.band
    if push.tags:
        fields["lead.tags"] = list(row.tags or [])
    if push.owner and row.owner:
        fields["lead.owner"] = row.owner
    status = push.lead_status.get(row.stage)
    if status:
        fields["lead.status"] = status
    if push.properties:
        value = row.value or {}
        known = {"score": int(row.score), "band": row.band, "stage": row.stage,
                 "orders": value.get("orders"), "revenue": value.get("revenue"),
                 "aov": value.get("aov"), "rfm": value.get("segment"),
                 "first_order_at": value.get("first_order_at"),
                 "last_order_at": value.get("last_order_at"),
                 "dormant": value.get("dormant"), "premium": value.get("premium")}
        fields["lead.properties"] = {prop: known[name] for name, prop in push.properties.items()
                                     if known.get(name) is not None}
    return fields
