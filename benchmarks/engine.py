"""Benchmark: merge three CSV exports (1,000,000 rows, ~30 % overlap) into one contact base.

    python benchmarks/engine.py [--rows 1000000] [--store sqlite|postgresql|both]
                                [--changed N] [--postgres-url URL] [--skip-peers]
                                [--with-dlt-rows]

Generates three exports (a Mailchimp audience, a Shopify customer export, an accounting file in
cp1252 with ";"), about 30 % of the people in two of them with case, space and phone-format
noise, and a changed copy of them (`--changed` rows, default 3 % of `--rows`: 30,000 at a
million, spread over the three files: new phone numbers, last names, cities, e-mail addresses
and new people). Both are cached under benchmarks/data/ and never modified.

hub runs with the consent ledger (`[consent] newsletter`) and lifecycle with two scoring rules
(no decay: a decay makes every run evaluate every contact), once per store (`--store`, default
both): SQLite in the work folder, PostgreSQL in a database of its own
(`hub_bench` on the server of `--postgres-url`, dropped and created again before each run;
the default is the local trust-auth server). Phases, each in a subprocess of its own so its
peak RSS is that phase's alone (the PostgreSQL server's memory is not counted):

    hub-full    first `hub sync` of the three files into an empty store (rows/s = source rows)
    floor-all   right after hub-full: every row the import left in the store, written again
                into a fresh store of the same schema, one transaction per table (executemany
                on SQLite, COPY on PostgreSQL), only the writing timed: what merely storing
                hub's data costs, with no logic at all
    floor-essential  the same for the four tables hub's guarantees rest on (source records,
                contacts, the consent ledger, leads) with no index but keys: the least any
                engine keeping provenance, golden records, a consent ledger and lead state
                writes (`phase_floor`)
    hub-rerun   `hub sync` again, nothing changed (should skip the files unopened)
    hub-change  the three files replaced by their changed copies, `hub sync` again: every
                changed file is read again in full and unchanged rows are skipped by their
                row digest before they are built; rows/s = changed rows / seconds (the total
                re-read is printed too)

Beside them, in the same run, the peer a data engineer would pick for "merge these exports into
one table keyed on e-mail": dlt with write_disposition="merge", primary_key="email" into duckdb
through its pyarrow path (dlt-arrow, dlt-arrow-rerun, dlt-arrow-change on the same files), and
with `--with-dlt-rows` also row by row (slow). dlt has no store choice; it runs once.

Prints per store: seconds, rows/s, peak RSS, the issue's target, whether it is met, the peer's
seconds and hub/peer time; the full import's and the change's stages (summary.stages_s); and
how much faster the no-change re-run is. hub does more per row than the peer (normalisation,
identity across e-mails, survivorship, consent ledger, lifecycle, provenance); the ratios say
what that costs. Targets (hub #15) are the constants below.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import random
import resource
import shutil
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import closing
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
DATA = HERE / "data"

# -- the targets of hub #15 ("Done when") ------------------------------------------------------
TARGET_FULL_ROWS_S = 50_000      # full import, source rows per second
TARGET_PEAK_MB = 500             # peak RSS of every hub phase
TARGET_RERUN_SPEEDUP = 10        # the no-change re-run at least this many times faster
TARGET_CHANGE_ROWS_S = 20_000    # changed rows per second in an incremental run
CHANGED_SHARE = 0.03             # 30,000 changed rows at 1,000,000

DEFAULT_POSTGRES = "postgresql+psycopg://postgres@127.0.0.1:5432/test"
BENCH_DATABASE = "hub_bench"
FLOOR_DATABASE = "hub_floor"
STORES = ("sqlite", "postgresql")
STORE_TITLE = {"sqlite": "SQLite", "postgresql": "PostgreSQL"}

FIRST = ["Anna", "Jonas", "Lena", "Lukas", "Mia", "Felix", "Emma", "Paul", "Sophie", "Leon",
         "Marie", "Elias", "Hannah", "Noah", "Lea", "Ben", "Clara", "Finn", "Jürgen", "Özlem"]
LAST = ["Müller", "Schmidt", "Schneider", "Fischer", "Weber", "Meyer", "Wagner", "Becker",
        "Schulz", "Hoffmann", "Schäfer", "Koch", "Bauer", "Richter", "Klein", "Wolf"]
CITIES = [("Berlin", "10115", "30"), ("Hamburg", "20095", "40"), ("München", "80331", "89"),
          ("Köln", "50667", "221"), ("Leipzig", "04109", "341")]

# (file, encoding, delimiter, header); the column names below index into these headers
FILES: list[tuple[str, str, str, list[str]]] = [
    ("newsletter.csv", "utf-8", ",",
     ["Email Address", "First Name", "Last Name", "Phone Number", "MEMBER_RATING",
      "OPTIN_TIME", "CONFIRM_TIME", "LAST_CHANGED", "LEID"]),
    ("shop.csv", "utf-8", ",",
     ["Customer ID", "First Name", "Last Name", "Email", "Accepts Email Marketing",
      "Default Address City", "Default Address Zip", "Default Address Country Code",
      "Phone", "Total Spent", "Total Orders", "Tags"]),
    ("accounting.csv", "cp1252", ";",
     ["Kundennr", "Firma", "Vorname", "Nachname", "E-Mail", "PLZ", "Ort", "Telefon"]),
]
# per file: record id, e-mail, last name, phone, city, zip (None: the file has no such column)
COLUMNS: list[dict[str, str | None]] = [
    {"id": "LEID", "email": "Email Address", "last": "Last Name", "phone": "Phone Number",
     "city": None, "zip": None},
    {"id": "Customer ID", "email": "Email", "last": "Last Name", "phone": "Phone",
     "city": "Default Address City", "zip": "Default Address Zip"},
    {"id": "Kundennr", "email": "E-Mail", "last": "Nachname", "phone": "Telefon",
     "city": "Ort", "zip": "PLZ"},
]


def _phone(rnd: random.Random, area: str, number: int) -> str:
    style = rnd.randrange(4)
    if style == 0:
        return f"+49 {area} {number}"
    if style == 1:
        return f"0{area}/{number}"
    if style == 2:
        return f"0049 {area} {number}"
    return f"(0{area}) {str(number)[:3]} {str(number)[3:]}"


def _email(person: int, tag: str = "") -> str:
    name = f"{FIRST[person % 20].lower()}.{LAST[person % 16].lower()}{tag}.{person}"
    email = f"{name}@example{person % 97}.de"
    return email.replace("ü", "ue").replace("ö", "oe").replace("ä", "ae").replace("Ö", "oe")


def _row(rnd: random.Random, which: int, person: int, noisy: bool) -> list[Any]:
    """One person's row in file `which` (0 newsletter, 1 shop, 2 accounting)."""
    city, zip_, area = CITIES[person % 5]
    email = _email(person)
    if noisy:
        email = rnd.choice([email.upper(), f" {email} ", email.title()])
    phone = _phone(rnd, area, 1_000_000 + person)
    first, last = FIRST[person % 20], LAST[person % 16]
    if which == 0:
        return [email, first, last, phone, 1 + person % 5,
                "2025-03-01 10:00:00", "2025-03-01 10:05:00" if person % 3 else "",
                f"2026-0{1 + person % 9}-01 12:00:00", person]
    if which == 1:
        return [f"'{7_000_000_000 + person}", first, last, email, "yes" if person % 2 else "no",
                city, zip_, "DE", phone, f"{person % 900}.90", person % 7,
                "vip" if person % 11 == 0 else ""]
    return [f"K-{person}", f"Firma {person % 1000} GmbH", first, last, email, zip_, city, phone]


