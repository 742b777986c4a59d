"""Signed-in sessions and the sign-in throttle, both held in the serving process's memory.

A session is a random token in an HttpOnly cookie mapped to the person here (its CSRF token is
derived from the session token, see hub.web.app); nothing about the person travels in the
cookie, and a restart signs everyone out.
Several `hub run` nodes behind one address therefore need sticky sessions (docs/web.md).
"""

from __future__ import annotations

import secrets
import threading
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from hub.web.auth import Person


@dataclass
class Session:
    """One sign-in: who, and until when."""

    person: Person
    expires: datetime


class Sessions:
    """Tokens → sessions, expiring after `lifetime`."""

    def __init__(self, lifetime: timedelta, clock: Callable[[], datetime]) -> None:
        self.lifetime = lifetime
        self.clock = clock
        self._by_token: dict[str, Session] = {}
        self._lock = threading.Lock()

    def open(self, person: Person) -> str:
        """A new session for `person`: its cookie token."""
        token = secrets.token_urlsafe(32)
        session = Session(person, self.clock() + self.lifetime)
        with self._lock:
            self._by_token[token] = session
        return token

    def get(self, token: str | None) -> Session | None:
        """The live session for `token`, if any (an expired one is dropped)."""
        if not token:
            return None
        with self._lock:
            session = self._by_token.get(token)
            if session is not None and session.expires <= self.clock():
                del self._by_token[token]
                return None
        return session

    def close(self, token: str | None) -> None:
        """Sign out."""
        with self._lock:
            self._by_token.pop(token or "", None)


class Throttle:
    """Failed sign-ins per key (a client address, a user name) within a sliding window."""

    def __init__(self, attempts: int, window: timedelta,
                 clock: Callable[[], datetime]) -> None:
        self.attempts = attempts
        self.window = window
        self.clock = clock
        self._failures: dict[str, deque[datetime]] = {}
        self._lock = threading.Lock()

    def _recent(self, key: str) -> deque[datetime]:
        # a key with no failure left in the window is dropped when next seen, so names and
        # addresses that were only asked about (every sign-in asks) do not pile up in memory
        failures = self._failures.pop(key, deque())
        horizon = self.clock() - self.window
        while failures and failures[0] <= horizon:
            failures.popleft()
        if failures:
            self._failures[key] = failures
        return failures

    def wait(self, *keys: str) -> timedelta | None:
        """How long until any of `keys` may try again; None when all may try now."""
        with self._lock:
            now = self.clock()
            recent = [self._recent(k) for k in keys]
            blocked = [r[0] + self.window - now for r in recent if len(r) >= self.attempts]
        return max(blocked) if blocked else None

    def failed(self, *keys: str) -> None:
        """Count one failure against each key."""
        with self._lock:
            for key in keys:
                failures = self._recent(key)
                failures.append(self.clock())
                self._failures[key] = failures

    def succeeded(self, *keys: str) -> None:
        """A right password clears the user name's count (not the address's)."""
        with self._lock:
            for key in keys:
                self._failures.pop(key, None)
