"""The CSV connector: reads exports page by page; in write mode, exports golden contacts.

Incremental reading: the cursor remembers, per file, its fingerprint and the last line whose
page was committed. A file that is unchanged since it was fully read is skipped without being
opened (size and mtime first, content hash only when those moved); a changed file is read
again in full and the engine skips the rows whose content did not change; a crash mid-file
resumes after the last committed page.
"""

from __future__ import annotations

import csv
import glob
import hashlib
import json
import os
from collections.abc import Iterator, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, ClassVar

from hub.plugin import (
    SCALAR_FIELDS,
    Capability,
    Connector,
    ConnectorContext,
    ConnectorError,
    Finding,
    OutboundRecord,
    Page,
    Rejection,
    SourceRecord,
    SystemKind,
    WriteResult,
)
from hub_csv.export import Export
from hub_csv.files import Lines, detect_delimiter, detect_encoding, fingerprint, same_stat
from hub_csv.formats import KNOWN, ExportFormat, detect, generic, parse_time
from hub_csv.settings import CsvSettings

csv.field_size_limit(16 * 1024 * 1024)

#: Part of every row digest: raise it when a row of the same file and mapping would now be
#: built into a different record, so that every stored record is built again once.
DIGEST_VERSION = 1


class CsvConnector(Connector):
    """``plugin = "csv"``: files in, or golden contacts out."""

    plugin = "csv"
    system = SystemKind.FILE
    Settings = CsvSettings
    page_size = 5000
    batch_size = 5000
    default_write_fields: ClassVar[tuple[str, ...]] = (*SCALAR_FIELDS, "tags")

    def __init__(self, settings: CsvSettings, context: ConnectorContext) -> None:
        super().__init__(settings, context)
        self.settings: CsvSettings = settings
        self._export: Export | None = None

    @property
    def capabilities(self) -> frozenset[Capability]:  # type: ignore[override]
        """Read mode reads contacts, consent and order totals; write mode writes contacts."""
        if self.settings.mode == "write":
            return frozenset({Capability.WRITE_CONTACTS, Capability.DELETE_CONTACTS})
        return frozenset({Capability.READ_CONTACTS, Capability.READ_CONSENT,
                          Capability.READ_ORDERS, Capability.READ_ENGAGEMENT})

    # -- files ---------------------------------------------------------------------------
    def files(self) -> list[Path]:
        """The files `path` names, sorted (a glob may match several)."""
        pattern = str(self.context.path(self.settings.path))
        if glob.has_magic(pattern):
            return sorted(Path(p) for p in glob.glob(pattern) if Path(p).is_file())
        path = Path(pattern)
        return [path] if path.is_file() else []

    def check(self) -> Sequence[Finding]:
        """Read mode: the files exist and their header is understood. Write mode: writable."""
        if self.settings.mode == "write":
            folder = self.context.path(self.settings.path).parent
            existing = next(p for p in (folder, *folder.parents) if p.exists())
            if not existing.is_dir() or not os.access(existing, os.W_OK):
                raise ConnectorError(f"connector {self.name!r}: cannot write to {folder} — "
                                     "fix the folder's permissions or change `path`")
            return ()
        found = self.files()
        if not found:
            raise ConnectorError(f"connector {self.name!r}: no file matches path = "
                                 f"{self.settings.path!r} (looked in {self.context.base_dir})")
        for path in found:
            encoding = self.settings.encoding or detect_encoding(path)
            with path.open(encoding=encoding, newline="") as f:
                header = next(csv.reader(f, delimiter=self._delimiter(f)), [])
            self._format(header, path)
        return ()

    def _delimiter(self, f: Any) -> str:
        if self.settings.delimiter:
            return self.settings.delimiter
        first = f.readline()
        f.seek(0)
        return detect_delimiter(first)

    def _format(self, header: Sequence[str], path: Path) -> ExportFormat:
        s = self.settings
        if s.format == "generic" or (s.format == "auto" and s.columns and detect(header) is None):
            fmt = generic(s.columns, s.id_column, s.updated_column)
        elif s.format == "auto":
            detected = detect(header)
            if detected is None:
                raise ConnectorError(
                    f"{path.name}: the header is not a Mailchimp, Shopify or HubSpot export — "
                    f'set format = "generic" and map [connectors.{self.name}.columns]')
            fmt = detected
        else:
            fmt = KNOWN[s.format]
        if s.columns and fmt.name != "generic":
            fmt = ExportFormat(
                name=fmt.name, fields={**fmt.fields, **{h: g for g, h in s.columns.items()}},
                id_columns=(s.id_column,) if s.id_column else fmt.id_columns,
                updated_columns=(s.updated_column,) if s.updated_column else fmt.updated_columns,
                signature=fmt.signature, consent=fmt.consent, signals=fmt.signals)
        present = {h.strip() for h in header}
        missing = [h for h in fmt.fields if h not in present and fmt.name == "generic"]
        if missing:
            raise ConnectorError(f"{path.name}: column {missing[0]!r} (from columns) is not in "
                                 f"the header; the header has: {', '.join(sorted(present))}")
        return fmt

    # -- reading -------------------------------------------------------------------------
    def read(self, stream: str, cursor: str | None) -> Iterator[Page]:
        """Pages of rows from every file that changed since `cursor`."""
        if self.settings.mode == "write":
            return
        state: dict[str, dict[str, Any]] = json.loads(cursor)["files"] if cursor else {}
        for path in self.files():
            key = str(path)
            known = state.get(key)
            if known and known.get("done") and same_stat(path, known):
                continue
            print_ = fingerprint(path)
            if known and known.get("sha256") == print_.sha256:
                if known.get("done"):
                    state[key] = {**print_.as_json(), "line": known["line"], "done": True,
                                  "rows": known.get("rows")}
                    yield Page(records=(), cursor=_cursor(state))
                    continue
                start = int(known.get("line", 0))
            else:
                start = 0
            before = known.get("rows") if known else None
            yield from self._read_file(path, print_.as_json(), start, state,
                                       before if isinstance(before, int) else None)

    def _read_file(self, path: Path, printed: dict[str, object], start: int,
                   state: dict[str, dict[str, Any]], before: int | None) -> Iterator[Page]:
        """Pages of one file's rows after line `start`; `before`: its rows at the last read.

        A row whose quote is never closed is refused at the line it starts on, and the lines
        it swallowed are read again as rows of their own. A file with no rows, or with far
        fewer than last time, is reported as a refusal of its own (exit 1): an export cut short
        by a full disk or a failed job must not pass quietly as "everyone left".
        """
        encoding = self.settings.encoding or detect_encoding(path)
        mtime = datetime.fromtimestamp(path.stat().st_mtime, UTC)
        key = str(path)
        with path.open(encoding=encoding, newline="") as f:
            delimiter = self._delimiter(f)
            lines = Lines(f)
            # strict: a quote closed in the middle of a field (what an unclosed quote meets
            # on a later line) is an error, not text glued onto the field
            reader = csv.reader(lines, delimiter=delimiter, strict=True)
            header = next(reader, None)
            if header is None:
                state[key] = {**printed, "line": 0, "done": True, "rows": 0}
                empty = self._shrunk(path, 0, before)
                yield Page(records=(), cursor=_cursor(state), rejected=[empty] if empty else [])
                return
            header = [h.strip().lstrip("\ufeff") for h in header]
            fmt = self._format(header, path)
            rows = _RowReader(fmt, header, path.name, mtime)
            # rows of the page being gathered, built only once hub said which it lacks
            pending: list[tuple[list[str], int]] = []
            rejected: list[Rejection] = []
            line = 0
            count = 0
            while True:
                lines.start_record()
                try:
                    row = next(reader)
                except StopIteration:
                    break
                except csv.Error as exc:
                    first, line = lines.span()
                    lines.give_back()
                    count += 1
                    if first > start:
                        rejected.append(Rejection(None, _unreadable(exc, first, line),
                                                  origin=f"{path.name}:{first}"))
                    line = first
                    continue
                first, line = lines.span()
                if not any(row):
                    continue
                count += 1
                if line > first and len(row) != rows.width:
                    # an unclosed quote ran on over the following lines: refuse the line it
                    # opened on, read the others again
                    lines.give_back()
                    line = first
                    if first > start:
                        rejected.append(Rejection(None, _unclosed(first),
                                                  origin=f"{path.name}:{first}"))
                elif line > start:
                    pending.append((row, first))
                if len(pending) + len(rejected) >= self.page_size:
                    state[key] = {**printed, "line": line, "done": False, "rows": before}
                    records, unchanged = self._build(rows, pending, rejected)
                    yield Page(records=records, cursor=_cursor(state), rejected=rejected,
                               unchanged=unchanged)
                    pending, rejected = [], []
            state[key] = {**printed, "line": line, "done": True, "rows": count}
            warning = self._shrunk(path, count, before)
            records, unchanged = self._build(rows, pending, rejected)
            yield Page(records=records, cursor=_cursor(state),
                       rejected=[*rejected, *([warning] if warning else [])],
                       unchanged=unchanged)

    def _build(self, rows: _RowReader, pending: list[tuple[list[str], int]],
               rejected: list[Rejection]) -> tuple[list[SourceRecord], list[str]]:
        """The page's records, leaving unbuilt the rows hub holds exactly as they are.

        A changed export is read again in full and most of its rows did not change: asking
        by digest first spares building each of them. An id found twice in the page is
        built both times, so the engine keeps the later one, as for any repeated id.
        Refused rows are added to `rejected`.
        """
        ask = self.context.unchanged  # None: nothing to ask (outside a sync, a first read)
        marked = [(row, line, rows.identify(row) if ask else None, rows.digest(row))
                  for row, line in pending]
        same: set[str] = set()
        if ask is not None:
            digests: dict[str, str] = {}
            twice: set[str] = set()
            for _, _, rid, digest in marked:
                if rid:
                    if rid in digests:
                        twice.add(rid)
                    digests[rid] = digest
            if digests:
                same = ask({k: v for k, v in digests.items() if k not in twice})
        records: list[SourceRecord] = []
        unchanged: list[str] = []
        for row, line, rid, digest in marked:
            if rid is not None and rid in same:
                unchanged.append(rid)
                continue
            made = rows.make(row, line, digest)
            if isinstance(made, Rejection):
                rejected.append(made)
            else:
                records.append(made)
        return records, unchanged

    def _shrunk(self, path: Path, count: int, before: int | None) -> Rejection | None:
        """A refusal for a file that came up empty or far shorter than its last read."""
        if count == 0:
            was = f" (it had {before} rows at the last read)" if before else ""
            return Rejection(None, f"the file has no rows{was} — if the export failed or was "
                                   "emptied by mistake, restore it and sync again",
                             origin=path.name)
        ratio = self.settings.shrink_warning
        if before and ratio and count < before * ratio:
            return Rejection(None, f"the file has {count} rows, {before} at the last read "
                                   f"(less than {ratio:.0%}) — if the export was cut short, "
                                   "restore it and sync again",
                             origin=path.name)
        return None

    # -- writing -------------------------------------------------------------------------
    def write(self, records: Sequence[OutboundRecord]) -> list[WriteResult]:
        """Update the export's rows in memory; `close()` writes the file atomically."""
        if self.settings.mode != "write":
            return [WriteResult(r.key, "rejected", reason=f"connector {self.name!r} is in read "
                                "mode; set mode = \"write\" to export") for r in records]
        if self._export is None:
            self._export = Export(self.context.path(self.settings.path), self.write_fields,
                                  delimiter=self.settings.delimiter or ",",
                                  encoding=self.settings.encoding or "utf-8")
        return self._export.apply(records)

    def close(self) -> None:
        """Write the export file if anything changed."""
        if self._export is not None:
            self._export.save()
            self._export = None


