"""Reading files the way people hand them over: any of three encodings, any of four delimiters.

German Excel saves CSV as cp1252 with `;`; Mailchimp and Shopify export UTF-8 with `,`;
some tools add a BOM. Detection decodes the whole file once as UTF-8 in chunks (cheap next
to parsing it): if every byte decodes, it is UTF-8, else cp1252. The delimiter is the
candidate that occurs most often in the header line.
"""

from __future__ import annotations

import codecs
import hashlib
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

DELIMITERS = (",", ";", "\t", "|")
_CHUNK = 1 << 20


@dataclass(frozen=True)
class Fingerprint:
    """What a file looked like when it was read: a changed file is read again."""

    size: int
    mtime_ns: int
    sha256: str

    def as_json(self) -> dict[str, object]:
        """The form kept in the cursor."""
        return {"size": self.size, "mtime_ns": self.mtime_ns, "sha256": self.sha256}


def digest(path: Path) -> str:
    """SHA-256 of the file's bytes, streamed."""
    h = hashlib.sha256()
    with path.open("rb") as f:
        for chunk in iter(lambda: f.read(_CHUNK), b""):
            h.update(chunk)
    return h.hexdigest()


def fingerprint(path: Path) -> Fingerprint:
    """Size, modification time and content hash of `path`."""
    stat = path.stat()
    return Fingerprint(stat.st_size, stat.st_mtime_ns, digest(path))


def same_stat(path: Path, known: dict[str, object]) -> bool:
    """Size and mtime unchanged: the cheap test that lets a re-run skip a file unhashed."""
    stat = os.stat(path)
    return stat.st_size == known.get("size") and stat.st_mtime_ns == known.get("mtime_ns")


def detect_encoding(path: Path) -> str:
    """utf-8-sig (BOM), utf-8 (every byte decodes) or cp1252."""
    with path.open("rb") as f:
        head = f.read(3)
        if head == codecs.BOM_UTF8:
            return "utf-8-sig"
        f.seek(0)
        decoder = codecs.getincrementaldecoder("utf-8")()
        try:
            for chunk in iter(lambda: f.read(_CHUNK), b""):
                decoder.decode(chunk)
            decoder.decode(b"", final=True)
        except UnicodeDecodeError:
            return "cp1252"
    return "utf-8"


def detect_delimiter(header_line: str) -> str:
    """The candidate delimiter that splits the header into the most columns (`,` on a tie)."""
    counts = {d: _count_outside_quotes(header_line, d) for d in DELIMITERS}
    best = max(DELIMITERS, key=lambda d: (counts[d], -DELIMITERS.index(d)))
    return best if counts[best] else ","


def _count_outside_quotes(line: str, char: str) -> int:
    count, quoted = 0, False
    for ch in line:
        if ch == '"':
            quoted = not quoted
        elif ch == char and not quoted:
            count += 1
    return count


class Lines:
    """The physical lines of an open file, numbered, for `csv.reader` to pull from.

    The csv module only says where a record *ends*; a quote that is never closed swallows
    every following line into one field, so the error would name the line where the damage
    ends and the people in between would be lost. Reading through `Lines`, a caller knows
    the lines each record spanned (`span`) and can hand all but the first back (`give_back`)
    to be read again as records of their own.
    """

    def __init__(self, f: Iterator[str]) -> None:
        self._file = f
        self._number = 0
        self._back: list[tuple[int, str]] = []
        self._taken: list[tuple[int, str]] = []

    def __iter__(self) -> Lines:
        return self

    def __next__(self) -> str:
        if self._back:
            item = self._back.pop()
        else:
            text = next(self._file)
            self._number += 1
            item = (self._number, text)
        self._taken.append(item)
        return item[1]

    def start_record(self) -> None:
        """Forget what the previous record took."""
        self._taken = []

    def span(self) -> tuple[int, int]:
        """First and last line number of the record just read ((0, 0): none)."""
        if not self._taken:
            return 0, 0
        return self._taken[0][0], self._taken[-1][0]

    def give_back(self) -> None:
        """Read the record's lines after its first again, as records of their own."""
        self._back.extend(reversed(self._taken[1:]))
        self._taken = self._taken[:1]
