"""API calls each connector makes against the sandbox, next to the minimum possible.

    python benchmarks/connectors.py [--people 20000]

For a sandbox of N seeded people: a full read, an incremental read with nothing changed, and
writing every record back (batch). The minimum is what the API's page and batch limits
allow: ceil(records / page size) pages, ceil(records / batch size) batches. Prints a table.
"""

from __future__ import annotations

import argparse
import math
import time
from typing import Any

from hub.connector import ConnectorContext, OutboundRecord
from hub.secrets import MemoryBackend, Secrets
from hub_sandbox.app import Sandbox


def mailchimp(running: Any) -> list[tuple[str, int, int, float]]:
    from hub_mailchimp import MailchimpConnector, MailchimpSettings

    creds = running.credentials()["mailchimp"]
    settings = MailchimpSettings.model_validate({
        "plugin": "mailchimp", "api_key": {"secret": "k"}, "list_id": creds["list_id"],
        "base_url": creds["base_url"]})
    rows = []

    def connector() -> MailchimpConnector:
        return MailchimpConnector(settings, ConnectorContext(
            name="newsletter", secrets=Secrets(MemoryBackend({"k": creds["api_key"]}), environ={})))

    first = connector()
    started = time.perf_counter()
    pages = list(first.read("contacts", None))
    live = sum(1 for p in pages for r in p.records if not r.deleted)
    archived = sum(1 for p in pages for r in p.records if r.deleted)
    floor = math.ceil(live / 1000) + max(1, math.ceil(archived / 1000))
    rows.append(("mailchimp full read", first.context.api_calls, floor,
                 time.perf_counter() - started))
    again = connector()
    started = time.perf_counter()
    list(again.read("contacts", pages[-1].cursor))
    rows.append(("mailchimp incremental, no change", again.context.api_calls, 2,
                 time.perf_counter() - started))
    writer = connector()
    # what hub sends in steady state: every member with hub's consent decision
    status = {"subscribed": "subscribed", "pending": "pending", "unsubscribed": "unsubscribed"}
    new = [OutboundRecord(f"k{i}", i, {"email": r.fields["email"],
                                       "first_name": r.fields.get("first_name", "")},
                          external_id=r.id, consent=status[r.signals["newsletter_status"]])
           for i, r in enumerate(r for p in pages for r in p.records if not r.deleted)
           if r.signals.get("newsletter_status") in status]
    started = time.perf_counter()
    for start in range(0, len(new), 500):
        writer.write(new[start:start + 500])
    rows.append((f"mailchimp write {len(new)} members", writer.context.api_calls,
                 math.ceil(len(new) / 500), time.perf_counter() - started))
    return rows


def hubspot(running: Any) -> list[tuple[str, int, int, float]]:
    from hub_hubspot import HubSpotConnector, HubSpotSettings

    creds = running.credentials()["hubspot"]
    rows = []

    def connector(subscriptions: bool = False) -> HubSpotConnector:
        settings = HubSpotSettings.model_validate({
            "plugin": "hubspot", "token": {"secret": "t"}, "base_url": creds["base_url"],
            "read_subscriptions": subscriptions})
        return HubSpotConnector(settings, ConnectorContext(
            name="crm", secrets=Secrets(MemoryBackend({"t": creds["token"]}), environ={})))

    first = connector()
    started = time.perf_counter()
    pages = list(first.read("contacts", None))
    live = sum(1 for p in pages for r in p.records if not r.deleted)
    rows.append(("hubspot full read (list, 100/page)", first.context.api_calls,
                 math.ceil(live / 100) + 1, time.perf_counter() - started))
    # with subscription statuses (v4): each page of 100 contacts needs one status batch and
    # one unsubscribe-all batch, plus the subscription type looked up once; done when the
    # read stays within 1.1 × (contact pages + status batches)
    statuses = connector(subscriptions=True)
    started = time.perf_counter()
    with_status = list(statuses.read("contacts", None))
    emails = sum(1 for p in with_status for r in p.records if r.fields.get("email"))
    floor = math.ceil(live / 100) + 1 + 2 * math.ceil(emails / 100)
    rows.append(("hubspot full read + statuses (v4)", statuses.context.api_calls, floor,
                 time.perf_counter() - started))
    again = connector()
    started = time.perf_counter()
    list(again.read("contacts", pages[-1].cursor))
    rows.append(("hubspot incremental, no change", again.context.api_calls, 2,
                 time.perf_counter() - started))
    writer = connector()
    records = [OutboundRecord(f"k{i}", i, {"email": r.fields["email"],
                                           "job_title": "Einkauf"}, external_id=r.id)
               for i, r in enumerate(r for p in pages for r in p.records
                                     if not r.deleted and r.fields.get("email"))]
    started = time.perf_counter()
    for start in range(0, len(records), 100):
        writer.write(records[start:start + 100])
    rows.append((f"hubspot write {len(records)} contacts", writer.context.api_calls,
                 math.ceil(len(records) / 100), time.perf_counter() - started))
    return rows


