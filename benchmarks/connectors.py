"""API calls and wall time of each connector against the sandbox, next to their floors.

    python benchmarks/connectors.py [--people 20000] [--hubspot-tier 100] [--shopify-plan plus]
    python benchmarks/connectors.py --unlimited      # calls only, the sandbox's limits off

For a sandbox of N seeded people: a full read, an incremental read with nothing changed,
writing every record back (batch) and the lifecycle writes (stage, score, hub's tags). Two
floors per row:

- calls: what the API's page and batch limits allow, ceil(records / page size) pages and
  ceil(records / batch size) batches, plus the one-time set-up the API needs (hub's tags as
  Mailchimp segments, its lead merge fields);
- seconds: the time the vendor's published rate limit forces for those calls, with the
  sandbox enforcing the same limit:
  - HubSpot: calls / (tier per 10 s) — 100 per rolling 10 s on Free/Starter, 190 on
    Professional/Enterprise, 250 with the API limit increase ("API usage guidelines and
    limits", https://developers.hubspot.com/docs/developer-tooling/platform/usage-guidelines);
  - Shopify: query cost points spent / the plan's restore rate — 100 points/s Standard, 200
    Advanced, 1000 Plus, 2000 Enterprise ("GraphQL Admin API rate limits",
    https://shopify.dev/docs/apps/build/apis/graphql-admin/rate-limits);
  - Mailchimp: none. Its only published limit is 10 simultaneous connections per user ("You
    have exceeded the limit of 10 simultaneous connections", the Marketing API's 429), which
    costs no time to a client that keeps under it, so its rows show wall time only.

Shopify's Standard plan makes the forced paged read of a 20,000-people sandbox a matter of
hours at 100 points/s, so the default plan here is Plus; the ratio is the same on any plan.
"""

from __future__ import annotations

import argparse
import math
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from hub.connector import ConnectorContext, OutboundRecord
from hub.secrets import MemoryBackend, Secrets
from hub_sandbox.app import RunningSandbox, Sandbox
from hub_sandbox.shopify.simulator import PLAN_RESTORE_RATES


@dataclass
class Row:
    """One measured operation: calls and seconds, each beside its floor."""

    name: str
    calls: int
    minimum: int
    seconds: float
    floor: float | None = None

    def line(self) -> str:
        """The row as printed."""
        calls = f"{self.name:<44}{self.calls:>7}{self.minimum:>8}{self.calls / self.minimum:>7.2f}"
        if self.floor is None:
            return f"{calls}{self.seconds:>9.1f}{'–':>9}{'–':>7}"
        if self.floor < 1.0:
            # under a second of limit: the wall time is the sandbox's own work, not waiting
            return f"{calls}{self.seconds:>9.1f}{self.floor:>9.1f}{'–':>7}"
        ratio = self.seconds / self.floor if self.floor > 0 else 0.0
        return f"{calls}{self.seconds:>9.1f}{self.floor:>9.1f}{ratio:>7.2f}"


@dataclass
class Bench:
    """The running sandbox and the limits it enforces (None: unlimited)."""

    running: RunningSandbox
    hubspot_tier: int | None
    shopify_rate: float | None

    @contextmanager
    def timed(self) -> Iterator[Callable[[], float]]:
        """Seconds since entering, read when the block is done."""
        started = time.perf_counter()
        took: list[float] = []
        yield lambda: took[0]
        took.append(time.perf_counter() - started)

    def write(self, connector: Any, records: list[OutboundRecord], size: int) -> float:
        """Write `records` in batches of `size`, as the engine drains an outbox; seconds."""
        with self.timed() as took:
            for start in range(0, len(records), size):
                connector.write(records[start:start + size])
        return took()

    def points(self) -> int:
        """Query cost points the Shopify simulator has charged so far."""
        return int(self.running.sandbox.shopify.points_spent)

    def hubspot_floor(self, calls: int) -> float | None:
        """Seconds the tier's rolling window forces for `calls` calls."""
        return None if self.hubspot_tier is None else calls / (self.hubspot_tier / 10.0)

    def shopify_floor(self, points: int) -> float | None:
        """Seconds the plan's restore rate needs to make up `points`."""
        return None if self.shopify_rate is None else points / self.shopify_rate


def _secrets(name: str, value: str) -> Secrets:
    return Secrets(MemoryBackend({name: value}), environ={})


