"""Subscription statuses → consent observations, by docs/consent.md rules 1 (never upgrade),
9 ("no choice" is not a choice) and 10 (hub's own writes come back)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from hub_hubspot.subscriptions import OWN_MARK, v3_observations, v4_observations

SUB = "7"
AT = "2025-05-01T10:00:00.000Z"


def v4(**fields: Any) -> dict[str, Any]:
    return {"channel": "EMAIL", "subscriberIdString": "a@b.de", "subscriptionId": 7,
            "source": "FORM", "timestamp": AT, **fields}


def test_v4_doi_needs_consent_with_notice_from_a_configured_doi_source() -> None:
    status = v4(status="SUBSCRIBED", legalBasis="CONSENT_WITH_NOTICE", source="DOUBLE_OPT_IN")
    (proven,) = v4_observations([status], [], SUB, frozenset({"DOUBLE_OPT_IN"}))
    assert proven.kind == "doi_confirmed"
    assert proven.at == datetime(2025, 5, 1, 10, tzinfo=UTC)
    assert proven.evidence["confirmed_at"] == "2025-05-01T10:00:00+00:00"
    (unproven,) = v4_observations([status], [], SUB)  # no doi_sources configured
    assert unproven.kind == "single_opt_in"
    (other,) = v4_observations([{**status, "legalBasis": "LEGITIMATE_INTEREST_CLIENT"}], [],
                               SUB, frozenset({"DOUBLE_OPT_IN"}))
    assert other.kind == "single_opt_in"


def test_v4_unsubscribed_and_wide_opt_outs_are_withdrawals_with_their_time() -> None:
    (own,) = v4_observations([v4(status="UNSUBSCRIBED")], [], SUB)
    assert own.kind == "opt_out" and own.at == datetime(2025, 5, 1, 10, tzinfo=UTC)
    wide = {"channel": "EMAIL", "status": "UNSUBSCRIBED", "wideStatusType": "PORTAL_WIDE",
            "timestamp": AT, "subscriberIdString": "a@b.de"}
    (portal,) = v4_observations([v4(status="NOT_SPECIFIED")], [wide], SUB)
    assert portal.kind == "opt_out" and portal.evidence["wide_status"] == "PORTAL_WIDE"


def test_v4_hubs_own_subscribe_reads_back_as_nothing() -> None:
    mine = v4(status="SUBSCRIBED", legalBasis="CONSENT_WITH_NOTICE",
              legalBasisExplanation=f"{OWN_MARK} double opt-in confirmed")
    assert v4_observations([mine], [], SUB, frozenset({"FORM"})) == []


@given(st.sampled_from(["NOT_SPECIFIED"]), st.text(max_size=20),
       st.sampled_from([None, "CONSENT_WITH_NOTICE", "LEGITIMATE_INTEREST_CLIENT"]),
       st.sampled_from(["NOT_SPECIFIED", "SUBSCRIBED", "UNSUBSCRIBED"]))
def test_not_specified_is_never_an_opt_out_nor_a_permission(
        state: str, source: str, basis: str | None, other_type: str) -> None:
    """Whatever else the answer holds, a NOT_SPECIFIED newsletter type says nothing, and
    another type's status never speaks for it."""
    statuses = [v4(status=state, source=source, legalBasis=basis),
                v4(status=other_type, subscriptionId=8, source=source, legalBasis=basis)]
    assert v4_observations(statuses, [], SUB, frozenset({source})) == []


def v3(**fields: Any) -> dict[str, Any]:
    return {"recipient": "a@b.de", "subscriptionStatuses": [
        {"id": SUB, "name": "Newsletter", "description": "", "sourceOfStatus":
         "SUBSCRIPTION_STATUS", **fields}]}


def test_v3_bare_not_subscribed_is_not_a_withdrawal() -> None:
    assert v3_observations(v3(status="NOT_SUBSCRIBED"), SUB) == []


def test_v3_recorded_and_wide_opt_outs_are_withdrawals_without_a_time() -> None:
    (recorded,) = v3_observations(v3(status="NOT_SUBSCRIBED",
                                     legalBasis="LEGITIMATE_INTEREST_OTHER"), SUB)
    assert recorded.kind == "opt_out" and recorded.at is None
    (wide,) = v3_observations(v3(status="NOT_SUBSCRIBED",
                                 sourceOfStatus="PORTAL_WIDE_STATUS"), SUB)
    assert wide.kind == "opt_out"
    assert wide.evidence["source_of_status"] == "PORTAL_WIDE_STATUS"


def test_v3_subscribed_is_at_most_an_undated_single_opt_in() -> None:
    (seen,) = v3_observations(v3(status="SUBSCRIBED", legalBasis="CONSENT_WITH_NOTICE"), SUB)
    assert seen.kind == "single_opt_in" and seen.at is None


def test_another_type_says_nothing_about_the_newsletter() -> None:
    other = {"subscriptionStatuses": [{"id": "9", "status": "SUBSCRIBED",
                                       "sourceOfStatus": "SUBSCRIPTION_STATUS"}]}
    assert v3_observations(other, SUB) == []
    assert v3_observations({"subscriptionStatuses": []}, SUB) == []
