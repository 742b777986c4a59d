"""Where a customers read stands: the JSON the engine commits with every page.

``bulk``
    A first full read of a large shop runs one bulk operation. The cursor holds its id and
    how many customers of its result file are committed, so a crash resumes in the same file
    (or starts a new operation when Shopify has dropped the old one), and the time the
    operation started: changes after that are read by the paged phase.
``page``
    Customers with ``updated_at >= since``, oldest change first, paged by Shopify's opaque
    `after` token. When a window is read to its end, the next one starts at the newest change
    seen minus a small overlap, so changes within the same second are never split between
    runs (re-read customers are skipped by hub as unchanged).
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, replace
from typing import Any, Literal

from hub.plugin import ConnectorError

VERSION = 1
Phase = Literal["bulk", "page"]


@dataclass(frozen=True)
class Cursor:
    """The committed state of a customers read (see the module docstring)."""

    phase: Phase = "page"
    since: str | None = None
    after: str | None = None
    newest: str | None = None
    bulk_id: str | None = None
    bulk_done: int = 0
    bulk_started: str | None = None

    def dump(self) -> str:
        """The JSON the engine stores."""
        return json.dumps({"v": VERSION, **asdict(self)}, separators=(",", ":"), sort_keys=True)

    @classmethod
    def load(cls, text: str | None) -> Cursor | None:
        """Parse a stored cursor; None for a first read. A foreign cursor is an error."""
        if text is None:
            return None
        try:
            data = json.loads(text)
            if data.pop("v") != VERSION or data["phase"] not in ("bulk", "page"):
                raise ValueError(text)
            return cls(**data)
        except (ValueError, KeyError, TypeError, AttributeError):
            raise ConnectorError(
                f"the stored Shopify cursor {text[:80]!r} is not one this connector wrote — "
                "run `hub sync --full` to read everything again") from None

    def advanced(self, **changes: Any) -> Cursor:
        """A copy with `changes` applied."""
        return replace(self, **changes)
