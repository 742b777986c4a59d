"""hub's tags by segment batches: calls per batch, counted by the sandbox's request counters.

A write of N ≤ 500 members is one batch subscribe plus one segment call per ``hub:`` tag that
changes for any of them, whatever N is; the segments are listed once per connector and a
missing one is created once. No member's tags are read or written one by one.
"""

from __future__ import annotations

from typing import Any

from hub.connector import OutboundRecord
from hub_sandbox.app import RunningSandbox


def _calls(sandbox: RunningSandbox) -> dict[str, int]:
    return dict(sandbox.sandbox.controls.requests["mailchimp"])


def _members(sandbox: RunningSandbox, n: int) -> list[dict[str, Any]]:
    sim = sandbox.sandbox.mailchimp
    return [m for m in sim.members.values() if m["status"] == "subscribed"][:n]


def test_tags_of_a_whole_batch_cost_one_call_per_changed_tag(sandbox: RunningSandbox,
                                                              make: Any) -> None:
    members = _members(sandbox, 400)
    assert len(members) == 400
    connector = make()
    sandbox.sandbox.controls.reset_counters()
    first = connector.write([
        OutboundRecord(f"k{i}", i, {"email": m["email_address"], "lead.tags": ["hub:mql"]},
                       external_id=m["id"], consent="subscribed")
        for i, m in enumerate(members)])
    assert {r.status for r in first} == {"updated"}
    base = "/3.0/lists/{list_id}"
    assert _calls(sandbox) == {f"POST {base}": 1, f"GET {base}/segments": 1,
                               f"POST {base}/segments": 1,
                               f"POST {base}/segments/{{segment_id}}": 1}
    assert all("hub:mql" in {t["name"] for t in m["tags"]} for m in members)

    sandbox.sandbox.controls.reset_counters()
    # half move on to sql: one call adds them to hub:sql, one takes them out of hub:mql
    moved = connector.write([
        OutboundRecord(f"k{i}", i, {"email": m["email_address"],
                                    "lead.tags": ["hub:sql" if i % 2 else "hub:mql"]},
                       external_id=m["id"], consent="subscribed")
        for i, m in enumerate(members)])
    assert {r.status for r in moved} == {"updated"}
    assert _calls(sandbox) == {f"POST {base}": 1, f"POST {base}/segments": 1,
                               f"POST {base}/segments/{{segment_id}}": 2}
    hub_tags = [sorted(t["name"] for t in m["tags"] if t["name"].startswith("hub:"))
                for m in members]
    assert hub_tags == [["hub:sql"] if i % 2 else ["hub:mql"] for i in range(400)]

    sandbox.sandbox.controls.reset_counters()
    # nothing changed: the batch subscribe alone
    connector.write([OutboundRecord("k0", 0, {"email": members[0]["email_address"],
                                              "lead.tags": ["hub:mql"]},
                                    external_id=members[0]["id"], consent="subscribed")])
    assert _calls(sandbox) == {f"POST {base}": 1}


def test_the_shops_own_tags_are_left_alone_and_existing_segments_reused(
        sandbox: RunningSandbox, make: Any) -> None:
    (member,) = _members(sandbox, 1)
    sim = sandbox.sandbox.mailchimp
    sim._tag(member, "VIP", True)
    sim._tag(member, "hub:lead", True)
    connector = make()
    sandbox.sandbox.controls.reset_counters()
    (result,) = connector.write([OutboundRecord("v", 1, {"email": member["email_address"],
                                                         "lead.tags": ["hub:customer"]},
                                                external_id=member["id"],
                                                consent="subscribed")])
    assert result.status == "updated"
    names = {t["name"] for t in member["tags"]}
    assert {"VIP", "hub:customer"} <= names and "hub:lead" not in names
    calls = _calls(sandbox)
    # hub:lead exists already (only hub:customer is created); one call each for the two tags
    assert calls["POST /3.0/lists/{list_id}/segments"] == 1
    assert calls["POST /3.0/lists/{list_id}/segments/{segment_id}"] == 2


def test_a_member_without_a_decision_is_tagged_in_the_same_segment_call(
        sandbox: RunningSandbox, make: Any) -> None:
    decided, undecided = _members(sandbox, 2)
    connector = make()
    sandbox.sandbox.controls.reset_counters()
    results = connector.write([
        OutboundRecord("d", 1, {"email": decided["email_address"], "lead.tags": ["hub:mql"]},
                       external_id=decided["id"], consent="subscribed"),
        OutboundRecord("u", 2, {"email": undecided["email_address"], "lead.tags": ["hub:mql"]},
                       external_id=undecided["id"])])
    assert [r.status for r in results] == ["updated", "updated"]
    assert _calls(sandbox)["POST /3.0/lists/{list_id}/segments/{segment_id}"] == 1
    assert all("hub:mql" in {t["name"] for t in m["tags"]} for m in (decided, undecided))
