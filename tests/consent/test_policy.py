"""Consent decisions: never upgraded, newest wins, withdrawals win ties, order-independent."""

from __future__ import annotations

from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from hub.consent.policy import decide


def ev(kind: str, at: str | None, **extra: Any) -> dict[str, Any]:
    return {"kind": kind, "at": at, "purpose": "newsletter", "channel": "email", **extra}


def test_only_a_confirmed_double_opt_in_confirms() -> None:
    assert decide([("shop", ev("single_opt_in", "2026-01-01T00:00:00+00:00"))]).state == "unconfirmed"
    assert decide([("shop", ev("single_opt_in", None))]).state == "unconfirmed"
    assert decide([("newsletter", ev("doi_confirmed", "2026-01-01T00:00:00+00:00"))]).may_subscribe
    assert decide([]).state == "none"


def test_newest_event_wins_across_systems() -> None:
    doi = ("newsletter", ev("doi_confirmed", "2026-01-01T00:00:00+00:00"))
    out = ("crm", ev("opt_out", "2026-02-01T00:00:00+00:00"))
    again = ("newsletter", ev("doi_confirmed", "2026-03-01T00:00:00+00:00"))
    assert decide([doi, out]).state == "unsubscribed"
    assert decide([doi, out, again]).state == "confirmed"


def test_restrictive_event_wins_a_tie_and_other_channels_do_not_count() -> None:
    same = "2026-01-01T00:00:00+00:00"
    assert decide([("a", ev("doi_confirmed", same)), ("b", ev("opt_out", same))]).state == "unsubscribed"
    phone = ("crm", {"kind": "doi_confirmed", "at": same, "channel": "phone"})
    assert decide([phone]).state == "none"


def test_bounces_suppress() -> None:
    d = decide([("newsletter", ev("doi_confirmed", "2026-01-01T00:00:00+00:00")),
                ("newsletter", ev("bounce", "2026-01-02T00:00:00+00:00"))])
    assert d.state == "suppressed" and "bounce" in d.reason


_kinds = st.sampled_from(["single_opt_in", "signup", "doi_requested", "opt_out", "bounce",
                          "complaint", "doi_confirmed"])
_times = st.sampled_from([None, "2025-01-01T00:00:00+00:00", "2026-01-01T00:00:00+00:00",
                          "2026-06-01T00:00:00+00:00"])
_events = st.lists(st.tuples(st.sampled_from(["crm", "shop", "newsletter"]),
                             st.builds(ev, _kinds, _times)), max_size=8)


@settings(max_examples=400, deadline=None)
@given(_events, st.randoms(use_true_random=False))
def test_decisions_are_order_independent_and_never_upgrade(events: list[Any], rnd: Any) -> None:
    decision = decide(events)
    shuffled = list(events)
    rnd.shuffle(shuffled)
    assert decide(shuffled) == decision
    if decision.state == "confirmed":
        # some dated DOI exists, and no withdrawal is newer than it
        confirms = [e["at"] for _, e in events if e["kind"] == "doi_confirmed" and e["at"]]
        assert confirms
        latest = max(confirms)
        assert not any(e["kind"] in ("opt_out", "bounce", "complaint") and (e["at"] or "") >= latest
                       for _, e in events if e["at"])
    without_doi = [(c, e) for c, e in events if e["kind"] != "doi_confirmed"]
    assert decide(without_doi).state != "confirmed"


def test_an_undated_withdrawal_cannot_be_outrun() -> None:
    d = decide([("newsletter", ev("doi_confirmed", "2026-01-01T00:00:00+00:00")),
                ("accounting", ev("opt_out", None))])
    assert d.state == "unsubscribed" and d.since is None
