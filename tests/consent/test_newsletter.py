"""What a newsletter is told: nobody without permission, one confirmation mail per window."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st

from hub.consent.newsletter import Told, newsletter_status
from hub.consent.policy import Decision, Policy, State

NOW = datetime(2026, 6, 1, tzinfo=UTC)
STATES: tuple[State, ...] = ("none", "unconfirmed", "pending", "confirmed", "unsubscribed",
                             "suppressed")


def decision(state: State, since: str | None = "2026-05-01T00:00:00Z") -> Decision:
    return Decision(state=state, since=since, source="crm", reason="test")


@pytest.mark.parametrize(("state", "listed", "recent", "told"), [
    ("none", False, False, Told(None, blocked="none")),
    ("none", True, False, Told(None, blocked="none")),
    ("confirmed", False, False, Told("subscribed")),
    ("unconfirmed", False, False, Told("pending")),
    ("unconfirmed", True, False, Told(None)),
    ("unconfirmed", False, True, Told(None, blocked="confirmation_requested_recently")),
    ("pending", False, False, Told(None, blocked="pending")),
    ("unsubscribed", False, False, Told(None, blocked="unsubscribed")),
    ("unsubscribed", True, False, Told("unsubscribed")),
    ("suppressed", True, False, Told("unsubscribed")),
])
def test_each_state(state: State, listed: bool, recent: bool, told: Told) -> None:
    assert newsletter_status(decision(state), listed=listed, requested_recently=recent,
                             policy=Policy(), now=NOW) == told


def test_stale_consent_keeps_a_new_contact_off_and_leaves_a_listed_one_alone() -> None:
    old = decision("confirmed", since="2020-01-01T00:00:00Z")
    policy = Policy(suppress_stale=True, expire_after_days=730)
    assert newsletter_status(old, listed=False, requested_recently=False, policy=policy,
                             now=NOW) == Told(None, blocked="stale")
    assert newsletter_status(old, listed=True, requested_recently=False, policy=policy,
                             now=NOW) == Told(None)


@given(st.sampled_from(STATES), st.booleans(), st.booleans())
def test_never_subscribes_without_a_confirmed_opt_in(state: State, listed: bool,
                                                     recent: bool) -> None:
    told = newsletter_status(decision(state), listed=listed, requested_recently=recent,
                             policy=Policy(), now=NOW)
    if told.status == "subscribed":
        assert state == "confirmed"
    if told.status == "pending":
        assert state == "unconfirmed" and not listed and not recent
    if state == "none":
        assert told.status is None and told.blocked == "none"
