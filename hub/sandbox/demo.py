"""`hub demo`: a config and an accountant's export made for a freshly started sandbox.

The accountant's file is made from the sandbox's own people (so records merge across the CRM,
the newsletter and the file), written the way German Excel saves CSV (`;`, cp1252), with
the usual noise and two broken rows that must become dead letters.
"""

from __future__ import annotations

import csv
import random
from pathlib import Path

from hub.sandbox.app import RunningSandbox

DEMO_SECRETS = ("demo-hubspot-token", "demo-mailchimp-key", "demo-shopify-token")


def prepare(folder: Path, running: RunningSandbox) -> tuple[dict[str, str], str]:
    """Write config.toml and data/ into `folder`; return the secrets and an address to explain."""
    creds = running.credentials()
    people = running.sandbox.people
    rnd = random.Random(running.sandbox.seed)
    (folder / "data").mkdir(parents=True, exist_ok=True)
    everywhere = [p for p in people if p.hubspot and p.mailchimp and "role address" not in p.notes]
    chosen = rnd.sample(everywhere, min(40, len(everywhere)))
    chosen += rnd.sample([p for p in people if not p.hubspot and not p.mailchimp][:200], 10)
    with (folder / "data" / "buchhaltung.csv").open("w", encoding="cp1252", newline="",
                                                     errors="replace") as f:
        writer = csv.writer(f, delimiter=";")
        writer.writerow(["Kundennr", "Firma", "Vorname", "Nachname", "E-Mail", "Telefon", "PLZ",
                         "Ort", "Land"])
        for n, p in enumerate(chosen):
            email = p.email.upper() if n % 5 == 0 else p.email
            phone = (p.phone or "").replace("+49", "0") if n % 2 else (p.phone or "")
            writer.writerow([f"K-{1000 + n}", p.company or "", p.first_name, p.last_name, email,
                             phone, p.zip or "", p.city or "",
                             {"DE": "Deutschland", "AT": "Österreich", "CH": "Schweiz"}.get(
                                 p.country or "", p.country or "")])
        writer.writerow(["K-9998", "Tippfehler GmbH", "Ina", "Fehler", "ina.fehler@@example.de",
                         "", "", "", ""])
        writer.writerow(["K-9999", "Zuviel AG", "Zu", "Viel", "zu.viel@example.de", "", "", "",
                         "", "EXTRA"])
    (folder / "config.toml").write_text(f"""\
# hub demo: the CRM, the shop and the newsletter are local simulators (hub sandbox), the
# accountant's file is a German Excel export. Secrets are the sandbox's, given to hub by the
# demo itself.

[hub]
store = "sqlite:///hub.db"

[connectors.crm]
plugin = "hubspot"
token = {{ secret = "{DEMO_SECRETS[0]}" }}
base_url = "{creds['hubspot']['base_url']}"
read_subscriptions = false   # one call per contact; the newsletter carries the consent here
rate_per_10s = 250           # HubSpot's highest tier (the API limit pack)

[connectors.shop]
plugin = "shopify"
shop = "{creds['shopify']['shop']}"
token = {{ secret = "{DEMO_SECRETS[2]}" }}
base_url = "{creds['shopify']['base_url']}"
api_version = "{creds['shopify']['api_version']}"
bulk_threshold = 500         # the demo shop is small; read it the way a large one is read

[connectors.newsletter]
plugin = "mailchimp"
api_key = {{ secret = "{DEMO_SECRETS[1]}" }}
list_id = "{creds['mailchimp']['list_id']}"
base_url = "{creds['mailchimp']['base_url']}"

[connectors.accounting]
plugin = "csv"
path = "data/buchhaltung.csv"
format = "generic"
id_column = "Kundennr"

[connectors.accounting.columns]
email = "E-Mail"
first_name = "Vorname"
last_name = "Nachname"
company = "Firma"
phone = "Telefon"
zip = "PLZ"
city = "Ort"
country = "Land"

[connectors.export]
plugin = "csv"
path = "out/contacts.csv"
mode = "write"

[merge]
first_name = {{ rule = "priority", order = ["crm", "shop", "accounting", "newsletter"] }}
last_name = {{ rule = "priority", order = ["crm", "shop", "accounting", "newsletter"] }}
company = {{ rule = "priority", order = ["accounting", "crm"] }}
phone = {{ rule = "most_recent" }}

[consent]
newsletter = "newsletter"

# the lead SLA: a senior title plus newsletter engagement makes an MQL, a paid order a customer
[scoring]
half_life_days = 180
bands = {{ cold = 0, warm = 30, hot = 60 }}

[[scoring.rules]]
field = "job_title"
matches = "(?i)head|chief|leiter|geschäftsführer|ceo|cto"
points = 30

[[scoring.rules]]
field = "member_rating"
min = 4
points = 15
behaviour = true

[[scoring.rules]]
field = "avg_open_rate"
min = 0.4
points = 10
behaviour = true

[[scoring.rules]]
field = "orders_count"
min = 2
points = 10
behaviour = true
dated_by = "last_order_at"

[lifecycle]
mql_threshold = 50
dormant_after_days = 365

[lifecycle.handover]
owners = ["7001", "7002", "7003"]

[lifecycle.push.crm]
owner = true

[lifecycle.push.newsletter]

[lifecycle.push.shop]
""", encoding="utf-8")
    secrets = {DEMO_SECRETS[0]: creds["hubspot"]["token"],
               DEMO_SECRETS[1]: creds["mailchimp"]["api_key"],
               DEMO_SECRETS[2]: creds["shopify"]["token"]}
    return secrets, chosen[0].email
