"""The Mailchimp connector against the Mailchimp simulator over loopback HTTP."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hub.connector import OutboundRecord
from hub.errors import ConnectorError, UnreachableError
from hub_mailchimp.connector import consent_of, refusal
from hub_sandbox.app import RunningSandbox


def read_all(connector: Any, cursor: str | None = None) -> tuple[list[Any], str | None]:
    pages = list(connector.read("contacts", cursor))
    return [r for p in pages for r in p.records], pages[-1].cursor


def test_full_read_pages_through_every_member_with_minimum_calls(sandbox: RunningSandbox,
                                                                 make: Any) -> None:
    connector = make()
    records, _ = read_all(connector)
    sim = sandbox.sandbox.mailchimp
    assert len(records) == sim.summary()["members"]
    live = sum(1 for r in records if not r.deleted)
    # members in pages of 1000, plus one (empty or short) page of archived ones
    assert connector.context.api_calls == -(-live // 1000) + 1 + (live % 1000 == 0)
    anna = records[0]
    assert anna.fields["email"] and anna.updated_at is not None
    assert {"member_rating", "avg_open_rate", "newsletter_status"} <= set(anna.signals)


def test_incremental_read_returns_only_changes(sandbox: RunningSandbox, make: Any) -> None:
    connector = make()
    _, cursor = read_all(connector)
    again, cursor2 = read_all(connector, cursor)
    assert len(again) <= 5  # only the overlap window, not the audience
    sim = sandbox.sandbox.mailchimp
    creds = sandbox.credentials()["mailchimp"]
    member = next(iter(sim.members.values()))
    httpx.patch(f"{creds['base_url']}/lists/{creds['list_id']}/members/{member['id']}",
                json={"merge_fields": {"FNAME": "Renamed"}}, auth=("x", creds["api_key"]))
    changed, _ = read_all(connector, cursor2)
    assert member["id"] in {r.id for r in changed}


def test_archived_members_are_deletions(sandbox: RunningSandbox, make: Any) -> None:
    connector = make()
    _, cursor = read_all(connector)
    creds = sandbox.credentials()["mailchimp"]
    member = next(iter(sandbox.sandbox.mailchimp.members.values()))
    httpx.delete(f"{creds['base_url']}/lists/{creds['list_id']}/members/{member['id']}",
                 auth=("x", creds["api_key"]))
    changed, _ = read_all(connector, cursor)
    assert [r.deleted for r in changed if r.id == member["id"]] == [True]


def test_adds_nobody_without_a_decision_and_never_subscribed_without_proof(
        sandbox: RunningSandbox, make: Any) -> None:
    connector = make()
    sim = sandbox.sandbox.mailchimp
    mails_before = len(sim.confirmation_mails)
    results = connector.write([
        OutboundRecord("k0", 0, {"email": "niemand.fragte@sonnenpost.de"}),
        OutboundRecord("k1", 1, {"email": "neu.kunde@sonnenpost.de", "first_name": "Neu"},
                       consent="pending"),
        OutboundRecord("k2", 2, {"email": "bewiesen@sonnenpost.de"}, consent="subscribed"),
        OutboundRecord("k3", 3, {"email": "anna.probe@example.com"}, consent="pending"),
    ])
    assert [r.status for r in results] == ["rejected", "created", "created", "rejected"]
    assert "rule 11" in (results[0].reason or "")
    assert "fake or invalid" in (results[3].reason or "")
    assert "anna.probe" not in (results[3].reason or "")  # reasons never quote the address
    assert "niemand.fragte@sonnenpost.de" not in {m["email_address"] for m in sim.members.values()}
    assert sim.members[results[1].external_id or ""]["status"] == "pending"
    assert sim.members[results[2].external_id or ""]["status"] == "subscribed"
    assert len(sim.confirmation_mails) == mails_before + 1
    again = connector.write([OutboundRecord("k1b", 1, {"email": "neu.kunde@sonnenpost.de",
                                                       "first_name": "Neu"},
                                            external_id=results[1].external_id)])
    assert again[0].status == "updated"
    assert len(sim.confirmation_mails) == mails_before + 1  # no second confirmation mail


def test_batch_errors_are_handled_per_record_by_their_code() -> None:
    assert refusal({"email_address": "a@b.de", "error": "a@b.de is already a list member.",
                    "error_code": "ERROR_CONTACT_EXISTS"})[0] == "retry"
    status, reason = refusal({"email_address": "a@b.de", "error_code": "ERROR_GENERIC",
                              "error": "a@b.de is in a compliance state due to unsubscribe, "
                                       "bounce, or compliance review and cannot be subscribed."})
    assert status == "rejected" and "a@b.de" not in reason and "unsubscribed" in reason
    assert refusal({"email_address": "a@b.de", "error_code": "ERROR_GENERIC",
                    "error": "a@b.de has signed up to a lot of lists very recently; we're not "
                             "allowing more signups for now"})[0] == "retry"
    status, reason = refusal({"email_address": "a@b.de", "error_code": "ERROR_GENERIC",
                              "error": "Something new about a@b.de"})
    assert status == "rejected" and reason == "Mailchimp refused the member: Something new " \
        "about <address>"


def test_compliance_state_comes_back_as_a_rejection_in_a_batch(
        sandbox: RunningSandbox, make: Any) -> None:
    connector = make()
    sim = sandbox.sandbox.mailchimp
    gone = next(m for m in sim.members.values() if m["status"] == "unsubscribed")
    result = connector.write([OutboundRecord("u", 1, {"email": gone["email_address"]},
                                             external_id=gone["id"], consent="subscribed")])
    assert result[0].status == "rejected" and "cannot be set back" in (result[0].reason or "")
    assert gone["status"] == "unsubscribed"


def test_lead_status_field_and_hub_tags(sandbox: RunningSandbox, make: Any) -> None:
    connector = make()
    sim = sandbox.sandbox.mailchimp
    first = connector.write([OutboundRecord("a", 1, {"email": "lead@sonnenpost.de",
                                                     "lead.stage": "mql", "lead.score": 64,
                                                     "lead.tags": ["hub:mql", "hub:premium"]},
                                            consent="pending")])
    member = sim.members[first[0].external_id or ""]
    assert member["merge_fields"]["LEADSTATUS"] == "mql"
    assert member["merge_fields"]["LEADSCORE"] == "64"
    assert sorted(t["name"] for t in member["tags"]) == ["hub:mql", "hub:premium"]
    connector.write([OutboundRecord("b", 1, {"email": "lead@sonnenpost.de", "lead.stage": "sql",
                                             "lead.tags": ["hub:sql"]},
                                    external_id=first[0].external_id)])
    # stale hub: tags are replaced, not added to
    assert [t["name"] for t in member["tags"]] == ["hub:sql"]
    assert {"LEADSTATUS", "LEADSCORE"} <= set(sim.merge_fields)
    assert sim.merge_fields["LEADSCORE"]["type"] == "number"


def test_check_finds_merge_fields_the_audience_lacks_or_requires(
        sandbox: RunningSandbox, make: Any) -> None:
    assert list(make().check()) == []
    (missing,) = make(merge_fields={"phone": "MOBILE"}).check()
    assert missing.severity == "problem" and "MOBILE" in missing.message \
        and "phone" in missing.message
    # hub's lead fields are created when missing: no finding for them
    assert list(make(lead_status_field="STAGE").check()) == []
    sim = sandbox.sandbox.mailchimp
    sim.merge_fields["ADDRESS"]["required"] = True
    (required,) = make().check()
    assert "requires merge field ADDRESS" in required.message
    # and it is what the audience then refuses, member by member
    (result,) = make().write([OutboundRecord("r", 1, {"email": "neu@sonnenpost.de"},
                                             consent="pending")])
    assert result.status == "rejected" and "hub check" in (result.reason or "")


def test_check_names_what_is_wrong(sandbox: RunningSandbox, make: Any) -> None:
    make().check()
    with pytest.raises(UnreachableError, match="hub secrets set mc-key"):
        make(key="wrongkey-us1").check()
    with pytest.raises(ConnectorError, match="list_id = 'nope'"):
        make(list_id="nope").check()


_statuses = st.sampled_from(["subscribed", "pending", "unsubscribed", "cleaned",
                             "transactional", "archived"])


@settings(max_examples=200, deadline=None)
@given(status=_statuses, opt=st.sampled_from(["", "2025-01-01T10:00:00+00:00"]),
       signup=st.sampled_from(["", "2024-12-31T10:00:00+00:00"]))
def test_only_subscribed_with_an_opt_in_time_is_confirmed(status: str, opt: str,
                                                          signup: str) -> None:
    member = {"status": status, "timestamp_opt": opt, "timestamp_signup": signup,
              "last_changed": "2025-02-01T00:00:00+00:00", "list_id": "x"}
    kinds = [o.kind for o in consent_of(member)]
    assert ("doi_confirmed" in kinds) == (status == "subscribed" and bool(opt))


def test_cursor_is_plain_json(sandbox: RunningSandbox, make: Any) -> None:
    _, cursor = read_all(make())
    assert set(json.loads(cursor or "{}")) == {"members", "archived"}


def test_no_decision_never_changes_an_existing_members_status(sandbox: RunningSandbox,
                                                              make: Any) -> None:
    sim = sandbox.sandbox.mailchimp
    member = next(m for m in sim.members.values() if m["status"] == "subscribed")
    mails = len(sim.confirmation_mails)
    (result,) = make().write([OutboundRecord("x", 1, {"email": member["email_address"],
                                                      "first_name": "Same"})])
    assert result.status == "updated" and member["status"] == "subscribed"
    assert len(sim.confirmation_mails) == mails
