"""Write mode: golden contacts kept as a CSV file, one row per contact, updated in place.

The file is loaded once, rows are replaced by contact id (so writing the same batch twice
gives the same file), and saved atomically (temp file, then rename) so a reader never sees a
half-written export. Cells that a spreadsheet would run as a formula are neutralised (OWASP:
a leading ' before =, +, -, @, tab or carriage return).
"""

from __future__ import annotations

import csv
import os
import tempfile
from collections.abc import Sequence
from pathlib import Path

from hub.plugin import OutboundRecord, WriteResult

ID_COLUMN = "hub_contact_id"
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def neutralise(value: str) -> str:
    """A cell that cannot run as a spreadsheet formula."""
    return "'" + value if value.startswith(_FORMULA_START) else value


def cell(value: object) -> str:
    """Lists as 'a, b'; everything else as text; then neutralised."""
    if value is None:
        return ""
    if isinstance(value, list | tuple):
        return neutralise(", ".join(str(v) for v in value))
    return neutralise(str(value))


class Export:
    """The export file's rows by contact id, saved on `save()`."""

    def __init__(self, path: Path, fields: Sequence[str], *, delimiter: str = ",",
                 encoding: str = "utf-8") -> None:
        self.path = path
        self.columns = [ID_COLUMN, *fields]
        self.delimiter = delimiter
        self.encoding = encoding
        self.rows: dict[str, dict[str, str]] = {}
        self.changed = False
        if path.exists():
            with path.open(encoding=encoding, newline="") as f:
                for row in csv.DictReader(f, delimiter=delimiter):
                    if row.get(ID_COLUMN):
                        self.rows[row[ID_COLUMN]] = {c: row.get(c) or "" for c in self.columns}

    def apply(self, records: Sequence[OutboundRecord]) -> list[WriteResult]:
        """Upsert or delete each record's row; answer per record."""
        results = []
        for record in records:
            key = str(record.contact_id)
            if record.operation in ("delete", "erase"):
                existed = self.rows.pop(key, None) is not None
                self.changed |= existed
                results.append(WriteResult(record.key, "updated" if existed else "unchanged",
                                           external_id=key))
                continue
            row = {c: "" for c in self.columns}
            row[ID_COLUMN] = key
            for field, value in record.fields.items():
                if field in row:
                    row[field] = cell(value)
            before = self.rows.get(key)
            if before == row:
                results.append(WriteResult(record.key, "unchanged", external_id=key))
                continue
            self.rows[key] = row
            self.changed = True
            results.append(WriteResult(record.key, "created" if before is None else "updated",
                                       external_id=key))
        return results

    def save(self) -> None:
        """Write every row to a temp file in the same folder, then rename it into place."""
        if not self.changed:
            return
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd, temp = tempfile.mkstemp(prefix=f".{self.path.name}.", dir=self.path.parent)
        try:
            with os.fdopen(fd, "w", encoding=self.encoding, newline="") as f:
                writer = csv.DictWriter(f, fieldnames=self.columns, delimiter=self.delimiter)
                writer.writeheader()
                for key in sorted(self.rows, key=lambda k: (len(k), k)):
                    writer.writerow(self.rows[key])
            os.replace(temp, self.path)
        except BaseException:
            Path(temp).unlink(missing_ok=True)
            raise
        self.changed = False
