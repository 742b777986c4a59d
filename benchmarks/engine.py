"""Benchmark: merge three CSV exports (1,000,000 rows, ~30 % overlap) into one contact base.

    python benchmarks/engine.py [--rows 1000000] [--skip-peers]

Measures hub's full import and a no-change re-run, and, side by side in the same run, the
peer a data engineer would pick for "merge these exports into one table keyed on e-mail":
dlt with write_disposition="merge", primary_key="email" into duckdb, once row by row and
once through its pyarrow path. Each phase runs in a subprocess of its own so peak RSS is that
phase's alone. Prints a table: seconds, rows/s, peak RSS, and the ratio to each peer.
hub does more per row than the peer (normalisation, identity across e-mails, survivorship,
provenance, export); the ratios say what that costs.
"""

from __future__ import annotations

import argparse
import csv
import json
import random
import resource
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
DATA = HERE / "data"

FIRST = ["Anna", "Jonas", "Lena", "Lukas", "Mia", "Felix", "Emma", "Paul", "Sophie", "Leon",
         "Marie", "Elias", "Hannah", "Noah", "Lea", "Ben", "Clara", "Finn", "Jürgen", "Özlem"]
LAST = ["Müller", "Schmidt", "Schneider", "Fischer", "Weber", "Meyer", "Wagner", "Becker",
        "Schulz", "Hoffmann", "Schäfer", "Koch", "Bauer", "Richter", "Klein", "Wolf"]
CITIES = [("Berlin", "10115", "30"), ("Hamburg", "20095", "40"), ("München", "80331", "89"),
          ("Köln", "50667", "221"), ("Leipzig", "04109", "341")]


def _phone(rnd: random.Random, area: str, number: int) -> str:
    style = rnd.randrange(4)
    if style == 0:
        return f"+49 {area} {number}"
    if style == 1:
        return f"0{area}/{number}"
    if style == 2:
        return f"0049 {area} {number}"
    return f"(0{area}) {str(number)[:3]} {str(number)[3:]}"


def _email(rnd: random.Random, person: int) -> str:
    name = f"{FIRST[person % 20].lower()}.{LAST[person % 16].lower()}.{person}"
    email = f"{name}@example{person % 97}.de"
    return email.replace("ü", "ue").replace("ö", "oe").replace("ä", "ae").replace("Ö", "oe")


def generate(rows: int, seed: int = 42) -> Path:
    """Three exports with ~30 % of people in two of them, with case/space/phone noise."""
    folder = DATA / f"{rows}-{seed}"
    if (folder / "done").exists():
        return folder
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    rnd = random.Random(seed)
    people = int(rows / 1.3)
    shares = [0.4, 0.35, 0.25]
    files = [
        (folder / "newsletter.csv", "utf-8", ",",
         ["Email Address", "First Name", "Last Name", "Phone Number", "MEMBER_RATING",
          "OPTIN_TIME", "CONFIRM_TIME", "LAST_CHANGED", "LEID"]),
        (folder / "shop.csv", "utf-8", ",",
         ["Customer ID", "First Name", "Last Name", "Email", "Accepts Email Marketing",
          "Default Address City", "Default Address Zip", "Default Address Country Code",
          "Phone", "Total Spent", "Total Orders", "Tags"]),
        (folder / "accounting.csv", "cp1252", ";",
         ["Kundennr", "Firma", "Vorname", "Nachname", "E-Mail", "PLZ", "Ort", "Telefon"]),
    ]
    handles = [path.open("w", encoding=enc, newline="") for path, enc, _, _ in files]
    writers = [csv.writer(h, delimiter=d) for h, (_, _, d, _) in zip(handles, files, strict=True)]
    for writer, (_, _, _, header) in zip(writers, files, strict=True):
        writer.writerow(header)

    def emit(which: int, person: int, noisy: bool) -> None:
        city, zip_, area = CITIES[person % 5]
        email = _email(rnd, person)
        if noisy:
            email = rnd.choice([email.upper(), f" {email} ", email.title()])
        phone = _phone(rnd, area, 1_000_000 + person)
        first, last = FIRST[person % 20], LAST[person % 16]
        if which == 0:
            writers[0].writerow([email, first, last, phone, 1 + person % 5,
                                 "2025-03-01 10:00:00", "2025-03-01 10:05:00" if person % 3 else "",
                                 f"2026-0{1 + person % 9}-01 12:00:00", person])
        elif which == 1:
            writers[1].writerow([f"'{7_000_000_000 + person}", first, last, email,
                                 "yes" if person % 2 else "no", city, zip_, "DE", phone,
                                 f"{person % 900}.90", person % 7,
                                 "vip" if person % 11 == 0 else ""])
        else:
            writers[2].writerow([f"K-{person}", f"Firma {person % 1000} GmbH", first, last,
                                 email, zip_, city, phone])

    written = 0
    for person in range(people):
        which = 0 if rnd.random() < shares[0] else (1 if rnd.random() < 0.58 else 2)
        emit(which, person, noisy=False)
        written += 1
    while written < rows:
        person = rnd.randrange(people)
        emit(rnd.randrange(3), person, noisy=True)
        written += 1
    for h in handles:
        h.close()
    (folder / "done").write_text("ok")
    return folder