def generate(rows: int, seed: int = 42) -> Path:
    """Three exports with ~30 % of people in two of them, with case/space/phone noise.

    Each record id is in its file once, as in a real export: the overlap is across files.
    (Until hub #15's benchmark work, a noisy copy could land in its own file under the same
    id; a changed file then made hub rewrite such pairs twice, which counted as changes.)
    """
    folder = DATA / f"{rows}-{seed}-v2"
    if (folder / "done").exists():
        return folder
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    rnd = random.Random(seed)
    people = int(rows / 1.3)
    shares = [0.4, 0.35, 0.25]
    handles = [(folder / name).open("w", encoding=enc, newline="") for name, enc, _, _ in FILES]
    writers = [csv.writer(h, delimiter=d) for h, (_, _, d, _) in zip(handles, FILES, strict=True)]
    for writer, (_, _, _, header) in zip(writers, FILES, strict=True):
        writer.writerow(header)
    written = 0
    placed: set[int] = set()  # which * people + person: a record id once per file
    for person in range(people):
        which = 0 if rnd.random() < shares[0] else (1 if rnd.random() < 0.58 else 2)
        writers[which].writerow(_row(rnd, which, person, noisy=False))
        placed.add(which * people + person)
        written += 1
    while written < rows:
        person = rnd.randrange(people)
        which = rnd.randrange(3)
        if which * people + person in placed:
            continue
        writers[which].writerow(_row(rnd, which, person, noisy=True))
        placed.add(which * people + person)
        written += 1
    for h in handles:
        h.close()
    (folder / "done").write_text("ok")
    return folder