def _unreadable(error: csv.Error, first: int, last: int) -> str:
    """Why a row could not be parsed, said about the line it starts on."""
    if last > first:
        return _unclosed(first, f" ({error})")
    return f"unreadable CSV ({error}); fix the quoting on that line"


def _unclosed(first: int, detail: str = "") -> str:
    """A quote opened on line `first` ran on over the lines after it."""
    return (f"a quote opened on line {first} is not closed on that line, so the row would "
            f"swallow the lines after it{detail} — fix the quoting on that line")


def _cursor(state: dict[str, dict[str, Any]]) -> str:
    return json.dumps({"files": state}, sort_keys=True)


class _RowReader:
    """Turns rows of one file into SourceRecords; the column plan is computed once."""

    def __init__(self, fmt: ExportFormat, header: list[str], filename: str,
                 mtime: datetime) -> None:
        self.fmt = fmt
        self.width = len(header)
        self.index = {h: i for i, h in enumerate(header)}
        plan: dict[str, list[int]] = {}
        for head, golden in fmt.fields.items():
            if head in self.index:
                plan.setdefault(golden, []).append(self.index[head])
        self.plan = list(plan.items())
        self.id_index = next((self.index[c] for c in fmt.id_columns if c in self.index), None)
        self.updated_index = next((self.index[c] for c in fmt.updated_columns
                                   if c in self.index), None)
        self.filename = filename
        self.mtime = mtime
        self.id_is_email = self.id_index is not None and \
            fmt.fields.get(header[self.id_index]) == "email"
        # everything besides the row that shapes the record built from it: the same row
        # under another mapping (or another version of this reader) is another record
        signature = json.dumps(
            [DIGEST_VERSION, fmt.name, header, sorted(fmt.fields.items()), fmt.id_columns,
             fmt.updated_columns], ensure_ascii=False)
        self._signed = hashlib.md5((signature + "\x1e").encode(), usedforsecurity=False)

    def identify(self, row: list[str]) -> str | None:
        """The record id of a well-formed row; None where `make` would refuse it."""
        if len(row) != self.width or self.id_index is None:
            return None
        record_id = row[self.id_index].strip().lstrip("'")
        return (record_id.casefold() if self.id_is_email else record_id) or None

    def digest(self, row: list[str]) -> str:
        """`SourceRecord.digest`: the row's cells under this file's mapping."""
        digest = self._signed.copy()
        digest.update("\x1f".join(row).encode())
        return digest.hexdigest()

    def make(self, row: list[str], line: int, digest: str | None = None
             ) -> SourceRecord | Rejection:
        origin = f"{self.filename}:{line}"
        if len(row) != self.width:
            return Rejection(None, f"row has {len(row)} fields but the header has {self.width}; "
                                   "check the delimiter and quoting on that line", origin=origin)
        fields: dict[str, Any] = {}
        for golden, indices in self.plan:
            for i in indices:
                value = row[i]
                if value and not value.isspace():
                    fields[golden] = _unquote_tags(value) if golden == "tags" else value
                    break
        record_id = self.identify(row)
        if not record_id:
            return Rejection(None, "the row has no id (and no e-mail to use as one); add the "
                                   "id column or the e-mail", origin=origin)
        updated = self.mtime
        if self.updated_index is not None and row[self.updated_index].strip():
            parsed = parse_time(row[self.updated_index])
            if parsed is None:
                return Rejection(record_id, f"{row[self.updated_index]!r} is not a date and "
                                            "time", origin=origin)
            updated = parsed
        consent = self.fmt.consent(row, self.index) if self.fmt.consent else ()
        signals = self.fmt.signals(row, self.index) if self.fmt.signals else {}
        return SourceRecord(id=record_id, fields=fields, updated_at=updated, consent=consent,
                            signals=signals, origin=origin, digest=digest)


def _unquote_tags(value: str) -> list[str]:
    """Mailchimp writes tags as "a","b" inside one cell; Shopify as a, b."""
    return [t.strip().strip('"').strip() for t in value.split(",") if t.strip().strip('"')]