CONFIG = """\
[hub]
store = "sqlite:///hub.db"
allow_outside_paths = true   # the generated data lives next to the work folders

[identity]
max_records_per_contact = 25

[connectors.newsletter]
plugin = "csv"
path = "{data}/newsletter.csv"
format = "mailchimp"

[connectors.shop]
plugin = "csv"
path = "{data}/shop.csv"
format = "shopify"

[connectors.accounting]
plugin = "csv"
path = "{data}/accounting.csv"
format = "generic"
id_column = "Kundennr"

[connectors.accounting.columns]
email = "E-Mail"
first_name = "Vorname"
last_name = "Nachname"
company = "Firma"
zip = "PLZ"
city = "Ort"
phone = "Telefon"

[merge]
first_name = {{ rule = "priority", order = ["accounting", "shop", "newsletter"] }}
phone = {{ rule = "most_recent" }}
"""


def phase_hub(work: Path) -> dict[str, Any]:
    from hub.pipeline.engine import SyncOptions, sync
    from hub.runtime import Runtime

    runtime = Runtime.load(work / "config.toml")
    started = time.perf_counter()
    summary = sync(runtime, SyncOptions())
    seconds = time.perf_counter() - started
    read = sum(c.read for c in (summary.connectors or {}).values())
    return {"seconds": seconds, "rows": read,
            "contacts": summary.contacts.total if summary.contacts else 0,
            "rejected": summary.rejected_total, "stages": summary.stages_s}


def _dlt_pipeline(work: Path, name: str) -> Any:
    import dlt

    return dlt.pipeline(pipeline_name=name, destination=dlt.destinations.duckdb(
        str(work / f"{name}.duckdb")), dataset_name="contacts", pipelines_dir=str(work / ".dlt"),
        progress="log" if False else None)


def phase_dlt_rows(work: Path, data: Path) -> dict[str, Any]:
    import dlt

    specs = [("newsletter.csv", "utf-8", ",", "Email Address"), ("shop.csv", "utf-8", ",", "Email"),
             ("accounting.csv", "cp1252", ";", "E-Mail")]

    @dlt.resource(name="contacts", write_disposition="merge", primary_key="email")
    def rows() -> Any:
        for name, encoding, delimiter, column in specs:
            with (data / name).open(encoding=encoding, newline="") as f:
                for row in csv.DictReader(f, delimiter=delimiter):
                    row["email"] = row.pop(column)
                    yield row

    started = time.perf_counter()
    info = _dlt_pipeline(work, "rows").run(rows())
    seconds = time.perf_counter() - started
    return {"seconds": seconds, "rows": sum(1 for _ in ()) or None, "info": str(info)[:80]}