def shopify(running: Any) -> list[tuple[str, int, int, float]]:
    from hub_shopify import ShopifyConnector, ShopifySettings

    creds = running.credentials()["shopify"]
    rows = []

    def connector(**extra: Any) -> ShopifyConnector:
        settings = ShopifySettings.model_validate({
            "plugin": "shopify", "shop": creds["shop"], "token": {"secret": "t"},
            "base_url": creds["base_url"], "api_version": creds["api_version"], **extra})
        return ShopifyConnector(settings, ConnectorContext(
            name="shop", secrets=Secrets(MemoryBackend({"t": creds["token"]}), environ={}),
            sleep=lambda _s: None))

    first = connector()
    started = time.perf_counter()
    pages = list(first.read("contacts", None))
    customers = [r for p in pages for r in p.records]
    # a bulk read needs at least: start it, see it completed, fetch the file
    rows.append((f"shopify full read, bulk ({len(customers)} customers)",
                 first.context.api_calls, 3, time.perf_counter() - started))
    paged = connector(bulk_threshold=10**9)
    started = time.perf_counter()
    list(paged.read("contacts", None))
    # the API's page limit is 250; with orders nested for customer value 25 fit the cost cap
    rows.append(("shopify full read, paged (25/page)", paged.context.api_calls,
                 math.ceil(len(customers) / 250), time.perf_counter() - started))
    again = connector()
    started = time.perf_counter()
    list(again.read("contacts", pages[-1].cursor))
    rows.append(("shopify incremental, no change", again.context.api_calls, 1,
                 time.perf_counter() - started))
    writer = connector()
    records = [OutboundRecord(f"k{i}", i, {"first_name": "Kundin"}, external_id=r.id)
               for i, r in enumerate(r for r in customers if not r.deleted)]
    started = time.perf_counter()
    for start in range(0, len(records), writer.batch_size):
        writer.write(records[start:start + writer.batch_size])
    # one 10-point mutation each, at most 1000 points per document
    rows.append((f"shopify write {len(records)} customers", writer.context.api_calls,
                 math.ceil(len(records) / 99), time.perf_counter() - started))
    tagger = connector()
    tagged = [OutboundRecord(f"t{i}", i, {"lead.tags": ["hub:mql"], "lead.stage": "mql"},
                             external_id=r.id)
              for i, r in enumerate(r for r in customers if not r.deleted)]
    started = time.perf_counter()
    for start in range(0, len(tagged), tagger.batch_size):
        tagger.write(tagged[start:start + tagger.batch_size])
    # per customer a tag and a metafield (metafieldsSet takes 25): reading the tags first
    # needs a query per 250 ids
    floor = math.ceil(len(tagged) * 1.04 / 99) + math.ceil(len(tagged) / 250)
    rows.append((f"shopify lead tags {len(tagged)} customers", tagger.context.api_calls,
                 floor, time.perf_counter() - started))
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--people", type=int, default=20_000)
    args = parser.parse_args()
    with Sandbox(contacts=args.people, seed=1, rate_limit=False).start() as running:
        rows = mailchimp(running) + hubspot(running) + shopify(running)
    print(f"\nsandbox with {args.people:,} seeded people\n")
    print(f"{'operation':<40}{'API calls':>10}{'minimum':>10}{'ratio':>8}{'seconds':>10}")
    for name, calls, floor, seconds in rows:
        print(f"{name:<40}{calls:>10}{floor:>10}{calls / floor:>8.2f}{seconds:>10.1f}")


if __name__ == "__main__":
    main()
