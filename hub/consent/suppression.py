"""The suppression list: erased addresses, kept only as salted hashes, refused on import.

GDPR Art. 17 removes the person's data; honouring their objection needs a trace that they
must not come back (docs/consent.md, rule 6). hub keeps an HMAC-SHA256 of the normalised address
under a random per-installation salt (in the store's `settings`): the list cannot be
reversed into addresses or matched against another company's list, and any later import of
the same address, from any connector, is refused before it is stored and counted.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from collections import Counter
from collections.abc import Iterable
from datetime import datetime

from sqlalchemy import Connection, bindparam, insert, select, update
from sqlalchemy.exc import IntegrityError

from hub.store.schema import settings, suppression

SALT = "suppression_salt"


def salt(conn: Connection) -> bytes:
    """The installation's salt, made on first use (several nodes agree on one)."""
    value = conn.execute(select(settings.c.value).where(settings.c.name == SALT)).scalar()
    if value is None:
        try:
            with conn.begin_nested():
                conn.execute(insert(settings).values(name=SALT, value=secrets.token_hex(32)))
        except IntegrityError:
            pass  # another node made it first
        value = conn.execute(select(settings.c.value).where(settings.c.name == SALT)).scalar_one()
    return bytes.fromhex(value)


def digest(key: bytes, email: str) -> str:
    """The suppression digest of a normalised address."""
    return hmac.new(key, email.strip().casefold().encode(), hashlib.sha256).hexdigest()


def add(conn: Connection, email: str, *, now: datetime,
        reason: str = "erasure") -> tuple[str, bool]:
    """Suppress `email` (idempotent); returns its digest and whether it is newly suppressed."""
    value = digest(salt(conn), email)
    if conn.execute(select(suppression.c.digest).where(suppression.c.digest == value)).first():
        return value, False
    conn.execute(insert(suppression).values(digest=value, created_at=now, reason=reason,
                                            refused=0))
    return value, True


class Suppressed:
    """The list as one read of a connector sees it: load once, test each address."""

    def __init__(self, conn: Connection) -> None:
        self.digests = set(conn.execute(select(suppression.c.digest)).scalars())
        self._key = salt(conn) if self.digests else b""
        self.refused: Counter[str] = Counter()

    def refuses(self, emails: Iterable[str | None]) -> bool:
        """True when any of the addresses is suppressed (and counts the refusal)."""
        if not self.digests:
            return False
        for email in emails:
            if email:
                value = digest(self._key, email)
                if value in self.digests:
                    self.refused[value] += 1
                    return True
        return False

    def save(self, conn: Connection) -> None:
        """Add this read's refusals to each entry's count."""
        if self.refused:
            conn.execute(update(suppression).where(suppression.c.digest == bindparam("d"))
                         .values(refused=suppression.c.refused + bindparam("n")),
                         [{"d": d, "n": n} for d, n in self.refused.items()])
            self.refused.clear()
