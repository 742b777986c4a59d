"""hub's own consent writes read back (docs/consent.md, rule 10): recognised, never new evidence."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from hub.consent.policy import decide
from hub.consent.readback import Written, as_evidence, is_echo

WROTE_AT = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


def event(kind: str, at: str | None) -> dict[str, Any]:
    return {"kind": kind, "at": at, "channel": "email", "purpose": "newsletter"}


SHOP_DOI = event("doi_confirmed", "2026-02-01T09:00:00+00:00")


@pytest.mark.parametrize(("written", "seen", "echo"), [
    ("subscribed", event("single_opt_in", "2026-03-01T12:00:05+00:00"), True),
    ("subscribed", event("doi_confirmed", "2026-03-01T12:00:05+00:00"), False),  # proof
    ("subscribed", event("single_opt_in", "2026-01-01T00:00:00+00:00"), False),  # older
    ("subscribed", event("opt_out", "2026-03-02T00:00:00+00:00"), False),  # their own news
    ("pending", event("doi_requested", "2026-03-01T12:00:00+00:00"), True),
    ("pending", event("doi_confirmed", "2026-03-03T00:00:00+00:00"), False),  # they clicked
    ("unsubscribed", event("opt_out", None), True),
    ("unsubscribed", event("doi_confirmed", "2026-03-03T00:00:00+00:00"), False),
])
def test_an_echo_shows_what_hub_wrote_dated_after_it(written: str, seen: dict[str, Any],
                                                      echo: bool) -> None:
    assert is_echo(seen, Written(written, WROTE_AT, "rec-1"), "rec-1") is echo
    assert is_echo(seen, Written(written, WROTE_AT), "rec-1") is echo  # record not known yet
    assert is_echo(seen, Written(written, WROTE_AT, "rec-1"), "rec-2") is False  # another
    assert is_echo(seen, None, "rec-1") is False


def test_a_subscription_hub_wrote_is_no_evidence_and_the_doi_still_decides() -> None:
    echo = event("single_opt_in", "2026-03-01T12:00:05+00:00")
    naive = decide([("shop", SHOP_DOI), ("newsletter", echo)])
    assert naive.state == "unconfirmed"  # the bug: hub's own write read as a newer opt-in
    seen = as_evidence([echo], Written("subscribed", WROTE_AT, "m1"), "m1")
    assert seen == []
    decided = decide([("shop", SHOP_DOI), *(("newsletter", e) for e in seen)])
    assert (decided.state, decided.source) == ("confirmed", "shop")


def test_a_request_hub_wrote_counts_from_hubs_decision() -> None:
    (request,) = as_evidence([event("doi_requested", "2026-03-05T00:00:00+00:00")],
                             Written("pending", WROTE_AT, "m1"), "m1")
    assert request["at"] == WROTE_AT.isoformat() and request["written_by_hub"]
    # an opt-out between hub's decision and the system's echo is not outranked by the echo
    opt_out = event("opt_out", "2026-03-02T00:00:00+00:00")
    assert decide([("crm", opt_out), ("newsletter", request)]).state == "unsubscribed"


def test_a_withdrawal_is_never_moved_earlier_so_no_older_permission_can_win() -> None:
    # hub wrote unsubscribed at noon; the person confirmed a DOI elsewhere, then opted out in
    # the newsletter themselves: that opt-out must not be mistaken for hub's and dated noon
    later = event("opt_out", "2026-03-05T00:00:00+00:00")
    (kept,) = as_evidence([later], Written("unsubscribed", WROTE_AT, "m1"), "m1")
    assert kept == later
    doi = event("doi_confirmed", "2026-03-03T00:00:00+00:00")
    assert decide([("shop", doi), ("newsletter", kept)]).state == "unsubscribed"
