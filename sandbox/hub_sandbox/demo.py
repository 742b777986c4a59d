"""`hub demo`: the sandbox started, a config and an accountant's export made for it, synced.

The accountant's file is made from the sandbox's own people (so records merge across the CRM,
the newsletter and the file), written the way German Excel saves CSV (`;`, cp1252), with
the usual noise and two broken rows that must become dead letters.
"""

from __future__ import annotations

import csv
import random
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from hub.cli.app import fail
from hub.cli.render import print_summary
from hub.cli.screen import RichProgress, err_console, out
from hub.errors import HubError

if TYPE_CHECKING:
    from hub.runtime import Runtime
    from hub_sandbox.app import RunningSandbox

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


def demo(directory: Annotated[Path | None, typer.Option(
        "--dir", help="Keep the demo here (default: a temporary folder, removed after).")]
        = None,
         contacts: Annotated[int, typer.Option(help="People in the sandbox.")] = 1500,
         keep: Annotated[bool, typer.Option(
             "--keep", help="Keep the sandbox running afterwards (with --dir: the folder too) "
                            "and print how to reach it; Ctrl-C stops it.")] = False,
         web: Annotated[bool, typer.Option(
             "--web", help="Then open the web console on the demo's data, printing its "
                           "address and a sign-in made for this demo; Ctrl-C stops it.")]
         = False) -> None:
    """Start the sandbox (HubSpot, Shopify, Mailchimp), sync it with an accountant's export."""
    import tempfile

    from hub.pipeline.engine import SyncOptions
    from hub.pipeline.engine import sync as run_sync
    from hub.runtime import Runtime
    from hub.secrets import MemoryBackend, Secrets
    from hub_sandbox.app import Sandbox

    with tempfile.TemporaryDirectory(prefix="hub-demo-") as scratch:
        folder = directory or Path(scratch) / "demo"
        if folder.exists() and any(folder.iterdir()):
            err_console.print(f"[red]error:[/red] {folder} is not empty — pick a new --dir")
            raise typer.Exit(2)
        # the simulated APIs refill their rate limits 100× faster than the real ones: the demo
        # shows what hub does, the benchmarks how long it takes at real limits
        with Sandbox(contacts=contacts, seed=1, rate_scale=100).start() as running:
            secrets, person = prepare(folder, running)
            password = _console_user(folder / "config.toml") if web else None
            out.print(f"[bold]hub demo[/bold] in {folder}\n"
                      f"sandbox on {running.base_url}: a HubSpot CRM with "
                      f"{running.sandbox.hubspot.summary()['contacts']} contacts, a Shopify shop "
                      f"with {running.sandbox.shopify.summary()['customers']} customers and "
                      f"{running.sandbox.shopify.summary()['orders']} orders, a Mailchimp "
                      f"audience with {running.sandbox.mailchimp.summary()['members']} members "
                      "(every consent state), plus the accountant's Excel export (; and cp1252, "
                      "two broken rows).\n")
            try:
                runtime = Runtime.load(folder / "config.toml",
                                       secrets=Secrets(MemoryBackend(secrets)))
                for label, options in (("first sync", SyncOptions()),
                                       ("second sync (nothing changed)", SyncOptions())):
                    out.rule(label)
                    if sys.stderr.isatty():
                        with RichProgress() as progress:
                            summary = run_sync(runtime, options, progress)
                    else:
                        summary = run_sync(runtime, options)
                    print_summary(summary)
                runtime.store.close()
            except HubError as exc:
                fail(exc)
            mails = running.sandbox.mailchimp.summary()["confirmation_mails"]
            out.print(f"Mailchimp sent {mails} confirmation mails on hub's behalf (single "
                      "opt-ins become pending, never subscribed).")
            if password is not None:
                _open_console(runtime, password)
            elif keep:
                _keep_serving(running.base_url, folder, secrets)
        config = folder / "config.toml"
        if directory is None:
            out.print("\nrun `hub demo --dir DIR` to keep the demo folder and explore it, e.g. "
                      f"`hub contacts explain {person} --config DIR/config.toml` or the "
                      "probable duplicates waiting for review, `hub duplicates --config "
                      "DIR/config.toml`; `hub demo --web` shows it all in the browser")
        else:
            out.print(f"\nexplore: hub contacts explain {person} --config {config}\n"
                      f"         hub duplicates --config {config}\n"
                      f"         hub status --config {config}")
    # the broken rows are part of the demonstration; only real failures fail the demo
    raise typer.Exit(0 if summary.exit_code in (0, 1) else summary.exit_code)


def _keep_serving(base_url: str, folder: Path, secrets: dict[str, str]) -> None:
    """Block until Ctrl-C or SIGTERM, saying how to work with the running sandbox."""
    import signal
    import threading

    from hub.secrets import env_var_name

    stop = threading.Event()
    for number in (signal.SIGINT, signal.SIGTERM):
        signal.signal(number, lambda *_args: stop.set())
    # the sandbox's own fixed credentials (as `hub sandbox serve --json` prints them)
    exports = " ".join(f"{env_var_name(name)}={value}" for name, value in sorted(secrets.items()))
    out.print(f"\nthe sandbox keeps running on {base_url}; try:\n"
              f"  export {exports}\n"
              f"  hub sync --config {folder / 'config.toml'}\n"
              "Ctrl-C stops it.")
    sys.stdout.flush()
    stop.wait()


def _console_user(config: Path) -> str:
    """Add a console operator "demo" with a fresh password to the demo's config; the password."""
    import secrets as tokens

    from hub.web.auth import hash_password

    password = tokens.token_urlsafe(12)
    with config.open("a", encoding="utf-8") as f:
        f.write(f'\n# the web console (hub demo --web): sign in as "demo"\n'
                f'[web.users.demo]\npassword_hash = "{hash_password(password)}"\n'
                'role = "operator"\n')
    return password


def _open_console(runtime: Runtime, password: str) -> None:
    """Serve the console on the demo's store until Ctrl-C, saying where and how to sign in."""
    from hub.web.serving import serve_forever

    def ready(url: str) -> None:
        out.print(f"\nthe web console is on {url}\n  sign in as: demo\n  password:   {password}"
                  "\nCtrl-C stops it.", highlight=False)
        sys.stdout.flush()

    serve_forever(runtime, "127.0.0.1", 0, ready)