def mailchimp(bench: Bench) -> list[Row]:
    """Read, no-change read, write back, lifecycle write (merge fields and hub's tags)."""
    from hub_mailchimp import MailchimpConnector, MailchimpSettings

    creds = bench.running.credentials()["mailchimp"]
    settings = MailchimpSettings.model_validate({
        "plugin": "mailchimp", "api_key": {"secret": "k"}, "list_id": creds["list_id"],
        "base_url": creds["base_url"], "max_connections": 10})
    rows = []

    def connector() -> MailchimpConnector:
        return MailchimpConnector(settings, ConnectorContext(
            name="newsletter", secrets=_secrets("k", creds["api_key"])))

    first = connector()
    with bench.timed() as took:
        pages = list(first.read("contacts", None))
    live = sum(1 for p in pages for r in p.records if not r.deleted)
    archived = sum(1 for p in pages for r in p.records if r.deleted)
    floor = math.ceil(live / 1000) + max(1, math.ceil(archived / 1000))
    rows.append(Row("mailchimp full read", first.context.api_calls, floor, took()))
    again = connector()
    with bench.timed() as took:
        list(again.read("contacts", pages[-1].cursor))
    rows.append(Row("mailchimp incremental, no change", again.context.api_calls, 2, took()))
    # what hub sends in steady state: every member with hub's consent decision
    status = {"subscribed": "subscribed", "pending": "pending", "unsubscribed": "unsubscribed"}
    members = [r for p in pages for r in p.records
               if not r.deleted and r.signals.get("newsletter_status") in status]
    writer = connector()
    new = [OutboundRecord(f"k{i}", i, {"email": r.fields["email"],
                                       "first_name": r.fields.get("first_name", "")},
                          external_id=r.id, consent=status[r.signals["newsletter_status"]])
           for i, r in enumerate(members)]
    seconds = bench.write(writer, new, 500)
    rows.append(Row(f"mailchimp write {len(new)} members", writer.context.api_calls,
                    math.ceil(len(new) / 500), seconds))
    # members hub has no consent decision for: their merge fields change, their status must
    # not; per 500 records (one write batch): the batch request, one status read that finds it
    # finished, and its results file
    undecided = connector()
    everyone = [r for p in pages for r in p.records if not r.deleted]
    plain = [OutboundRecord(f"n{i}", i, {"email": r.fields["email"], "first_name": "Nina"},
                            external_id=r.id) for i, r in enumerate(everyone)]
    seconds = bench.write(undecided, plain, 500)
    rows.append(Row(f"mailchimp write {len(plain)}, no consent decision",
                    undecided.context.api_calls, 3 * math.ceil(len(plain) / 500), seconds))
    # lifecycle: stage and score as merge fields in the batch subscribe, hub's tag by segment
    lifecycle = connector()
    leads = [OutboundRecord(f"l{i}", i, {"email": r.fields["email"], "lead.stage": "mql",
                                         "lead.score": 60, "lead.tags": ["hub:mql"]},
                            external_id=r.id, consent=status[r.signals["newsletter_status"]])
             for i, r in enumerate(members)]
    seconds = bench.write(lifecycle, leads, 500)
    # per 500 members: the batch subscribe and one segment call for the one tag; once: list
    # the merge fields, create LEADSTATUS and LEADSCORE, list the segments, create hub:mql
    batches = math.ceil(len(leads) / 500)
    rows.append(Row(f"mailchimp lifecycle tags {len(leads)} members",
                    lifecycle.context.api_calls, 2 * batches + 5, seconds))
    return rows