def _read(path: Path, encoding: str, delimiter: str) -> Iterator[list[str]]:
    with path.open(encoding=encoding, newline="") as f:
        yield from csv.reader(f, delimiter=delimiter)


def _change(rnd: random.Random, row: list[str], index: dict[str, int],
            columns: dict[str, str | None], kind: int, person: int) -> None:
    """Change one field that matters in `row` (in place); `kind` picks which."""
    def col(name: str) -> int | None:
        column = columns[name]
        return index[column] if column else None

    city_at, zip_at = col("city"), col("zip")
    if kind == 0:      # a new e-mail address (identity must follow the record)
        row[index[str(columns["email"])]] = _email(person, tag=".neu")
    elif kind in (1, 2, 3):  # a new phone number
        area = CITIES[person % 5][2]
        row[index[str(columns["phone"])]] = _phone(rnd, area, 2_000_000 + person)
    elif kind in (4, 5) or city_at is None or zip_at is None:  # married: a new last name
        row[index[str(columns["last"])]] = LAST[(person + 1 + kind) % 16] + "-" + LAST[kind]
    else:              # moved to another city
        city, zip_, _ = CITIES[(person + 1 + kind % 4) % 5]
        row[city_at], row[zip_at] = city, zip_


def make_changes(data: Path, changed: int, seed: int = 42) -> Path:
    """A copy of `data` with `changed` rows changed or added, spread over the three files.

    About 10 % of them are new people (appended rows), 10 % a new e-mail address on an
    existing record, the rest a new phone number, last name or city. Only rows whose record id
    is unique in their file are changed, so each changed row is exactly one changed record.
    """
    folder = data.parent / f"{data.name}-changed-{changed}"
    if (folder / "done").exists():
        return folder
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    rnd = random.Random(seed + 1)
    sizes, unique = [], []
    for (name, enc, delim, header), columns in zip(FILES, COLUMNS, strict=True):
        at = header.index(str(columns["id"]))
        ids = Counter(row[at] for n, row in enumerate(_read(data / name, enc, delim)) if n)
        sizes.append(ids.total())
        unique.append([n - 1 for n, row in enumerate(_read(data / name, enc, delim))
                       if n and ids[row[at]] == 1])
    total = sum(sizes)
    quota = [changed * size // total for size in sizes]
    quota[0] += changed - sum(quota)
    people = int(total / 1.3)
    next_person = people + 1
    for f, ((name, enc, delim, header), columns) in enumerate(zip(FILES, COLUMNS, strict=True)):
        index = {column: i for i, column in enumerate(header)}
        new_people = quota[f] // 10
        picked = rnd.sample(unique[f], min(len(unique[f]), quota[f] - new_people))
        new_people = quota[f] - len(picked)
        kinds = {row: n % 10 for n, row in enumerate(picked)}
        with (folder / name).open("w", encoding=enc, newline="") as out:
            writer = csv.writer(out, delimiter=delim)
            for i, row in enumerate(_read(data / name, enc, delim)):
                kind = kinds.get(i - 1)
                if kind is not None:
                    person = int("".join(c for c in row[index[str(columns["id"])]]
                                         if c.isdigit())) % 1_000_000_000
                    _change(rnd, row, index, columns, kind, person)
                writer.writerow(row)
            for _ in range(new_people):
                writer.writerow(_row(rnd, f, next_person, noisy=False))
                next_person += 1
    (folder / "done").write_text("ok")
    return folder


CONFIG = """\
[hub]
store = "{store}"
allow_outside_paths = true

[identity]
max_records_per_contact = 25

[consent]
newsletter = "newsletter"

[[scoring.rules]]
field = "member_rating"
min = 4
points = 15

[[scoring.rules]]
field = "order_count"
min = 1
points = 25

[lifecycle]
mql_threshold = 40

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


# -- phases (each in a subprocess) ---------------------------------------------------------------
def phase_hub(work: Path) -> dict[str, Any]:
    from hub.pipeline.engine import SyncOptions, sync
    from hub.runtime import Runtime

    runtime = Runtime.load(work / "config.toml")
    started = time.perf_counter()
    summary = sync(runtime, SyncOptions())
    seconds = time.perf_counter() - started
    counts = (summary.connectors or {}).values()
    return {"seconds": seconds, "rows": sum(c.read for c in counts),
            "skipped": sum(c.skipped_unchanged for c in counts),
            "rejected": summary.rejected_total, "status": summary.status,
            "contacts": summary.contacts.total if summary.contacts else 0,
            "consent_events": (summary.contacts.consent_events or 0) if summary.contacts else 0,
            "lifecycle_evaluated": summary.lifecycle.evaluated if summary.lifecycle else 0,
            "stages": summary.stages_s,
            "errors": [str(e)[:200] for e in summary.errors[:3]]}


def _dlt_pipeline(work: Path, name: str) -> Any:
    import dlt

    return dlt.pipeline(pipeline_name=name, destination=dlt.destinations.duckdb(
        str(work / f"{name}.duckdb")), dataset_name="contacts", pipelines_dir=str(work / ".dlt"))


def _email_columns() -> list[tuple[str, str, str, str]]:
    return [(name, enc, delim, str(columns["email"]))
            for (name, enc, delim, _), columns in zip(FILES, COLUMNS, strict=True)]


def phase_dlt_rows(work: Path, data: Path) -> dict[str, Any]:
    import dlt

    count = 0

    @dlt.resource(name="contacts", write_disposition="merge", primary_key="email")
    def rows() -> Any:
        nonlocal count
        for name, encoding, delimiter, column in _email_columns():
            with (data / name).open(encoding=encoding, newline="") as f:
                for row in csv.DictReader(f, delimiter=delimiter):
                    row["email"] = row.pop(column)
                    count += 1
                    yield row

    started = time.perf_counter()
    _dlt_pipeline(work, "rows").run(rows())
    return {"seconds": time.perf_counter() - started, "rows": count}


def phase_dlt_arrow(work: Path, data: Path) -> dict[str, Any]:
    import dlt
    import pyarrow as pa  # type: ignore[import-untyped]
    from pyarrow import csv as pacsv

    count = 0

    @dlt.resource(name="contacts", write_disposition="merge", primary_key="email")
    def tables() -> Any:
        nonlocal count
        for name, encoding, delimiter, column in _email_columns():
            table = pacsv.read_csv(
                data / name, read_options=pacsv.ReadOptions(encoding=encoding),
                parse_options=pacsv.ParseOptions(delimiter=delimiter),
                convert_options=pacsv.ConvertOptions(
                    column_types={c: pa.string() for c in ("Customer ID", "Kundennr", "Phone",
                                                            "Telefon", "Phone Number")}))
            count += table.num_rows
            yield table.rename_columns(["email" if c == column else c for c in table.column_names])

    started = time.perf_counter()
    _dlt_pipeline(work, "arrow").run(tables())
    return {"seconds": time.perf_counter() - started, "rows": count}


# -- the store's write floor ---------------------------------------------------------------
#: Tables that carry hub's guarantees: provenance (each source record as read), the golden
#: contact, the consent ledger and the lead state. An engine keeping less could not answer
#: "where did this value come from", "who consented when" or "why is this person an MQL".
ESSENTIAL = ("source_records", "contacts", "consent_ledger", "leads")
FLOORS = ("all", "essential")
#: Bookkeeping, not a cost per row (and migrated, not copied).
NOT_COPIED = ("alembic_version",)


def phase_floor(work: Path, variant: str) -> dict[str, Any]:
    """What merely writing the rows of the first import costs, with no logic at all.

    Every row hub's full import left in its store is read back, then written into a fresh
    store of the same schema (hub's own migrations) in one transaction per table:
    executemany on SQLite, one COPY per table on PostgreSQL. Only the writing is timed, and
    with one transaction per table it is as optimistic as a bulk load gets; hub commits a
    checkpoint per page and can only be slower. `variant`:

    all        every table, indexes in place (the rows hub keeps, written as cheaply as can be)
    essential  only source records, contacts, the consent ledger and leads, with no index
               but their keys and unique constraints: no match keys, no identity keys, no
               stage history, no search index. The least any engine keeping provenance,
               golden records, a consent ledger and lead state has to write.
    """
    import tomllib

    from sqlalchemy import text

    from hub.store import Store, schema

    config = tomllib.loads((work / "config.toml").read_text(encoding="utf-8"))
    source = Store.open(config["hub"]["store"], base_dir=work, migrate=False)
    postgres = source.dialect == "postgresql"
    if postgres:
        url = _postgres_database(config["hub"]["store"], FLOOR_DATABASE)
    else:
        (work / "floor.db").unlink(missing_ok=True)
        url = "sqlite:///floor.db"
    target = Store.open(url, base_dir=work)
    tables = [t for t in schema.metadata.sorted_tables if t.name not in NOT_COPIED]
    if variant == "essential":
        wanted = set(ESSENTIAL)
        for table in list(tables):  # and the small tables they refer to (runs)
            if table.name in wanted:
                wanted |= {fk.column.table.name for fk in table.foreign_keys}
        tables = [t for t in tables if t.name in wanted]
        listing = ("SELECT indexname, indexdef FROM pg_indexes WHERE tablename = :t" if postgres
                   else "SELECT name, sql FROM sqlite_master WHERE type = 'index' "
                        "AND tbl_name = :t AND sql IS NOT NULL")
        with target.begin() as conn:
            for table in tables:
                for name, definition in conn.execute(text(listing), {"t": table.name}).all():
                    if not definition.upper().startswith("CREATE UNIQUE"):
                        conn.execute(text(f'DROP INDEX "{name}"'))
    seconds, rows, per_table = 0.0, 0, {}
    for table in tables:
        names = ", ".join(f'"{c.name}"' for c in table.columns)
        if postgres:
            spool = work / "floor.copy"
            with closing(source.engine.raw_connection()) as raw, spool.open("wb") as out, \
                    raw.cursor().copy(f'COPY "{table.name}" ({names}) TO STDOUT') as copy:
                for block in copy:
                    out.write(block)
            with spool.open("rb") as spooled:
                count = sum(1 for _ in spooled)  # text COPY: one line per row
            started = time.perf_counter()
            with closing(target.engine.raw_connection()) as raw, spool.open("rb") as spooled:
                with raw.cursor().copy(f'COPY "{table.name}" ({names}) FROM STDIN') as copy:
                    while block := spooled.read(1 << 20):
                        copy.write(block)
                raw.commit()
            spent = time.perf_counter() - started
            spool.unlink()
        else:
            with closing(source.engine.raw_connection()) as raw:
                batch = raw.cursor().execute(f'SELECT {names} FROM "{table.name}"').fetchall()
            count = len(batch)
            marks = ", ".join("?" * len(table.columns))
            started = time.perf_counter()
            with closing(target.engine.raw_connection()) as raw:
                raw.cursor().executemany(
                    f'INSERT INTO "{table.name}" ({names}) VALUES ({marks})', batch)
                raw.commit()
            spent = time.perf_counter() - started
            del batch
        if count:
            seconds += spent
            rows += count
            per_table[table.name] = [count, round(spent, 2)]
    target.engine.dispose()
    source.engine.dispose()
    if not postgres:
        for suffix in ("", "-wal", "-shm"):
            (work / f"floor.db{suffix}").unlink(missing_ok=True)
    return {"seconds": seconds, "rows": rows, "tables": per_table}


def run_phase(args: argparse.Namespace) -> None:
    work, data = Path(args.work), Path(args.data)
    if args.phase.startswith("floor-"):
        result = phase_floor(work, args.phase.removeprefix("floor-"))
    elif args.phase.startswith("hub-"):
        result = phase_hub(work)
    elif args.phase.startswith("dlt-rows"):
        result = phase_dlt_rows(work, data)
    else:
        result = phase_dlt_arrow(work, data)
    result["peak_rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps(result))


# -- orchestration ---------------------------------------------------------------------------
def _spawn(phase: str, work: Path, data: Path) -> dict[str, Any]:
    print(f"running {phase} …", file=sys.stderr, flush=True)
    done = subprocess.run([sys.executable, __file__, "--phase", phase, "--work", str(work),
                           "--data", str(data)], capture_output=True, text=True, check=False)
    if done.returncode != 0:
        print(done.stderr[-3000:], file=sys.stderr)
        raise SystemExit(f"phase {phase} failed")
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    if result.get("errors"):
        print(f"  {phase}: {result['status']}: {result['errors']}", file=sys.stderr)
    return result


def _place(source: Path, folder: Path) -> None:
    """Put the three files of `source` into `folder` (hard links; a copy across devices).

    Replaced, never written through: the generated data stays as it is.
    """
    folder.mkdir(parents=True, exist_ok=True)
    for name, _, _, _ in FILES:
        target, spare = folder / name, folder / f".{name}.new"
        spare.unlink(missing_ok=True)
        try:
            os.link(source / name, spare)
        except OSError:
            shutil.copy2(source / name, spare)
        os.replace(spare, target)


def _postgres_database(admin_url: str, name: str = BENCH_DATABASE) -> str:
    """Drop and create one of the benchmark's own databases; its URL."""
    from sqlalchemy import create_engine, text
    from sqlalchemy.engine import make_url

    admin = create_engine(admin_url, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
            conn.execute(text(f'CREATE DATABASE "{name}"'))
    except Exception as exc:  # no server, no rights: say which and stop
        raise SystemExit(f"PostgreSQL at {admin_url}: cannot create {name}: "
                         f"{type(exc).__name__}: {str(exc).splitlines()[0]}") from None
    finally:
        admin.dispose()
    return make_url(admin_url).set(database=name).render_as_string(hide_password=False)


def run_store(store: str, root: Path, data: Path, changed_data: Path,
              admin_url: str) -> dict[str, dict[str, Any]]:
    """hub-full, hub-rerun and hub-change on one store."""
    work = root / store
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    _place(data, work / "data")
    url = "sqlite:///hub.db" if store == "sqlite" else _postgres_database(admin_url)
    (work / "config.toml").write_text(CONFIG.format(store=url, data=work / "data"),
                                      encoding="utf-8")
    results = {"hub-full": _spawn("hub-full", work, data)}
    for variant in FLOORS:  # right after the import: the rows it wrote, and nothing else
        results[f"floor-{variant}"] = _spawn(f"floor-{variant}", work, data)
    results["hub-rerun"] = _spawn("hub-rerun", work, data)
    _place(changed_data, work / "data")
    results["hub-change"] = _spawn("hub-change", work, changed_data)
    return results


def run_peer(kind: str, root: Path, data: Path, changed_data: Path) -> dict[str, dict[str, Any]]:
    work = root / "dlt"
    work.mkdir(parents=True, exist_ok=True)
    return {f"{kind}": _spawn(kind, work, data),
            f"{kind}-rerun": _spawn(f"{kind}-rerun", work, data),
            f"{kind}-change": _spawn(f"{kind}-change", work, changed_data)}


def _stages(stages: dict[str, float]) -> str:
    return ", ".join(f"{stage} {secs:.1f} s" for stage, secs in stages.items())


def report(store: str, rows: int, changed: int, hub: dict[str, dict[str, Any]],
           peer: dict[str, dict[str, Any]] | None) -> None:
    full, rerun, change = hub["hub-full"], hub["hub-rerun"], hub["hub-change"]
    speedup = full["seconds"] / rerun["seconds"]
    print(f"\n== {STORE_TITLE[store]} == {rows:,} source rows in 3 files → "
          f"{full['contacts']:,} golden contacts, {full['rejected']} rejected, "
          f"{full['consent_events']:,} consent ledger entries, "
          f"{full['lifecycle_evaluated']:,} lifecycle evaluations")
    lines = [
        ("full import", full, rows / full["seconds"],
         f"≥ {TARGET_FULL_ROWS_S:,} rows/s", rows / full["seconds"] >= TARGET_FULL_ROWS_S,
         "dlt-arrow"),
        ("no-change re-run", rerun, rows / rerun["seconds"],
         f"≥ {TARGET_RERUN_SPEEDUP}× faster", speedup >= TARGET_RERUN_SPEEDUP, "dlt-arrow-rerun"),
        (f"{changed:,} changed rows", change, changed / change["seconds"],
         f"≥ {TARGET_CHANGE_ROWS_S:,} rows/s", changed / change["seconds"] >= TARGET_CHANGE_ROWS_S,
         "dlt-arrow-change"),
    ]
    print(f"{'':<21}{'seconds':>9}{'rows/s':>10}{'peak RSS MB':>13}  "
          f"{'target (and ≤ ' + str(TARGET_PEAK_MB) + ' MB)':<26}{'met?':<6}"
          f"{'peer s':>8}{'hub/peer':>10}")
    for label, r, rate, target, fast, peer_phase in lines:
        small = r["peak_rss_mb"] <= TARGET_PEAK_MB
        met = "✓" if fast and small else "✗" + ("" if small else " MB")
        peer_s = peer_ratio = ""
        if peer and peer_phase in peer:
            peer_s = f"{peer[peer_phase]['seconds']:.1f}"
            peer_ratio = f"{r['seconds'] / peer[peer_phase]['seconds']:.2f}×"
        print(f"{label:<21}{r['seconds']:>9.1f}{rate:>10,.0f}{r['peak_rss_mb']:>13,.0f}  "
              f"{target:<26}{met:<6}{peer_s:>8}{peer_ratio:>10}")
    line = (f"re-run is {speedup:,.0f}× faster than the full import "
            f"(target ≥ {TARGET_RERUN_SPEEDUP}×)")
    if peer:
        line += (f"; dlt-arrow's re-run: "
                 f"{peer['dlt-arrow']['seconds'] / peer['dlt-arrow-rerun']['seconds']:.1f}×")
    print(line)
    taken = change["rows"] - change["skipped"] - change["rejected"]
    print(f"change: {changed:,} rows changed or added; hub re-read {change['rows']:,} rows, "
          f"skipped {change['skipped']:,} as unchanged, so it took {taken:,} as changed")
    if taken != changed:
        print(f"  ≠ {changed:,}: the content hashes of unchanged rows moved between the phases "
              "(hub's normalisation changed under the run?) — the change row measures more")
    for variant, what in (("all", "every row the import wrote, indexes in place"),
                          ("essential", "source records, contacts, ledger, leads; keys only")):
        floor = hub.get(f"floor-{variant}")
        if floor:
            print(f"write floor, {variant} ({what}): {floor['seconds']:.1f} s for "
                  f"{floor['rows']:,} rows = {rows / floor['seconds']:,.0f} source rows/s; "
                  f"hub's import takes {full['seconds'] / floor['seconds']:.1f}× that; "
                  f"{TARGET_FULL_ROWS_S:,} rows/s would allow "
                  f"{rows / TARGET_FULL_ROWS_S / floor['seconds']:.2f}× it")
            print("  " + ", ".join(f"{name} {n:,} in {secs:.1f} s"
                                   for name, (n, secs) in floor["tables"].items()))
            # a changed row writes at least an imported row's share of the floor (and
            # deletes what it replaces, which this leaves out): a bound on the change's rate
            share = floor["seconds"] * changed / rows
            print(f"  its share for {changed:,} changed rows: {share:.2f} s, so at most "
                  f"{changed / share:,.0f} changed rows/s before reading a single file "
                  f"(target {TARGET_CHANGE_ROWS_S:,})")
    print(f"full import by stage: {_stages(full['stages'])}")
    print(f"re-run by stage:      {_stages(rerun['stages'])}")
    print(f"change by stage:      {_stages(change['stages'])}")


def report_peers(rows: int, changed: int, peers: dict[str, dict[str, Any]]) -> None:
    print("\n== peer: dlt merge on e-mail into duckdb (same files, same run) ==")
    print(f"{'phase':<20}{'seconds':>9}{'rows/s':>10}{'peak RSS MB':>13}")
    for phase, r in peers.items():
        rate = (changed if phase.endswith("change") else rows) / r["seconds"]
        print(f"{phase:<20}{r['seconds']:>9.1f}{rate:>10,.0f}{r['peak_rss_mb']:>13,.0f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--changed", type=int, default=None,
                        help=f"rows to change for hub-change (default {CHANGED_SHARE:.0%} of "
                             "--rows: 30,000 at a million)")
    parser.add_argument("--store", choices=[*STORES, "both"], default="both")
    parser.add_argument("--postgres-url", default=os.environ.get("HUB_BENCH_POSTGRES_URL",
                                                                 DEFAULT_POSTGRES),
                        help="a server and a database to connect to for creating "
                             f"{BENCH_DATABASE} (default {DEFAULT_POSTGRES})")
    parser.add_argument("--skip-peers", action="store_true", help="measure hub only")
    parser.add_argument("--with-dlt-rows", action="store_true",
                        help="also dlt row by row (slow)")
    parser.add_argument("--phase", help=argparse.SUPPRESS)
    parser.add_argument("--work", help=argparse.SUPPRESS)
    parser.add_argument("--data", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.phase:
        run_phase(args)
        return
    rows = args.rows
    changed = args.changed if args.changed is not None else round(rows * CHANGED_SHARE)
    stores = list(STORES) if args.store == "both" else [args.store]
    print("generating data …", file=sys.stderr, flush=True)
    data = generate(rows)
    changed_data = make_changes(data, changed)
    root = DATA / f"work-{rows}"
    shutil.rmtree(root, ignore_errors=True)
    root.mkdir(parents=True)
    hub = {store: run_store(store, root, data, changed_data, args.postgres_url)
           for store in stores}
    peers: dict[str, dict[str, Any]] = {}
    if not args.skip_peers:
        peers |= run_peer("dlt-arrow", root, data, changed_data)
        if args.with_dlt_rows:
            peers |= run_peer("dlt-rows", root, data, changed_data)
    for store in stores:
        report(store, rows, changed, hub[store], peers or None)
    if peers:
        report_peers(rows, changed, peers)


if __name__ == "__main__":
    main()
