"""The web console with 100,000 contacts: search, a contact page and every list page.

    python benchmarks/web.py [--contacts 100000] [--repeat 15]

Builds hub's CSV example with a generated Mailchimp export of N members and a Shopify export
of N/3 customers (the same people, so records merge), syncs it for real (`hub sync` in
process), then times the console's pages through its ASGI app, signed in as an operator:
the median of `--repeat` requests after one warm-up. The target is 300 ms for each. The
search rows are measured again without the name and phone indexes of migration 0010, to show
what they are for.
"""

from __future__ import annotations

import argparse
import csv
import random
import re
import shutil
import statistics
import tempfile
import time
import warnings
from pathlib import Path
from typing import Any

from hub.registry import load_plugins
from hub.runtime import Runtime
from hub.web import console_app
from hub.web.auth import hash_password

ROOT = Path(__file__).resolve().parent.parent
TARGET_MS = 300.0
FIRST = ["Anna", "Jonas", "Lea", "Paul", "Marie", "Felix", "Emma", "Lukas", "Mia", "Leon",
         "Sofia", "Noah", "Hanna", "Elias", "Lina", "Ben", "Clara", "Finn", "Ida", "Jakob"]
LAST = ["Müller", "Schmidt", "Schneider", "Fischer", "Weber", "Meyer", "Wagner", "Becker",
        "Schulz", "Hoffmann", "Koch", "Richter", "Klein", "Wolf", "Schröder", "Neumann",
        "Schwarz", "Zimmermann", "Braun", "Krüger", "Hofmann", "Hartmann", "Lange", "Werner"]
#: Name endings and towns: a spread like a real customer base, so the matcher's blocks (name
#: sounds, postcode, town) stay small as they would (identical names everywhere would not).
ENDINGS = ["", "berg", "feld", "hagen", "kamp", "stein", "wald", "bach", "dorf", "holz",
           "brink", "mann", "rath", "horst", "lund", "thal"]
TOWNS = ["Berlin", "Hamburg", "München", "Köln", "Frankfurt am Main", "Stuttgart", "Leipzig",
         "Dresden", "Hannover", "Nürnberg", "Bremen", "Essen", "Bonn", "Münster", "Kiel",
         "Mainz", "Erfurt", "Rostock", "Kassel", "Freiburg", "Augsburg", "Ulm", "Trier", "Jena"]


def person(rnd: random.Random, n: int) -> tuple[str, str]:
    """Person n's first and last name (the same for both exports)."""
    return (f"{rnd.choice(FIRST)}{rnd.choice(ENDINGS[:6]) if n % 4 == 0 else ''}",
            f"{rnd.choice(LAST)}{rnd.choice(ENDINGS)}")


def generate(folder: Path, people: int) -> None:
    """The example's folder with N newsletter members and N/3 shop customers."""
    shutil.copytree(ROOT / "hub" / "demo", folder,
                    ignore=shutil.ignore_patterns("hub.db*", "out", "__pycache__"))
    rnd = random.Random(7)
    data = folder / "data"
    with (data / "newsletter_members.csv").open("w", encoding="utf-8", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["Email Address", "First Name", "Last Name", "Phone Number",
                         "MEMBER_RATING", "OPTIN_TIME", "OPTIN_IP", "CONFIRM_TIME", "CONFIRM_IP",
                         "CC", "LAST_CHANGED", "LEID", "EUID", "TAGS"])
        for n in range(people):
            first, last = person(rnd, n)
            confirmed = n % 3 != 0
            writer.writerow([f"{first}.{last}.{n}@example.de".lower(), first, last,
                             f"+49 30 {2000000 + n}", n % 5 + 1, "2025-01-10 09:10:00",
                             "203.0.113.1", "2025-01-10 09:30:00" if confirmed else "",
                             "198.51.100.2" if confirmed else "", "DE", "2026-01-01 12:00:00",
                             str(100000 + n), f"eu{n}", '"Newsletter"'])
    with (data / "shop_customers.csv").open("w", encoding="utf-8", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["Customer ID", "First Name", "Last Name", "Email",
                         "Accepts Email Marketing", "Default Address Company",
                         "Default Address City", "Default Address Country Code",
                         "Default Address Zip", "Phone", "Total Spent", "Total Orders", "Tags"])
        rnd = random.Random(7)
        for n in range(people):
            first, last = person(rnd, n)
            if n % 3:
                continue
            writer.writerow([f"'{7100000000 + n}", first, last,
                             f"{first}.{last}.{n}@example.de".lower(), "yes" if n % 2 else "no",
                             f"Firma {n % 500}", TOWNS[n % len(TOWNS)], "DE",
                             str(10000 + (n * 7919) % 89999), f"030 {2000000 + n}",
                             f"{(n % 40) * 12.5:.2f}", str(n % 7), ""])


