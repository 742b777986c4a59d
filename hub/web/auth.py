"""Who is asking: password sign-in against `[web.users]`, or a trusted reverse proxy's header.

Passwords are checked against argon2 hashes (argon2-cffi), so config.toml never holds a
password. A user name that does not exist costs the same hash verification as a wrong
password, so timing does not tell which names exist. In reverse-proxy mode the proxy has
signed the person in; hub believes its header only when the request comes from one of
`trusted_proxies`, since anyone else could send the same header.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from typing import Literal

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from hub.config import WebSection

Role = Literal["viewer", "operator"]
_HASHER = PasswordHasher()


@cache
def _decoy() -> str:
    """Verified when the user name is unknown, so both failures take as long.

    Made on first use rather than at import: hashing costs about 0.2 s, which `hub web
    hash-password` and `hub run --http` without a console should not pay.
    """
    return _HASHER.hash("not a password anyone has")


@dataclass(frozen=True)
class Person:
    """A signed-in console user."""

    name: str
    role: Role

    @property
    def may_act(self) -> bool:
        """Operators change things; viewers only look."""
        return self.role == "operator"


def hash_password(password: str) -> str:
    """The argon2 hash to paste into ``[web.users.NAME] password_hash``."""
    return _HASHER.hash(password)


class Directory:
    """The console's users, as `[web]` declares them."""

    def __init__(self, section: WebSection) -> None:
        self.section = section
        _decoy()  # made now, so the first unknown name is not slower than the rest

    @property
    def proxy_mode(self) -> bool:
        """True when a reverse proxy signs people in (no login form)."""
        return self.section.proxy_header is not None

    def check_password(self, name: str, password: str) -> Person | None:
        """The person when `password` is theirs, else None."""
        user = self.section.users.get(name)
        stored = user.password_hash if user is not None else None
        try:
            _HASHER.verify(stored or _decoy(), password)
        except (VerificationError, InvalidHashError):
            return None
        if user is None or stored is None:
            return None
        return Person(name, user.role)

    def from_proxy(self, client: str | None, header: str | None) -> Person | None:
        """The person a trusted proxy names, or None (untrusted sender, unknown name)."""
        if not self.proxy_mode or client not in self.section.trusted_proxies or not header:
            return None
        name = header.strip()
        user = self.section.users.get(name)
        if user is not None:
            return Person(name, user.role)
        if self.section.proxy_default_role is not None:
            return Person(name, self.section.proxy_default_role)
        return None
