"""Contact search on both store backends: addresses, names (any case, umlauts), phones."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import insert

from hub.store import Store
from hub.store.schema import contacts
from hub.web.search import LIMIT, search

PEOPLE = [
    ("anna.mueller@example.de", "Anna", "Müller", "+49301000000"),
    ("oezil@example.de", "Mesut", "Özil", "+49302000000"),
    ("jonas@example.de", "Jonas", "Schmidt", "+43123456789"),
    ("merged@example.de", "Anna", "Müller", "+49301000000"),
]


def fill(store: Store) -> dict[str, int]:
    now = datetime(2026, 11, 1, tzinfo=UTC)
    ids = {}
    with store.begin() as conn:
        for n, (email, first, last, phone) in enumerate(PEOPLE):
            ids[email] = conn.execute(insert(contacts).values(
                email=email, fields={"email": email, "first_name": first, "last_name": last,
                                     "phone": phone},
                provenance={}, status="merged" if n == 3 else "active", content_hash="x",
                created_at=now, updated_at=now).returning(contacts.c.id)).scalar_one()
        for n in range(LIMIT + 5):  # more matches than a page
            conn.execute(insert(contacts).values(
                email=f"schmidt{n}@example.de", fields={"last_name": f"Schmidtke{n}"},
                provenance={}, status="active", content_hash="x", created_at=now,
                updated_at=now))
    return ids


def found(store: Store, text: str) -> list[int]:
    with store.begin() as conn:
        return [hit.id for hit in search(conn, text)]


def test_search_reads_addresses_names_and_phones(store: Store) -> None:
    ids = fill(store)
    anna, mesut, jonas = (ids[p[0]] for p in PEOPLE[:3])
    assert found(store, "ANNA.Mueller@example.de") == [anna]
    assert found(store, "anna.mu") == [anna]
    assert found(store, "müller") == [anna]  # merged contacts are not listed
    assert found(store, "MÜLLER") == [anna]
    assert found(store, "Özil") == [mesut] and found(store, "özil") == [mesut]
    assert found(store, "Anna Müller") == [anna] and found(store, "Müller Anna") == [anna]
    assert found(store, "030 1000000") == [anna] and found(store, "+49 30 100") == [anna]
    assert found(store, "0043 123 456789") == [jonas]
    assert found(store, "nobody") == [] and found(store, "") == []
    assert len(found(store, "schmidt")) == LIMIT and jonas in found(store, "Schmidt")
