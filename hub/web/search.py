"""Finding a contact by e-mail, name or phone, fast enough for 100,000 of them.

Every query reads an index: the e-mail column's, or the expression indexes on the golden
name and phone fields (migration 0010). Prefixes are ranges (``>= q`` and ``< q + U+FFFF``)
rather than LIKE, which both databases answer from a B-tree whatever their collation.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from sqlalchemy import ColumnElement, Connection, and_, func, or_, select

from hub.contacts import find_contact
from hub.pipeline.normalize import Normalizer
from hub.store.schema import contacts
from hub.store.types import golden_text

LIMIT = 50
_PHONE = re.compile(r"^[+\d][\d\s/().\-]{3,}$")


@dataclass(frozen=True)
class Hit:
    """One contact found."""

    id: int
    email: str | None
    name: str
    phone: str | None
    company: str | None


def full_name(fields: dict[str, Any]) -> str:
    """A golden contact's first and last name as one line (either may be missing)."""
    return " ".join(str(fields[k]) for k in ("first_name", "last_name") if fields.get(k))


def _prefix(expression: Any, text: str) -> ColumnElement[bool]:
    return and_(expression >= text, expression < text + "\uffff")


def _name_part(field: str, word: str) -> ColumnElement[bool]:
    # SQLite's lower() folds ASCII only: "Özil" stays "Özil", so also try the word capitalised
    column = func.lower(golden_text(contacts.c.fields, field))
    spellings = {word.lower(), word[:1].upper() + word[1:].lower()}
    return or_(*(_prefix(column, s) for s in sorted(spellings)))


def conditions(text: str, *, default_region: str) -> list[ColumnElement[bool]]:
    """The WHERE clauses to try for `text`, each answerable from one index."""
    text = text.strip()
    if "@" in text:
        return [_prefix(contacts.c.email, text.casefold())]
    if _PHONE.match(text):
        number = Normalizer(default_region=default_region).phone(text)
        digits = re.sub(r"[^\d+]", "", text)
        wanted = number or ("+" + digits[2:] if digits.startswith("00") else digits)
        return [_prefix(func.lower(golden_text(contacts.c.fields, "phone")), wanted)]
    words = text.split()
    if len(words) >= 2:
        first, last = words[0], " ".join(words[1:])
        return [and_(_name_part("first_name", first), _name_part("last_name", last)),
                and_(_name_part("last_name", first), _name_part("first_name", last)),
                _name_part("last_name", text)]
    if words:  # a name, or the start of an address
        return [_name_part("last_name", words[0]), _name_part("first_name", words[0]),
                _prefix(contacts.c.email, words[0].casefold())]
    return []


def search(conn: Connection, text: str, *, default_region: str = "DE") -> list[Hit]:
    """Active contacts matching `text` (an address or its start, a name, a phone number)."""
    ids: list[int] = []
    if "@" in text:
        exact = find_contact(conn, text)
        if exact is not None:
            ids.append(exact)
    for condition in conditions(text, default_region=default_region):
        # neither ORDER BY id nor status in the WHERE: either makes the database prefer the
        # id order or the status index over the search index and read the whole table; the
        # status is checked here and the hits sorted instead
        found = conn.execute(select(contacts.c.id, contacts.c.status).where(condition)
                             .limit(2 * LIMIT)).all()
        for contact_id in sorted(cid for cid, status in found if status == "active"):
            if contact_id not in ids:
                ids.append(contact_id)
        if len(ids) >= LIMIT:
            break
    ids = ids[:LIMIT]
    if not ids:
        return []
    rows = {r.id: r for r in conn.execute(select(contacts.c.id, contacts.c.email,
                                                 contacts.c.fields)
                                          .where(contacts.c.id.in_(ids)))}
    hits = []
    for contact_id in ids:
        row = rows.get(contact_id)
        if row is None:
            continue
        fields = row.fields or {}
        hits.append(Hit(row.id, row.email, full_name(fields), fields.get("phone"),
                        fields.get("company")))
    return hits