def phase_dlt_arrow(work: Path, data: Path) -> dict[str, Any]:
    import dlt
    import pyarrow as pa
    from pyarrow import csv as pacsv

    specs = [("newsletter.csv", "utf-8", ",", "Email Address"), ("shop.csv", "utf-8", ",", "Email"),
             ("accounting.csv", "cp1252", ";", "E-Mail")]

    @dlt.resource(name="contacts", write_disposition="merge", primary_key="email")
    def tables() -> Any:
        for name, encoding, delimiter, column in specs:
            table = pacsv.read_csv(
                data / name, read_options=pacsv.ReadOptions(encoding=encoding),
                parse_options=pacsv.ParseOptions(delimiter=delimiter),
                convert_options=pacsv.ConvertOptions(
                    column_types={c: pa.string() for c in ("Customer ID", "Kundennr", "Phone",
                                                            "Telefon", "Phone Number")}))
            yield table.rename_columns(["email" if c == column else c for c in table.column_names])

    started = time.perf_counter()
    _dlt_pipeline(work, "arrow").run(tables())
    return {"seconds": time.perf_counter() - started}


def run_phase(args: argparse.Namespace) -> None:
    work, data = Path(args.work), Path(args.data)
    if args.phase in ("hub-full", "hub-rerun"):
        result = phase_hub(work)
    elif args.phase.startswith("dlt-rows"):
        result = phase_dlt_rows(work, data)
    else:
        result = phase_dlt_arrow(work, data)
    result["peak_rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps(result))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--skip-peers", action="store_true", help="measure hub only")
    parser.add_argument("--phase", help=argparse.SUPPRESS)
    parser.add_argument("--work", help=argparse.SUPPRESS)
    parser.add_argument("--data", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.phase:
        run_phase(args)
        return
    data = generate(args.rows)
    work = DATA / f"work-{args.rows}"
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    (work / "config.toml").write_text(CONFIG.format(data=data), encoding="utf-8")
    phases = ["hub-full", "hub-rerun"]
    if not args.skip_peers:
        phases += ["dlt-rows", "dlt-rows-rerun", "dlt-arrow", "dlt-arrow-rerun"]
    results: dict[str, dict[str, Any]] = {}
    for phase in phases:
        print(f"running {phase} …", file=sys.stderr, flush=True)
        done = subprocess.run([sys.executable, __file__, "--phase", phase, "--work", str(work),
                               "--data", str(data)], capture_output=True, text=True, check=False)
        if done.returncode != 0:
            print(done.stderr[-2000:], file=sys.stderr)
            raise SystemExit(f"phase {phase} failed")
        results[phase] = json.loads(done.stdout.strip().splitlines()[-1])
    rows = args.rows
    print(f"\n{rows:,} source rows in 3 files; hub: {results['hub-full']['contacts']:,} "
          f"golden contacts, {results['hub-full']['rejected']} rejected\n")
    print(f"{'phase':<18}{'seconds':>10}{'rows/s':>12}{'peak RSS MB':>14}"
          f"{'hub/peer time':>16}")
    for phase, r in results.items():
        peer_ratio = ""
        if phase.startswith("dlt"):
            hub_phase = "hub-rerun" if phase.endswith("rerun") else "hub-full"
            peer_ratio = f"{results[hub_phase]['seconds'] / r['seconds']:.2f}×"
        print(f"{phase:<18}{r['seconds']:>10.1f}{rows / r['seconds']:>12,.0f}"
              f"{r['peak_rss_mb']:>14,.0f}{peer_ratio:>16}")
    print("\nhub full import by stage: " + ", ".join(
        f"{stage} {secs:.1f} s" for stage, secs in results["hub-full"]["stages"].items()))
    full, rerun = results["hub-full"]["seconds"], results["hub-rerun"]["seconds"]
    print(f"\nhub no-change re-run is {full / rerun:,.0f}× faster than the full import "
          f"(target ≥ 10×); full import target ≥ 50,000 rows/s, ≤ 500 MB")


if __name__ == "__main__":
    main()
