"""Lifecycle rules: CRM decisions respected, paid orders, MQL by score, never backwards."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import insert, select, update

from hub.lifecycle.config import LifecycleSection, PushSection, ScoringSection
from hub.lifecycle.evaluation import Lifecycle, set_stage
from hub.lifecycle.lead_fields import lead_payload
from hub.lifecycle.leads import SourceView
from hub.lifecycle.stage import Stage
from hub.store import Store
from hub.store.schema import contacts, leads, source_records, stage_changes

NOW = datetime(2026, 6, 1, tzinfo=UTC)
DOI = {"kind": "doi_confirmed", "at": "2025-01-01T00:00:00+00:00", "channel": "email",
       "purpose": "newsletter"}
BOUNCE = {"kind": "bounce", "at": "2026-01-01T00:00:00+00:00", "channel": "email",
          "purpose": "newsletter"}


def rules(**lifecycle: Any) -> Lifecycle:
    scoring = ScoringSection.model_validate({"rules": [
        {"field": "job_title", "matches": "(?i)head", "points": 30},
        {"field": "member_rating", "min": 4, "points": 30, "behaviour": True}]})
    return Lifecycle(scoring, LifecycleSection.model_validate(lifecycle))


def view(connector: str, signals: dict[str, Any] | None = None,
         consent: tuple[dict[str, Any], ...] = ()) -> SourceView:
    return SourceView(connector, signals or {}, consent, datetime(2026, 5, 1, tzinfo=UTC))


HEAD = {"job_title": "Head of Sales"}
ENGAGED = view("newsletter", {"member_rating": 5}, (DOI,))


def test_score_over_the_threshold_makes_an_mql_with_a_reason() -> None:
    result = rules().evaluate(HEAD, [ENGAGED], NOW)
    assert (result.stage, result.source) == (Stage.MQL, "score")
    assert result.reason == "score 60 ≥ MQL threshold 50"
    assert result.tags() == ["hub:mql"]


def test_below_the_threshold_a_subscriber_stays_a_subscriber() -> None:
    result = rules().evaluate({}, [ENGAGED], NOW)
    assert (result.stage, result.source) == (Stage.SUBSCRIBER, "default")
    assert rules().evaluate({}, [], NOW).stage is Stage.LEAD


def test_sales_stages_from_the_crm_win_over_the_score() -> None:
    crm = view("crm", {"lifecyclestage": "salesqualifiedlead"})
    result = rules().evaluate(HEAD, [ENGAGED, crm], NOW)
    assert (result.stage, result.source) == (Stage.SQL, "crm")
    accepted = view("crm", {"lifecyclestage": "marketingqualifiedlead",
                            "hs_lead_status": "IN_PROGRESS"})
    assert rules().evaluate({}, [accepted], NOW).stage is Stage.SAL


def test_disqualified_by_sales_or_suppressed_consent_is_never_mqld() -> None:
    unqualified = view("crm", {"lifecyclestage": "lead", "hs_lead_status": "UNQUALIFIED"})
    result = rules().evaluate(HEAD, [ENGAGED, unqualified], NOW)
    assert result.stage is Stage.LEAD and result.disqualified
    assert "sales disqualified" in result.notes[0]
    assert "hub:unqualified" in result.tags()
    bounced = view("newsletter", {"member_rating": 5}, (DOI, BOUNCE))
    result = rules().evaluate(HEAD, [bounced], NOW)
    assert result.stage is Stage.LEAD and "consent is suppressed" in result.notes[0]


def test_a_paid_order_makes_a_customer_and_nothing_moves_back() -> None:
    shop = view("shop", {"orders_count": 1, "paid_orders_count": 1, "amount_spent": 50.0,
                         "last_order_at": "2026-05-01T00:00:00Z"})
    result = rules().evaluate({}, [shop], NOW)
    assert (result.stage, result.source) == (Stage.CUSTOMER, "orders")
    again = rules().evaluate(HEAD, [ENGAGED], NOW, previous=Stage.CUSTOMER)
    assert again.stage is Stage.CUSTOMER and again.source == "kept"
    assert "never moves a stage back" in again.notes[0]


def test_routes_first_then_round_robin() -> None:
    lc = rules(handover={"routes": [{"field": "country", "in": ["AT", "CH"], "owner": "7"},
                                    {"field": "zip", "min": "10000", "max": "39999",
                                     "owner": "8"}],
                         "owners": ["1", "2"]})
    assert lc.route({"country": "at"}, 0) == ("7", False)
    assert lc.route({"country": "DE", "zip": "20095"}, 0) == ("8", False)
    assert [lc.route({"zip": "80331"}, n)[0] for n in range(3)] == ["1", "2", "1"]


def test_payload_carries_only_what_the_push_section_asks_for() -> None:
    row = type("Row", (), {"stage": "mql", "stage_source": "score", "score": 61, "band": "hot", "tags": ["hub:mql"],
                           "owner": "7", "value": {"revenue": 120.0}, "provisional": None})()
    assert lead_payload(row, PushSection(owner=True, lead_status={"mql": "NEW"},
                                         properties={"score": "hub_score",
                                                     "revenue": "hub_revenue"})) == {
        "lead.stage": "mql", "lead.score": 61, "lead.band": "hot", "lead.tags": ["hub:mql"],
        "lead.owner": "7", "lead.status": "NEW",
        "lead.properties": {"hub_score": 61, "hub_revenue": 120.0}}
    assert lead_payload(row, PushSection(stage=False, score=False, band=False,
                                         tags=False)) == {}


def _contact(conn: Any, cid: int, fields: dict[str, Any], *records: SourceView) -> None:
    conn.execute(insert(contacts).values(id=cid, email=f"p{cid}@example.de", fields=fields,
                                         provenance={}, status="active", content_hash="x",
                                         created_at=NOW, updated_at=NOW))
    for n, r in enumerate(records):
        conn.execute(insert(source_records).values(
            connector=r.connector, external_id=f"{cid}-{n}", contact_id=cid, fields={},
            signals=dict(r.signals), consent=list(r.consent), content_hash="x", seen_at=NOW,
            source_updated_at=r.at, deleted=False, dirty=False))


def test_apply_stores_audits_hands_over_and_is_quiet_when_nothing_changed(
        store: Store) -> None:
    lc = rules(handover={"owners": ["1", "2"]})
    with store.begin() as conn:
        _contact(conn, 1, HEAD, ENGAGED)
        _contact(conn, 2, HEAD, ENGAGED)
        _contact(conn, 3, {}, view("crm", {"lifecyclestage": "opportunity"}))
        first = lc.apply(conn, run_id=1, now=NOW)
        owners = dict(conn.execute(select(leads.c.contact_id, leads.c.owner)).all())
        audit = conn.execute(select(stage_changes.c.contact_id, stage_changes.c.to_stage,
                                    stage_changes.c.source)
                             .order_by(stage_changes.c.contact_id)).all()
    assert (first.evaluated, first.changed, first.new_mqls) == (3, 3, 2)
    assert first.as_dict()["stage_moves"] == {"mql": 2, "opportunity": 1}
    assert owners == {1: "1", 2: "2", 3: None}
    assert [tuple(a) for a in audit] == [(1, "mql", "score"), (2, "mql", "score"),
                                         (3, "opportunity", "crm")]
    with store.begin() as conn:
        second = lc.apply(conn, run_id=2, now=NOW)
    assert (second.changed, second.new_mqls) == (0, 0)

    # ops may move back; it is audited, pushed next run (reset first), and it holds against
    # the rules and the CRM's old stage until sales set a different stage afterwards
    with store.begin() as conn:
        assert set_stage(conn, 3, Stage.LEAD, reason="wrong deal", now=NOW,
                         actor="ops") == "opportunity"
        third = lc.apply(conn, run_id=3, now=NOW)
        row = conn.execute(select(leads).where(leads.c.contact_id == 3)).one()
        assert lead_payload(row, PushSection())["lead.reset"] is True
        from sqlalchemy import update
        conn.execute(update(source_records).where(source_records.c.contact_id == 3).values(
            signals={"lifecyclestage": "lead"}, source_updated_at=datetime(2026, 6, 2,
                                                                           tzinfo=UTC)))
        echo = lc.apply(conn, run_id=4, now=NOW, touched={3})  # hub's own push, read back
        conn.execute(update(source_records).where(source_records.c.contact_id == 3).values(
            signals={"lifecyclestage": "customer"}, source_updated_at=datetime(
                2026, 6, 3, tzinfo=UTC)))
        released = lc.apply(conn, run_id=5, now=NOW, touched={3})
        trail = conn.execute(select(stage_changes.c.source, stage_changes.c.reason,
                                    stage_changes.c.to_stage)
                             .where(stage_changes.c.contact_id == 3)
                             .order_by(stage_changes.c.id)).all()
    assert third.changed == 1 and third.moves == {}
    assert row.stage == "lead" and row.stage_source == "ops" and not row.dirty
    assert echo.moves == {}
    assert released.moves == {"customer": 1}
    assert [(t.source, t.to_stage) for t in trail] == [
        ("crm", "opportunity"), ("ops", "lead"), ("crm", "customer")]
    assert trail[1].reason == "wrong deal (by ops)"


def test_a_run_looks_at_touched_contacts_and_customers_unless_points_decay(
        store: Store) -> None:
    from sqlalchemy import update

    lc = rules()
    with store.begin() as conn:
        _contact(conn, 1, HEAD, ENGAGED)
        _contact(conn, 2, {}, view("shop", {"orders_count": 1, "paid_orders_count": 1,
                                            "amount_spent": 10.0,
                                            "last_order_at": "2025-07-01T00:00:00Z"}))
        assert lc.apply(conn, run_id=1, now=NOW, touched={1, 2}).changed == 2
        conn.execute(update(source_records).where(source_records.c.contact_id == 1)
                     .values(signals={"member_rating": 1}))
        later = datetime(2026, 8, 1, tzinfo=UTC)  # the customer turns dormant by the clock
        quiet = lc.apply(conn, run_id=2, now=later, touched=set())
        assert quiet.evaluated == 1 and quiet.changed == 1
        assert conn.execute(select(leads.c.tags).where(leads.c.contact_id == 2)).scalar() \
            == ["hub:customer", "hub:dormant"]
        # contact 1 was not touched: still MQL; touched, it stays MQL (never back)
        assert lc.apply(conn, run_id=3, now=later, touched={1}).moves == {}
        decaying = Lifecycle(ScoringSection(half_life_days=30), LifecycleSection())
        assert decaying.apply(conn, run_id=4, now=later, touched=set()).evaluated == 2


def test_a_run_reads_only_the_contacts_it_asks_for_inside_a_range_of_ids(store: Store) -> None:
    lc = rules()
    with store.begin() as conn:
        everyone = set(range(1, 10))
        for cid in sorted(everyone):
            _contact(conn, cid, HEAD, ENGAGED)
        assert lc.apply(conn, run_id=1, now=NOW, touched=everyone).evaluated == 9
        conn.execute(update(leads).where(leads.c.contact_id == 5).values(stage="lead"))
        # 1–4 and 6–9 read as one range of ids, which holds 5: it is neither evaluated nor fixed
        again = lc.apply(conn, run_id=2, now=NOW, touched=everyone - {5})
        assert again.evaluated == 8
        assert conn.execute(select(leads.c.stage).where(leads.c.contact_id == 5)).scalar() \
            == "lead"


def test_behaviour_ages_from_when_its_value_changed_not_when_the_record_did() -> None:
    lc = Lifecycle(ScoringSection.model_validate({"half_life_days": 30, "rules": [
        {"field": "member_rating", "min": 4, "points": 40, "behaviour": True}]}),
        LifecycleSection())
    old = datetime(2026, 4, 2, tzinfo=UTC)  # 60 days before NOW
    first = lc.evaluate({}, [SourceView("newsletter", {"member_rating": 5}, (), old)], NOW)
    assert first.score.total == 10 and first.seen["member_rating"][0] == 5
    # hub's own tag write moved the record's time to now; the rating did not change
    touched = SourceView("newsletter", {"member_rating": 5}, (), NOW)
    assert lc.evaluate({}, [touched], NOW, seen=first.seen).score.total == 10
    # a new rating is new behaviour: full points again
    rated = SourceView("newsletter", {"member_rating": 4}, (), NOW)
    assert lc.evaluate({}, [rated], NOW, seen=first.seen).score.total == 40


def test_a_stage_decided_while_a_system_was_unread_is_provisional_until_it_is_read(
        store: Store) -> None:
    """Mailchimp down in the first run: consent unknown, so a lead; read later: a subscriber."""
    lc = rules()
    with store.begin() as conn:
        _contact(conn, 1, {}, view("crm"))
        _contact(conn, 2, {}, view("crm", {"lifecyclestage": "opportunity"}))
        first = lc.apply(conn, run_id=1, now=NOW, unread=["newsletter"])
        marks = dict(conn.execute(select(leads.c.contact_id, leads.c.provisional)).all())
        assert first.moves == {"lead": 1, "opportunity": 1}
        assert marks == {1: {"unread": ["newsletter"]}, 2: {"unread": ["newsletter"]}}
        # still down: still provisional, and nothing is decided for good
        assert lc.apply(conn, run_id=2, now=NOW, touched=set(), unread=["newsletter"]) \
            .moves == {}
        # the newsletter comes back with contact 1's double opt-in (not a touch of contact 2)
        conn.execute(insert(source_records).values(
            connector="newsletter", external_id="nl-1", contact_id=1, fields={}, signals={},
            consent=[DOI], content_hash="x", seen_at=NOW, source_updated_at=NOW,
            deleted=False, dirty=False))
        read = lc.apply(conn, run_id=3, now=NOW, touched={1})
        rows = {r.contact_id: r for r in conn.execute(select(leads))}
        trail = conn.execute(select(stage_changes.c.from_stage, stage_changes.c.to_stage)
                             .where(stage_changes.c.contact_id == 1)
                             .order_by(stage_changes.c.id)).all()
    assert read.moves == {"subscriber": 1} and read.evaluated == 2
    assert rows[1].stage == "subscriber" and rows[1].provisional == {"moved_back_from": "lead"}
    assert lead_payload(rows[1], PushSection())["lead.reset"] is True  # a CRM is reset first
    assert rows[2].stage == "opportunity" and rows[2].provisional is None
    assert [tuple(t) for t in trail] == [(None, "lead"), ("lead", "subscriber")]
    with store.begin() as conn:  # decided with every system read: final, never back again
        conn.execute(update(source_records).where(source_records.c.contact_id == 2)
                     .values(signals={"lifecyclestage": "lead"}))
        assert lc.apply(conn, run_id=4, now=NOW, touched={2}).moves == {}


def test_changed_rules_reach_every_existing_contact_at_the_next_run(store: Store) -> None:
    with store.begin() as conn:
        _contact(conn, 1, HEAD, view("crm"))
        _contact(conn, 2, {}, view("crm"))
        first = rules().apply(conn, run_id=1, now=NOW)
        assert not first.rules_changed and first.evaluated == 2
        assert rules().apply(conn, run_id=2, now=NOW, touched=set()).evaluated == 0
        # marketing and sales agree on a lower threshold: the head of sales is an MQL now
        lower = rules(mql_threshold=25)
        changed = lower.apply(conn, run_id=3, now=NOW, touched=set())
        assert changed.rules_changed and changed.evaluated == 2
        assert changed.moves == {"mql": 1} and changed.as_dict()["rules_changed"] is True
        again = lower.apply(conn, run_id=4, now=NOW, touched=set())
    assert not again.rules_changed and again.evaluated == 0
    assert "rules_changed" not in again.as_dict()
