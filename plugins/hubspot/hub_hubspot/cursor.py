"""Where a contacts read stands: the JSON the engine commits after every page.

A read goes through phases, and the cursor names the one it is in so a crash resumes there:

``list``
    The first full read pages through the list endpoint (no 10,000 cap there) with its opaque
    `after` token. It remembers the highest ``lastmodifieddate`` it saw and when it started;
    the search phase starts from the earlier of the two, so a contact changed while the listing
    ran (after its page went by) is read again instead of lost.
``archived``
    The recycle bin (``archived=true``) paged the same way; contacts archived since the last
    watermark come out as deletions. It has no filter, so every read walks it (HubSpot keeps
    archived contacts 90 days, usually a few pages).
``search``
    Incremental reads: ``lastmodifieddate GTE since``, sorted ascending. Each page restarts the
    query from the last timestamp seen (keyset paging), so no query pages deep into the
    10,000-result cap and a contact updated mid-read cannot shift an offset past unread ones.
    `seen` holds the ids already read *at exactly* `since`, so they are neither lost nor read
    forever; `offset` only grows while more than a page of contacts share one timestamp.

Timestamps are epoch milliseconds, HubSpot's own unit for search filters.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field, replace
from typing import Any, Literal

from hub.plugin import ConnectorError

Phase = Literal["list", "archived", "search"]
VERSION = 1


@dataclass(frozen=True)
class Position:
    """A place in the ascending ``lastmodifieddate`` order of the search API."""

    since: int | None = None
    seen: tuple[str, ...] = ()
    offset: int = 0

    def later(self, other: Position) -> Position:
        """The further of two positions; equal timestamps pool the ids read at them."""
        if other.since is None:
            return self
        if self.since is None or other.since > self.since:
            return other
        if other.since < self.since:
            return self
        seen = tuple(sorted(set(self.seen) | set(other.seen)))
        return Position(self.since, seen, max(self.offset, other.offset))


@dataclass(frozen=True)
class Cursor:
    """The committed state of a contacts read (see the module docstring for the phases)."""

    phase: Phase = "list"
    #: The list endpoint's paging token inside the `list` and `archived` phases.
    after: str | None = None
    #: Where incremental search stands (the live contacts' watermark).
    live: Position = field(default_factory=Position)
    #: `list` phase: highest lastmodifieddate seen and when the listing started (our clock).
    listed_max: int | None = None
    started: int | None = None
    #: `archived` phase: the watermark of earlier reads, and the highest archivedAt this pass.
    archived_since: int | None = None
    archived_max: int | None = None

    def dump(self) -> str:
        """The JSON the engine stores."""
        data: dict[str, Any] = {"v": VERSION, **asdict(self)}
        data["live"]["seen"] = list(self.live.seen)
        return json.dumps(data, separators=(",", ":"), sort_keys=True)

    @classmethod
    def load(cls, text: str | None) -> Cursor | None:
        """Parse a stored cursor; None for a first read. A foreign cursor is an error."""
        if text is None:
            return None
        try:
            data = json.loads(text)
            if data.pop("v") != VERSION or data["phase"] not in ("list", "archived", "search"):
                raise ValueError(text)
            live = data.pop("live")
            return cls(live=Position(live["since"], tuple(live["seen"]), live["offset"]),
                       **data)
        except (ValueError, KeyError, TypeError, AttributeError):
            raise ConnectorError(
                f"the stored HubSpot cursor {text[:80]!r} is not one this connector wrote — "
                "run `hub sync --full` to read everything again") from None

    def advanced(self, **changes: Any) -> Cursor:
        """A copy with `changes` applied."""
        return replace(self, **changes)
