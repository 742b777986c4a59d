"""Subscription statuses → consent observations, by docs/consent.md, rule 1 (never upgrade)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from hub_hubspot.subscriptions import observations

SUB = "7"


def status(**fields: Any) -> dict[str, Any]:
    return {"recipient": "a@b.com", "subscriptionStatuses": [
        {"id": SUB, "name": "Newsletter", "sourceOfStatus": "SUBSCRIPTION_STATUS", **fields}]}


def test_doi_needs_consent_with_notice_and_a_confirmation_time() -> None:
    (seen,) = observations(status(status="SUBSCRIBED", legalBasis="CONSENT_WITH_NOTICE",
                                  legalBasisExplanation="form + confirmation mail",
                                  doubleOptIn={"confirmedAt": "2023-05-01T10:00:00Z",
                                               "confirmationIp": "192.0.2.1"}), SUB)
    assert seen.kind == "doi_confirmed"
    assert seen.at == datetime(2023, 5, 1, 10, tzinfo=UTC)
    assert seen.evidence["legal_basis"] == "CONSENT_WITH_NOTICE"
    assert seen.evidence["legal_basis_explanation"] == "form + confirmation mail"
    assert seen.evidence["confirmed_at"] == "2023-05-01T10:00:00+00:00"


def test_consent_with_notice_without_evidence_is_only_single_opt_in() -> None:
    (seen,) = observations(status(status="SUBSCRIBED", legalBasis="CONSENT_WITH_NOTICE"), SUB)
    assert seen.kind == "single_opt_in"
    (flag,) = observations(status(status="SUBSCRIBED", legalBasis="CONSENT_WITH_NOTICE",
                                  doubleOptIn={"confirmed": True}), SUB)
    assert flag.kind == "single_opt_in"


def test_other_bases_are_single_opt_in_with_the_basis() -> None:
    (seen,) = observations(status(status="SUBSCRIBED", legalBasis="LEGITIMATE_INTEREST_CLIENT",
                                  doubleOptIn={"confirmedAt": "2023-05-01T10:00:00Z"}), SUB)
    assert seen.kind == "single_opt_in"
    assert seen.evidence["legal_basis"] == "LEGITIMATE_INTEREST_CLIENT"


def test_opt_outs() -> None:
    (own,) = observations(status(status="NOT_SUBSCRIBED"), SUB)
    assert own.kind == "opt_out"
    wide = {"subscriptionStatuses": [
        {"id": SUB, "status": "SUBSCRIBED", "legalBasis": "CONSENT_WITH_NOTICE",
         "sourceOfStatus": "SUBSCRIPTION_STATUS"},
        {"id": "9", "status": "NOT_SUBSCRIBED", "sourceOfStatus": "PORTAL_WIDE_STATUS"}]}
    (portal,) = observations(wide, SUB)
    assert portal.kind == "opt_out"
    assert portal.evidence["source_of_status"] == "PORTAL_WIDE_STATUS"


def test_no_status_for_the_subscription_says_nothing() -> None:
    assert observations({"subscriptionStatuses": []}, SUB) == []
    other = {"subscriptionStatuses": [{"id": "9", "status": "NOT_SUBSCRIBED",
                                       "sourceOfStatus": "SUBSCRIPTION_STATUS"}]}
    assert observations(other, SUB) == []
