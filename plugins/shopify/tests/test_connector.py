"""The Shopify connector against the simulator: reads, resumes, writes, consent, erasure."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from hub.connector import OutboundRecord, Page, SourceRecord
from hub.errors import ConnectorError, UnreachableError
from hub_sandbox.app import RunningSandbox
from hub_shopify.cursor import Cursor
from hub_shopify.stream import CustomerStream

from .conftest import Build

GraphQL = Callable[[str, dict[str, Any]], dict[str, Any]]


def _records(pages: list[Page]) -> dict[str, SourceRecord]:
    return {r.id: r for p in pages for r in p.records}


def test_a_bulk_read_and_a_paged_read_see_the_same_customers(make: Build,
                                                              sandbox: RunningSandbox) -> None:
    paged_connector = make(bulk_reads=False)
    bulk_connector = make(bulk_threshold=0)
    paged = _records(list(paged_connector.read("contacts", None)))
    bulk = _records(list(bulk_connector.read("contacts", None)))
    shop = sandbox.sandbox.shopify.shop
    assert set(paged) == set(bulk) == {c.gid for c in shop.customers.values()}
    for gid, record in paged.items():
        other = bulk[gid]
        assert (record.fields, record.signals, record.consent, record.deleted) == \
            (other.fields, other.signals, other.consent, other.deleted), gid
    # the paged read's floor by the simulator's cost rule: 4 points a customer, 1 an order and
    # 1 more for a customer with two orders or more (its orders beyond `lastOrder` need a
    # connection), at most 998 a query besides its connection (the count rides along with the
    # first page); benchmarks/connectors.py argues it
    orders = len(shop.orders)
    several = sum(1 for c in shop.customers.values() if len(shop.orders_of(c)) >= 2)
    floor = max(-(-len(paged) // 250), -(-(4 * len(paged) + orders + several) // 998))
    assert paged_connector.context.api_calls <= floor + 1
    # the bulk read: start, one poll (the sandbox completes on the first), the file
    assert bulk_connector.context.api_calls == 3


def test_a_large_shops_first_read_counts_in_the_bulk_jobs_first_poll(
        make: Build, sandbox: RunningSandbox) -> None:
    shop = sandbox.sandbox.shopify.shop
    connector = make(bulk_threshold=len(shop.customers))
    records = _records(list(connector.read("contacts", None)))
    assert set(records) == {c.gid for c in shop.customers.values()}
    # start the job; its first poll with the count and a first page; the file
    assert connector.context.api_calls == 3
    assert [op.status for op in sandbox.sandbox.shopify.bulk.operations.values()] == \
        ["COMPLETED"]


def test_a_small_shops_first_read_cancels_the_job_and_pages(make: Build,
                                                           sandbox: RunningSandbox) -> None:
    shop = sandbox.sandbox.shopify.shop
    sandbox.sandbox.shopify.bulk.polls_to_complete = 3  # still running at its first poll
    connector = make(bulk_threshold=len(shop.customers) + 1)
    pages = list(connector.read("contacts", None))
    assert set(_records(pages)) == {c.gid for c in shop.customers.values()}
    assert [op.status for op in sandbox.sandbox.shopify.bulk.operations.values()] == \
        ["CANCELING"]  # Shopify answers a cancel with CANCELING
    paged = make(bulk_reads=False)
    list(paged.read("contacts", None))
    # one call to start the job, one to cancel it: the first page came with the count
    assert connector.context.api_calls == paged.context.api_calls + 2
    assert all(Cursor.load(p.cursor).phase == "page" for p in pages)  # type: ignore[union-attr]


def test_a_first_read_pages_when_another_bulk_job_runs(make: Build, sandbox: RunningSandbox,
                                                      graphql: GraphQL) -> None:
    sandbox.sandbox.shopify.bulk.polls_to_complete = 10_000
    sandbox.sandbox.shopify.bulk.concurrency = 1
    graphql('mutation { bulkOperationRunQuery(query: "{ customers { edges { node { id } } } }")'
            " { userErrors { message } } }", {})
    connector = make(bulk_threshold=1)
    records = _records(list(connector.read("contacts", None)))
    assert set(records) == {c.gid for c in sandbox.sandbox.shopify.shop.customers.values()}
    assert len(sandbox.sandbox.shopify.bulk.operations) == 1  # only the other one


def test_order_totals_become_customer_value_signals(make: Build,
                                                    sandbox: RunningSandbox) -> None:
    shop = sandbox.sandbox.shopify.shop
    records = _records(list(make(bulk_reads=False).read("contacts", None)))
    buyers = [c for c in shop.customers.values() if shop.orders_of(c)]
    assert buyers, "the seeded shop has customers with orders"
    for customer in buyers:
        orders = shop.orders_of(customer)
        signals = records[customer.gid].signals
        assert signals["orders_count"] == len(orders)
        assert signals["amount_spent"] == pytest.approx(float(shop.amount_spent(customer)))
        created = sorted(o.created_at for o in orders)
        assert signals["first_order_at"] == created[0].strftime("%Y-%m-%dT%H:%M:%SZ")
        assert signals["last_order_at"] == created[-1].strftime("%Y-%m-%dT%H:%M:%SZ")
        paid = [o for o in orders if o.financial_status in ("PAID", "PARTIALLY_PAID",
                                                            "PARTIALLY_REFUNDED")
                and o.cancelled_at is None]
        assert signals["paid_orders_count"] == len(paid)


def test_customers_with_more_orders_than_a_page_nests_are_counted_fully(
        make: Build, sandbox: RunningSandbox) -> None:
    shop = sandbox.sandbox.shopify.shop
    buyer = max(shop.customers.values(), key=lambda c: len(shop.orders_of(c)))
    many = len(shop.orders_of(buyer))
    assert many >= 2
    connector = make(bulk_reads=False)
    stream = CustomerStream(connector.api, _bulk(connector), connector.settings,
                            clock=connector.context.clock, log=lambda _t: None, nested_orders=1)
    records = _records(list(stream.read(None)))
    assert records[buyer.gid].signals["orders_count"] == many
    assert records[buyer.gid].signals["paid_orders_count"] == sum(
        1 for o in shop.orders_of(buyer)
        if o.financial_status in ("PAID", "PARTIALLY_PAID", "PARTIALLY_REFUNDED")
        and o.cancelled_at is None)
    assert records[buyer.gid].signals["first_order_at"] == min(
        o.created_at for o in shop.orders_of(buyer)).strftime("%Y-%m-%dT%H:%M:%SZ")


def test_an_incremental_read_costs_one_call_and_finds_a_change(make: Build,
                                                               graphql: GraphQL) -> None:
    connector = make()
    pages = list(connector.read("contacts", None))
    quiet_calls = connector.context.api_calls
    again = list(connector.read("contacts", pages[-1].cursor))
    assert connector.context.api_calls - quiet_calls == 1
    assert len(_records(again)) < 5  # at most the last second's overlap
    target = next(iter(_records(pages)))
    graphql("mutation($i: CustomerInput!) { customerUpdate(input: $i) { userErrors { message } } }",
            {"i": {"id": target, "firstName": "Neuer"}})
    changed = _records(list(connector.read("contacts", again[-1].cursor)))
    assert changed[target].fields["first_name"] == "Neuer"


def test_a_bulk_read_resumes_inside_the_result_file(make: Build,
                                                    sandbox: RunningSandbox) -> None:
    connector = make(bulk_threshold=0)
    stream = CustomerStream(connector.api, _bulk(connector), connector.settings,
                            clock=connector.context.clock, log=lambda _t: None, bulk_page=40)
    pages = list(stream.read(None))
    assert len(pages) >= 3
    first = Cursor.load(pages[0].cursor)
    assert first is not None and first.phase == "bulk" and first.bulk_done == 40
    calls = connector.context.api_calls
    resumed = list(CustomerStream(connector.api, _bulk(connector), connector.settings,
                                  clock=connector.context.clock, log=lambda _t: None,
                                  bulk_page=40).read(pages[0].cursor))
    later = {r.id for p in pages[1:] for r in p.records}
    assert later <= {r.id for p in resumed for r in p.records}
    # the same operation's file again: a status poll and the download, no new bulk query
    assert not {r.id for r in pages[0].records} & {r.id for p in resumed[:-1] for r in p.records}
    assert connector.context.api_calls - calls <= 4
    assert len(sandbox.sandbox.shopify.bulk.operations) == 1


def _bulk(connector: Any) -> Any:
    from hub_shopify.bulk import BulkRead
    return BulkRead(connector.api, lambda: connector.files, poll_s=1, timeout_s=60,
                    version=connector.settings.api_version,
                    clock=connector.context.clock, sleep=lambda _s: None,
                    count=connector._count_file)


def test_a_bulk_operation_that_never_finishes_is_cancelled_and_the_read_pages(
        make: Build, sandbox: RunningSandbox) -> None:
    sandbox.sandbox.shopify.bulk.polls_to_complete = 10_000
    moments = iter(datetime(2026, 1, 1, tzinfo=UTC) + timedelta(seconds=30 * n)
                   for n in range(10_000))
    connector = make(bulk_threshold=0, bulk_timeout_s=300)
    connector.context.clock = lambda: next(moments)
    records = _records(list(connector.read("contacts", None)))
    assert set(records) == {c.gid for c in sandbox.sandbox.shopify.shop.customers.values()}
    current = sandbox.sandbox.shopify.bulk.current()
    assert current is None or current.status in ("CANCELED", "CANCELING")


def test_consent_is_mapped_without_upgrading(make: Build, sandbox: RunningSandbox) -> None:
    shop = sandbox.sandbox.shopify.shop
    records = _records(list(make().read("contacts", None)))
    seen: set[tuple[str, str | None, str]] = set()
    for customer in shop.customers.values():
        kinds = [o.kind for o in records[customer.gid].consent]
        state, level = customer.consent.state, customer.consent.opt_in_level
        if state == "SUBSCRIBED" and level == "CONFIRMED_OPT_IN":
            assert kinds == ["doi_confirmed"]
        elif state == "SUBSCRIBED":
            assert kinds == ["single_opt_in"]
        elif state == "UNSUBSCRIBED":
            assert kinds == ["opt_out"]
        elif state == "NOT_SUBSCRIBED" or customer.email is None:
            assert kinds == []
        seen.add((state, level, ",".join(kinds)))
    assert {("SUBSCRIBED", "CONFIRMED_OPT_IN", "doi_confirmed"),
            ("SUBSCRIBED", "SINGLE_OPT_IN", "single_opt_in")} <= seen


def test_writes_replace_hubs_tags_keep_the_shops_and_set_the_lead_metafield(
        make: Build, sandbox: RunningSandbox, graphql: GraphQL) -> None:
    shop = sandbox.sandbox.shopify.shop
    customer = next(c for c in shop.customers.values() if c.email)
    graphql("mutation($id: ID!) { tagsAdd(id: $id, tags: [\"vip\", \"hub:lead\"]) "
            "{ userErrors { message } } }", {"id": customer.gid})
    connector = make()
    record = OutboundRecord("k", 1, {"first_name": "Anna", "lead.stage": "mql",
                                     "lead.score": 57, "lead.tags": ["hub:mql"]},
                            external_id=customer.gid)
    [result] = connector.write([record])
    assert result.status == "updated", result
    assert sorted(customer.tags) == ["hub:mql", "vip"]
    assert customer.first_name == "Anna"
    metafield = customer.metafields[("hub", "lead")]
    assert json.loads(metafield.value) == {"score": 57, "stage": "mql"}
    assert connector.context.api_calls == 2  # tags lookup + one mutation document


def test_a_batch_is_one_document_and_per_record_errors_stay_per_record(
        make: Build, sandbox: RunningSandbox) -> None:
    shop = sandbox.sandbox.shopify.shop
    customers = [c for c in shop.customers.values() if c.email][:25]
    records = [OutboundRecord(f"k{i}", i, {"last_name": f"Name{i}"}, external_id=c.gid)
               for i, c in enumerate(customers)]
    records[3] = OutboundRecord("k3", 3, {"phone": "12"}, external_id=customers[3].gid)
    connector = make()
    results = {r.key: r for r in connector.write(records)}
    assert connector.context.api_calls == 1
    assert results["k3"].status == "rejected" and "Phone is invalid" in str(results["k3"].reason)
    assert all(results[f"k{i}"].status == "updated" for i in range(25) if i != 3)


def test_withdrawals_and_proven_opt_ins_reach_the_shop_but_pending_does_not(
        make: Build, sandbox: RunningSandbox) -> None:
    shop = sandbox.sandbox.shopify.shop
    subscribed = [c for c in shop.customers.values()
                  if c.email and c.consent.state == "SUBSCRIBED"]
    never = [c for c in shop.customers.values()
             if c.email and c.consent.state == "NOT_SUBSCRIBED"]
    out, pend, proven = subscribed[0], never[0], never[1]
    results = make().write([
        OutboundRecord("out", 1, {}, external_id=out.gid, consent="unsubscribed"),
        OutboundRecord("pend", 2, {}, external_id=pend.gid, consent="pending"),
        OutboundRecord("ok", 3, {}, external_id=proven.gid, consent="subscribed")])
    assert [r.status for r in results] == ["updated", "unchanged", "updated"]
    assert out.consent.state == "UNSUBSCRIBED"
    assert pend.consent.state == "NOT_SUBSCRIBED"
    assert (proven.consent.state, proven.consent.opt_in_level) == \
        ("SUBSCRIBED", "CONFIRMED_OPT_IN")


def test_customers_are_created_only_where_config_allows_and_never_twice(
        make: Build, sandbox: RunningSandbox) -> None:
    shop = sandbox.sandbox.shopify.shop
    before = len(shop.customers)
    record = OutboundRecord("new", 1, {"email": "neu.kunde@example.de", "first_name": "Neu"})
    [refused] = make().write([record])
    assert refused.status == "rejected" and "create_customers" in str(refused.reason)
    assert make().creates_records is False
    creator = make(create_customers=True)
    assert creator.creates_records is True
    [created] = creator.write([record])
    assert created.status == "created" and created.external_id
    # the answer was lost and the create is sent again: the existing customer is linked
    [again] = creator.write([record])
    assert again.status == "unchanged" and again.external_id == created.external_id
    assert len(shop.customers) == before + 1


def test_delete_requests_shopify_data_erasure(make: Build, sandbox: RunningSandbox) -> None:
    simulator = sandbox.sandbox.shopify
    customer = next(c for c in simulator.shop.customers.values() if c.email)
    [result] = make().write([OutboundRecord("gone", 1, {}, external_id=customer.gid,
                                            operation="erase")])
    assert result.status == "updated"
    assert customer.id in simulator.shop.pending_erasures
    simulator.shop.erase(customer, datetime(2026, 2, 1, tzinfo=UTC))
    record = _records(list(make().read("contacts", None)))[customer.gid]
    assert record.deleted and [o.kind for o in record.consent] == ["erasure"]
    assert "email" not in record.fields


def test_a_wrong_token_names_the_secret_to_fix(make: Build) -> None:
    with pytest.raises(UnreachableError) as info:
        make(token="shpat_wrong").check()
    assert "hub secrets set shop-token" in str(info.value)
    assert "shpat_wrong" not in str(info.value)


def test_a_foreign_cursor_is_refused_with_the_fix(make: Build) -> None:
    with pytest.raises(ConnectorError, match="hub sync --full"):
        list(make().read("contacts", '{"phase": "list"}'))


def test_throttled_answers_inside_http_200_are_retried(make: Build,
                                                      sandbox: RunningSandbox) -> None:
    sandbox.sandbox.controls.set_faults("shopify.429storm:4")
    connector = make(bulk_reads=False)
    records = _records(list(connector.read("contacts", None)))
    assert len(records) == len(sandbox.sandbox.shopify.shop.customers)
    assert connector.context.retries >= 4


def test_lead_tags_are_written_without_reading_tags_first(make: Build,
                                                          sandbox: RunningSandbox) -> None:
    shop = sandbox.sandbox.shopify.shop
    targets = sorted(shop.customers.values(), key=lambda c: c.id)[:90]
    connector = make()

    def tag(stage: str) -> int:
        before = connector.context.api_calls
        results = connector.write([OutboundRecord(f"{stage}{i}", i, {
            "lead.tags": [f"hub:{stage}"], "lead.stage": stage}, external_id=c.gid)
            for i, c in enumerate(targets)])
        assert {r.status for r in results} == {"updated"}
        return connector.context.api_calls - before

    # 90 tagsAdd and 4 metafieldsSet: one document, no lookup
    assert tag("lead") == 1
    # a stage move: tagsAdd answers with the old tag, which one more document removes
    assert tag("mql") == 2
    assert all(c.tags.count("hub:mql") == 1 and "hub:lead" not in c.tags for c in targets)
    # the same stage again: nothing older to remove
    assert tag("mql") == 1


def test_a_write_document_priced_over_the_cap_is_sent_in_halves(make: Build,
                                                                 sandbox: RunningSandbox) -> None:
    sandbox.sandbox.shopify.limits.max_query_cost = 400  # Shopify's price is its own business
    try:
        customers = list(sandbox.sandbox.shopify.shop.customers.values())[:60]
        connector = make()
        results = connector.write([OutboundRecord(f"k{n}", n, {"first_name": "Halbe"},
                                                  external_id=c.gid)
                                   for n, c in enumerate(customers)])
        assert {r.status for r in results} == {"updated"}
        assert {c.first_name for c in customers} == {"Halbe"}
        # 60 mutations (600 points) refused, then 30 + 30
        assert connector.context.api_calls == 1 + 2
    finally:
        sandbox.sandbox.shopify.limits.max_query_cost = 1000