def hubspot(bench: Bench) -> list[Row]:
    """Read (with and without statuses), no-change read, write back, lifecycle stage."""
    from hub_hubspot import HubSpotConnector, HubSpotSettings

    creds = bench.running.credentials()["hubspot"]
    rows = []

    def connector(subscriptions: bool = False) -> HubSpotConnector:
        settings = HubSpotSettings.model_validate({
            "plugin": "hubspot", "token": {"secret": "t"}, "base_url": creds["base_url"],
            "read_subscriptions": subscriptions, "rate_per_10s": bench.hubspot_tier or 250})
        return HubSpotConnector(settings, ConnectorContext(
            name="crm", secrets=_secrets("t", creds["token"])))

    def row(name: str, made: HubSpotConnector, minimum: int, seconds: float) -> Row:
        return Row(name, made.context.api_calls, minimum, seconds, bench.hubspot_floor(minimum))

    first = connector()
    with bench.timed() as took:
        pages = list(first.read("contacts", None))
    live = sum(1 for p in pages for r in p.records if not r.deleted)
    rows.append(row("hubspot full read (list, 100/page)", first,
                    math.ceil(live / 100) + 1, took()))
    # with subscription statuses (v4): each page of 100 contacts needs one status batch and
    # one unsubscribe-all batch
    statuses = connector(subscriptions=True)
    with bench.timed() as took:
        with_status = list(statuses.read("contacts", None))
    emails = sum(1 for p in with_status for r in p.records if r.fields.get("email"))
    rows.append(row("hubspot full read + statuses (v4)", statuses,
                    math.ceil(live / 100) + 1 + 2 * math.ceil(emails / 100), took()))
    again = connector()
    with bench.timed() as took:
        list(again.read("contacts", pages[-1].cursor))
    rows.append(row("hubspot incremental, no change", again, 2, took()))
    contacts = [r for p in pages for r in p.records if not r.deleted and r.fields.get("email")]
    # writing back a field, then the lifecycle stage, which travels in the same batch upsert
    for label, fields in (("write", {"job_title": "Einkauf"}),
                          ("lifecycle stage", {"lead.stage": "mql"})):
        writer = connector()
        records = [OutboundRecord(f"{label}{i}", i, {"email": r.fields["email"], **fields},
                                  external_id=r.id) for i, r in enumerate(contacts)]
        seconds = bench.write(writer, records, 100)
        rows.append(row(f"hubspot {label} {len(records)} contacts", writer,
                        math.ceil(len(records) / 100), seconds))
    return rows


def _paged_floor(customers: int, orders: int, several: int) -> int:
    """Calls a paged read of `customers` with their `orders` needs at least, `several` of the
    customers having two orders or more: Shopify's page limit (250) and its cap of 1000 points
    a query, by the cost rule of "GraphQL Admin API rate limits"
    (https://shopify.dev/docs/apps/build/apis/graphql-admin/rate-limits: "Object | 1",
    "Connection | Sized by `first` and `last` arguments") as the simulator applies it
    (`hub_sandbox.shopify.cost`, a connection 2 points plus its items):

    - a customer with the fields hub reads is its node and three objects (4 points);
    - each order is an object (1 point), and hub reads every one (its financial status and
      cancellation decide whether it counts as paid, as in a bulk read);
    - the only way from a customer to an order that is not a connection is
      ``Customer.lastOrder: Order`` (Shopify's Admin schema), so a customer with two orders
      or more has orders that come through a connection: one of its own costs 2 points more,
      one shared with other customers' orders needs each order's `customer` object to say
      whose it is (1 point more an order). Either way at least 1 point more per such customer;
    - every query pays 2 for its customers connection, so at most 998 points of data a call.

    It stays below what any document reaches: `lastOrder` is charged for customers without
    orders too, and a connection of a customer's own costs 2, not 1."""
    data = 4 * customers + orders + several
    return max(math.ceil(customers / 250), math.ceil(data / 998), 1)


