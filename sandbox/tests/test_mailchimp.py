"""The Mailchimp simulator through Mailchimp's own Python client, base URL changed only."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime

import httpx
import mailchimp_marketing  # type: ignore[import-untyped]
import pytest
from mailchimp_marketing.api_client import ApiClientError  # type: ignore[import-untyped]

from hub_sandbox.app import RunningSandbox, Sandbox
from hub_sandbox.mailchimp import subscriber_hash


@pytest.fixture
def running() -> Iterator[RunningSandbox]:
    with Sandbox(contacts=400, seed=5).start() as served:
        yield served


@pytest.fixture
def client(running: RunningSandbox) -> mailchimp_marketing.Client:
    creds = running.credentials()["mailchimp"]
    mc = mailchimp_marketing.Client()
    mc.set_config({"api_key": creds["api_key"], "server": creds["api_key"].split("-")[-1]})
    mc.api_client.host = creds["base_url"]  # the only change against the real API
    return mc


def list_id(running: RunningSandbox) -> str:
    return running.credentials()["mailchimp"]["list_id"]


def problem(exc: ApiClientError) -> dict[str, object]:
    import json
    return dict(json.loads(exc.text))


def test_ping_list_and_paging_through_every_member(running: RunningSandbox,
                                                   client: mailchimp_marketing.Client) -> None:
    assert client.ping.get() == {"health_status": "Everything's Chimpy!"}
    lid = list_id(running)
    first = client.lists.get_list_members_info(lid, count=100, offset=0)
    total = first["total_items"]
    seen = {m["id"] for m in first["members"]}
    offset = 100
    while offset < total:
        seen |= {m["id"] for m in client.lists.get_list_members_info(
            lid, count=100, offset=offset)["members"]}
        offset += 100
    assert len(seen) == total == running.sandbox.mailchimp.summary()["members"] - \
        running.sandbox.mailchimp.summary()["archived"]
    trimmed = client.lists.get_list_members_info(lid, count=3, fields=["members.email_address",
                                                                       "total_items"])
    assert set(trimmed) == {"members", "total_items"}
    assert all(set(m) == {"email_address"} for m in trimmed["members"])


def test_count_is_capped_and_since_last_changed_filters(running: RunningSandbox,
                                                        client: mailchimp_marketing.Client) -> None:
    lid = list_id(running)
    creds = running.credentials()["mailchimp"]
    raw = httpx.get(f"{creds['base_url']}/lists/{lid}/members", params={"count": 5000},
                    auth=("hub", creds["api_key"]))
    # the official client refuses count > 1000 itself; the simulator caps at the maximum
    assert raw.status_code == 200 and len(raw.json()["members"]) <= 1000
    later = client.lists.get_list_members_info(lid, count=1000,
                                               since_last_changed="2099-01-01T00:00:00+00:00")
    assert later["members"] == []


def test_new_member_pending_sends_one_confirmation_then_confirm(running: RunningSandbox,
                                                                client: mailchimp_marketing.Client) -> None:
    lid = list_id(running)
    sim = running.sandbox.mailchimp
    member = client.lists.set_list_member(lid, subscriber_hash("New.Person@example.de"), {
        "email_address": "New.Person@example.de", "status_if_new": "pending"})
    assert member["status"] == "pending" and member["id"] == subscriber_hash("new.person@example.de")
    assert [e for e, _ in sim.confirmation_mails] == ["New.Person@example.de"]
    httpx.post(f"{running.base_url}/_sandbox/mailchimp/confirm",
               json={"email_address": "new.person@example.de"}).raise_for_status()
    confirmed = client.lists.get_list_member(lid, "new.person@example.de")
    assert confirmed["status"] == "subscribed" and confirmed["timestamp_opt"]


def test_unsubscribed_cannot_be_subscribed_only_pending(running: RunningSandbox,
                                                        client: mailchimp_marketing.Client) -> None:
    lid = list_id(running)
    client.lists.set_list_member(lid, subscriber_hash("gone@example.de"),
                                 {"email_address": "gone@example.de", "status_if_new": "unsubscribed"})
    with pytest.raises(ApiClientError) as info:
        client.lists.update_list_member(lid, subscriber_hash("gone@example.de"),
                                        {"status": "subscribed"})
    body = problem(info.value)
    assert body["title"] == "Member In Compliance State" and info.value.status_code == 400
    again = client.lists.update_list_member(lid, subscriber_hash("gone@example.de"),
                                            {"status": "pending"})
    assert again["status"] == "pending"


def test_forgotten_fake_and_duplicate_errors(running: RunningSandbox,
                                             client: mailchimp_marketing.Client) -> None:
    lid = list_id(running)
    client.lists.add_list_member(lid, {"email_address": "erase.me@example.de", "status": "pending"})
    with pytest.raises(ApiClientError) as dup:
        client.lists.add_list_member(lid, {"email_address": "erase.me@example.de",
                                           "status": "pending"})
    assert problem(dup.value)["title"] == "Member Exists"
    client.lists.delete_list_member_permanent(lid, subscriber_hash("erase.me@example.de"))
    with pytest.raises(ApiClientError) as gone:
        client.lists.add_list_member(lid, {"email_address": "erase.me@example.de",
                                           "status": "pending"})
    assert problem(gone.value)["title"] == "Forgotten Email Not Subscribed"
    with pytest.raises(ApiClientError) as fake:
        client.lists.add_list_member(lid, {"email_address": "test@trash-mail.com",
                                           "status": "pending"})
    assert "looks fake or invalid" in str(problem(fake.value)["detail"])


def test_batch_subscribe_reports_per_member_errors(running: RunningSandbox,
                                                   client: mailchimp_marketing.Client) -> None:
    lid = list_id(running)
    result = client.lists.batch_list_members(lid, {"update_existing": True, "members": [
        {"email_address": "a1@example.de", "status": "pending"},
        {"email_address": "fake@test.com", "status": "pending"},
        {"email_address": "a1@example.de", "status": "pending",
         "merge_fields": {"FNAME": "Anna"}}]})
    assert result["total_created"] == 1 and result["total_updated"] == 1
    assert result["error_count"] == 1 and "fake" in result["errors"][0]["error"]
    assert result["errors"][0]["error_code"] == "ERROR_GENERIC"
    with pytest.raises(ApiClientError) as too_many:
        client.lists.batch_list_members(lid, {"members": [
            {"email_address": f"m{i}@example.de", "status": "pending"} for i in range(501)]})
    assert too_many.value.status_code == 400


@pytest.mark.parametrize("address", ["fooboo@example.com", "name@example.com",
                                     "showpeta@yopmail.com", "x@sharklasers.com",
                                     "a@mail.example.org", "a@shop.test", "a@nowhere.invalid"])
def test_fake_looking_addresses_are_refused_as_mailchimp_does(
        running: RunningSandbox, client: mailchimp_marketing.Client, address: str) -> None:
    lid = list_id(running)
    with pytest.raises(ApiClientError) as refused:
        client.lists.set_list_member(lid, subscriber_hash(address), {
            "email_address": address, "status_if_new": "pending"})
    body = problem(refused.value)
    assert refused.value.status_code == 400 and body["title"] == "Invalid Resource"
    assert body["detail"] == f"{address} looks fake or invalid, please enter a real email address."
    assert running.sandbox.mailchimp.confirmation_mails == []


def test_every_seeded_address_is_one_a_real_audience_accepts(running: RunningSandbox) -> None:
    from hub_sandbox.mailchimp import looks_fake
    limits = running.sandbox.mailchimp.limits
    fake = [p.key for p in running.sandbox.people
            if looks_fake(p.email, limits) and "role address" not in p.notes]
    assert fake == []


def test_batch_error_codes_tell_an_existing_member_from_any_other_refusal(
        running: RunningSandbox, client: mailchimp_marketing.Client) -> None:
    lid = list_id(running)
    sim = running.sandbox.mailchimp
    existing = next(m for m in sim.members.values() if m["status"] == "subscribed")
    sim.merge_fields["LNAME"]["required"] = True
    result = client.lists.batch_list_members(lid, {"update_existing": False, "members": [
        {"email_address": existing["email_address"], "status": "pending"},
        {"email_address": "ohne.nachname@sonnenpost.de", "status": "pending"},
        {"email_address": "mit.nachname@sonnenpost.de", "status": "pending",
         "merge_fields": {"LNAME": "Weber"}}]})
    codes = {e["email_address"]: e["error_code"] for e in result["errors"]}
    assert codes == {existing["email_address"]: "ERROR_CONTACT_EXISTS",
                     "ohne.nachname@sonnenpost.de": "ERROR_GENERIC"}
    missing = next(e for e in result["errors"] if e["error_code"] == "ERROR_GENERIC")
    assert missing["error"] == "Your merge fields were invalid." and missing["field"] == "LNAME"
    assert result["total_created"] == 1
    skipped = client.lists.batch_list_members(lid, {"members": [
        {"email_address": "ohne.nachname@sonnenpost.de", "status": "pending"}]},
        skip_merge_validation=True)
    assert skipped["total_created"] == 1


def test_tags_merge_fields_and_auth(running: RunningSandbox,
                                    client: mailchimp_marketing.Client) -> None:
    lid = list_id(running)
    client.lists.set_list_member(lid, subscriber_hash("t@example.de"),
                                 {"email_address": "t@example.de", "status_if_new": "pending"})
    client.lists.update_list_member_tags(lid, subscriber_hash("t@example.de"), {"tags": [
        {"name": "hub:mql", "status": "active"}, {"name": "hub:lead", "status": "inactive"}]})
    assert [t["name"] for t in client.lists.get_list_member_tags(
        lid, subscriber_hash("t@example.de"))["tags"]] == ["hub:mql"]
    client.lists.add_list_merge_field(lid, {"tag": "LEADSTATUS", "name": "Lead status",
                                            "type": "text"})
    tags = {f["tag"] for f in client.lists.get_list_merge_fields(lid)["merge_fields"]}
    assert "LEADSTATUS" in tags
    wrong = mailchimp_marketing.Client()
    wrong.set_config({"api_key": "wrong-us1", "server": "us1"})
    wrong.api_client.host = running.credentials()["mailchimp"]["base_url"]
    with pytest.raises(ApiClientError) as info:
        wrong.ping.get()
    assert info.value.status_code == 401 and problem(info.value)["title"] == "API Key Invalid"


def test_seeded_members_carry_consent_evidence(running: RunningSandbox) -> None:
    members = running.sandbox.mailchimp.members.values()
    subscribed = [m for m in members if m["status"] == "subscribed"]
    assert subscribed and all(m["ip_signup"] for m in subscribed)
    assert any(m["timestamp_opt"] for m in subscribed)
    assert any(not m["timestamp_opt"] for m in subscribed)  # imported without evidence
    assert datetime.fromisoformat(subscribed[0]["last_changed"]).utcoffset() is not None


def test_tags_are_static_segments_batched_500_at_a_time(
        running: RunningSandbox, client: mailchimp_marketing.Client) -> None:
    lid = list_id(running)
    sim = running.sandbox.mailchimp
    members = [m for m in sim.members.values() if m["status"] != "archived"][:3]
    emails = [m["email_address"] for m in members]
    segment = client.lists.create_segment(lid, {"name": "hub:sql", "static_segment": []})
    assert segment["type"] == "static" and segment["member_count"] == 0
    answer = client.lists.batch_segment_members(
        {"members_to_add": emails[:2], "members_to_remove": [emails[2]]}, lid, segment["id"])
    assert answer["total_added"] == 2 and answer["total_removed"] == 0
    assert "hub:sql" in [t["name"] for t in client.lists.get_list_member_tags(
        lid, members[0]["id"])["tags"]]
    listed = client.lists.list_segments(lid, type="static", count=1000)["segments"]
    counts = {s["name"]: s["member_count"] for s in listed}
    assert counts["hub:sql"] == 2
    # a member's own tag endpoint and the segment are one thing
    client.lists.update_list_member_tags(lid, members[0]["id"], {"tags": [
        {"name": "hub:sql", "status": "inactive"}]})
    assert client.lists.get_segment(lid, segment["id"])["member_count"] == 1
    # more than 500 addresses in one list is refused as a whole, nothing changes
    with pytest.raises(ApiClientError) as info:
        client.lists.batch_segment_members(
            {"members_to_add": emails + [f"n{i}@sonnenpost.de" for i in range(498)]},
            lid, segment["id"])
    assert info.value.status_code == 400
    assert "500" in str(problem(info.value)["errors"])
    assert client.lists.get_segment(lid, segment["id"])["member_count"] == 1
    # addresses not on the audience come back as errors (a setting: [U])
    strangers = client.lists.batch_segment_members(
        {"members_to_add": ["niemand@sonnenpost.de"]}, lid, segment["id"])
    assert strangers["error_count"] == 1 and strangers["total_added"] == 0