def timed(client: Any, path: str, repeat: int) -> float:
    """Median milliseconds of GET `path` after one warm-up."""
    assert client.get(path).status_code == 200, path
    samples = []
    for _ in range(repeat):
        started = time.perf_counter()
        answer = client.get(path)
        samples.append((time.perf_counter() - started) * 1000)
        assert answer.status_code == 200, path
    return statistics.median(samples)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--contacts", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=15)
    args = parser.parse_args()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        from starlette.testclient import TestClient
    from sqlalchemy import func, select, text

    from hub.pipeline.engine import SyncOptions, sync
    from hub.store.schema import SEARCHED_FIELDS, contacts, source_records

    with tempfile.TemporaryDirectory(prefix="hub-web-bench-") as scratch:
        folder = Path(scratch) / "example"
        generate(folder, args.contacts)
        config = folder / "config.toml"
        config.write_text(config.read_text(encoding="utf-8")
                          + f'\n[web.users.bench]\npassword_hash = "{hash_password("bench")}"\n'
                          'role = "operator"\n', encoding="utf-8")
        runtime = Runtime.load(config, plugins=load_plugins(["csv"]))
        started = time.perf_counter()
        sync(runtime, SyncOptions())
        took = time.perf_counter() - started
        with runtime.store.begin() as conn:
            total = conn.execute(select(func.count()).select_from(contacts)).scalar_one()
            busiest = conn.execute(
                select(source_records.c.contact_id).group_by(source_records.c.contact_id)
                .order_by(func.count().desc(), source_records.c.contact_id).limit(1)).scalar_one()
            sample = conn.execute(select(contacts.c.email, contacts.c.fields)
                                  .where(contacts.c.id == busiest)).one()
        print(f"{total} contacts in the store (sync took {took:.0f} s); "
              f"median of {args.repeat} requests after a warm-up\n")
        client = TestClient(console_app(runtime))
        form = client.get("/login").text
        token = re.search(r'name="csrf" value="([^"]+)"', form)
        assert token
        client.post("/login", data={"csrf": token.group(1), "username": "bench",
                                    "password": "bench", "next": "/"})
        fields = sample.fields
        searches = {"search: e-mail prefix": f"/contacts?q={sample.email[:12]}",
                    "search: last name": f"/contacts?q={fields['last_name']}",
                    "search: first and last name":
                        f"/contacts?q={fields['first_name']}+{fields['last_name']}",
                    "search: phone": f"/contacts?q=030{fields['phone'][5:]}"}
        pages = {**searches, "contact page": f"/contacts/{busiest}", "overview": "/",
                 "funnel": "/funnel", "runs": "/runs", "duplicates": "/duplicates",
                 "consent": "/consent"}
        rows = [(name, timed(client, path, args.repeat)) for name, path in pages.items()]
        with runtime.store.begin() as conn:
            for name in SEARCHED_FIELDS:
                conn.execute(text(f"DROP INDEX ix_contacts_search_{name}"))
        unindexed = {name: timed(client, searches[name], max(3, args.repeat // 5))
                     for name in ("search: last name", "search: first and last name",
                                  "search: phone")}
        runtime.store.close()
    print(f"{'page':<30} {'ms':>8} {'target ms':>10} {'ms / target':>12} {'no index ms':>12}")
    for name, ms in rows:
        without = f"{unindexed[name]:.1f}" if name in unindexed else ""
        print(f"{name:<30} {ms:>8.1f} {TARGET_MS:>10.0f} {ms / TARGET_MS:>12.2f} {without:>12}")


if __name__ == "__main__":
    main()