def shopify(bench: Bench) -> list[Row]:
    """Bulk and paged reads, no-change read, write back, lifecycle tags."""
    from hub_shopify import ShopifyConnector, ShopifySettings

    creds = bench.running.credentials()["shopify"]
    rows = []

    def connector(**extra: Any) -> ShopifyConnector:
        settings = ShopifySettings.model_validate({
            "plugin": "shopify", "shop": creds["shop"], "token": {"secret": "t"},
            "base_url": creds["base_url"], "api_version": creds["api_version"],
            "restore_rate": bench.shopify_rate or 100.0, **extra})
        # unlimited: nothing to wait for; limited: the budget's waits are real
        sleep = (lambda _s: None) if bench.shopify_rate is None else time.sleep
        return ShopifyConnector(settings, ConnectorContext(
            name="shop", secrets=_secrets("t", creds["token"]), sleep=sleep))

    def row(name: str, made: ShopifyConnector, minimum: int, seconds: float,
            points: int) -> Row:
        return Row(name, made.context.api_calls, minimum, seconds, bench.shopify_floor(points))

    simulator = bench.running.sandbox.shopify
    first = connector()
    before, jobs = bench.points(), len(simulator.bulk.operations)
    with bench.timed() as took:
        pages = list(first.read("contacts", None))
    customers = [r for p in pages for r in p.records]
    counts = [int(r.signals.get("orders_count") or 0) for r in customers]
    paged_floor = _paged_floor(len(customers), sum(counts), sum(1 for n in counts if n >= 2))
    if len(simulator.bulk.operations) > jobs:
        # a bulk read needs at least: start it, one poll that sees it completed, the file
        rows.append(row(f"shopify full read, bulk ({len(customers)} customers)", first, 3,
                        took(), bench.points() - before))
    else:
        rows.append(row(f"shopify full read ({len(customers)}, paged)", first,
                        paged_floor, took(), bench.points() - before))
    paged = connector(bulk_reads=False)
    before = bench.points()
    with bench.timed() as took:
        list(paged.read("contacts", None))
    rows.append(row("shopify full read, paged", paged, paged_floor, took(),
                    bench.points() - before))
    again = connector()
    before = bench.points()
    with bench.timed() as took:
        list(again.read("contacts", pages[-1].cursor))
    rows.append(row("shopify incremental, no change", again, 1, took(),
                    bench.points() - before))
    live = [r for r in customers if not r.deleted]
    writer = connector()
    records = [OutboundRecord(f"k{i}", i, {"first_name": "Kundin"}, external_id=r.id)
               for i, r in enumerate(live)]
    before = bench.points()
    seconds = bench.write(writer, records, writer.batch_size)
    # one 10-point mutation each, at most 1000 points per document
    rows.append(row(f"shopify write {len(records)} customers", writer,
                    math.ceil(len(records) / 99), seconds, bench.points() - before))
    tagger = connector()
    tagged = [OutboundRecord(f"t{i}", i, {"lead.tags": ["hub:mql"], "lead.stage": "mql"},
                             external_id=r.id) for i, r in enumerate(live)]
    before = bench.points()
    seconds = bench.write(tagger, tagged, tagger.batch_size)
    # per customer a tagsAdd and per 25 a metafieldsSet (Shopify's limit per call), 10
    # points each, at most 1000 points a document; nothing has to be read first (tagsAdd
    # answers with the tags after it, and these customers carry no older hub tag)
    floor = math.ceil((len(tagged) + math.ceil(len(tagged) / 25)) * 10 / 1000)
    rows.append(row(f"shopify lifecycle tags {len(tagged)} customers", tagger, floor, seconds,
                    bench.points() - before))
    return rows


def main() -> None:
    """Run every system's operations against one seeded sandbox and print the table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--people", type=int, default=20_000)
    parser.add_argument("--hubspot-tier", type=int, default=100, choices=(100, 190, 250),
                        help="the private app's calls per rolling 10 s")
    parser.add_argument("--shopify-plan", default="plus", choices=sorted(PLAN_RESTORE_RATES))
    parser.add_argument("--unlimited", action="store_true",
                        help="the sandbox enforces no rate limit (call counts only)")
    args = parser.parse_args()
    limited = not args.unlimited
    sandbox = Sandbox(contacts=args.people, seed=1, rate_limit=limited,
                      hubspot_rate_per_10s=args.hubspot_tier, shopify_plan=args.shopify_plan)
    with sandbox.start() as running:
        bench = Bench(running, args.hubspot_tier if limited else None,
                      PLAN_RESTORE_RATES[args.shopify_plan] if limited else None)
        rows = mailchimp(bench) + hubspot(bench) + shopify(bench)
        throttled = running.stats()["statuses"]
    print(f"\nsandbox with {args.people:,} seeded people, " + (
        f"rate limits on: HubSpot {args.hubspot_tier}/10 s, Shopify {args.shopify_plan} "
        f"({PLAN_RESTORE_RATES[args.shopify_plan]:g} points/s), Mailchimp 10 connections"
        if limited else "rate limits off") + "\n")
    print(f"{'operation':<44}{'calls':>7}{'minimum':>8}{'ratio':>7}{'seconds':>9}{'floor':>9}"
          f"{'ratio':>7}")
    for row in rows:
        print(row.line())
    refused = {system: counts.get("429", 0) for system, counts in throttled.items()}
    print(f"\n429 answers: {refused}")


if __name__ == "__main__":
    main()
