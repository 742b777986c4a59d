"""The ``contacts`` stream: full listing, incremental search and the recycle bin, page by page.

`cursor.py` explains the phases and why each is shaped the way it is. Every page yielded here
carries the cursor that makes it "done", so the engine can commit the two together.
"""

from __future__ import annotations

from collections.abc import Callable, Generator, Iterable, Iterator, Mapping, Sequence
from datetime import datetime
from typing import Any

import httpx

from hub.plugin import ConnectorError, ConsentObservation, Page, SourceRecord
from hub_hubspot.cursor import Cursor, Position
from hub_hubspot.mapping import MODIFIED, PropertyMap
from hub_hubspot.responses import Account, json_object
from hub_hubspot.subscriptions import Subscriptions
from hub_hubspot.timestamps import parse_time, to_ms

CONTACTS = "/crm/v3/objects/contacts"
SEARCH = "/crm/v3/objects/contacts/search"
LIST_LIMIT = 100
SEARCH_LIMIT = 200


class ContactStream:
    """Reads contacts for one connector instance (see `read`)."""

    def __init__(self, *, client: httpx.Client, search_client: httpx.Client, account: Account,
                 mapping: PropertyMap, subscriptions: Subscriptions | None,
                 clock: Callable[[], datetime], overlap_s: float, result_cap: int,
                 list_limit: int = LIST_LIMIT, search_limit: int = SEARCH_LIMIT) -> None:
        self._client = client
        self._search = search_client
        self._account = account
        self._map = mapping
        self._subscriptions = subscriptions
        self._clock = clock
        self._overlap_ms = int(overlap_s * 1000)
        self._cap = result_cap
        self._list_limit = list_limit
        self._search_limit = search_limit
        self._properties = mapping.read_properties()

    def read(self, text: str | None) -> Iterator[Page]:
        """Pages from the stored cursor `text` (None: list everything) to the end of the bin."""
        cursor = Cursor.load(text)
        if cursor is None:
            cursor = Cursor(phase="list", started=self._now())
        if cursor.phase == "list":
            cursor = yield from self._listing(cursor)
        elif cursor.phase == "search":
            cursor = yield from self._searching(cursor)
        yield from self._recycle_bin(cursor)

    # -- phases ------------------------------------------------------------------------------
    def _listing(self, cursor: Cursor) -> Generator[Page, None, Cursor]:
        while True:
            body = self._list_page(cursor.after, archived=False)
            raws = _results(body)
            records = self._records(raws)
            listed_max = _highest(cursor.listed_max, (_modified(r) for r in raws))
            after = _next_after(body)
            if after is not None:
                cursor = cursor.advanced(after=after, listed_max=listed_max)
                yield Page(records, cursor.dump())
                continue
            # changes made while the listing ran may sit behind pages already read: search
            # from the earlier of "highest seen" and "when the listing started"
            started = cursor.started if cursor.started is not None else self._now()
            since = min(listed_max, started) if listed_max is not None else started
            cursor = Cursor(phase="archived", live=Position(since),
                            archived_since=cursor.archived_since, started=self._now())
            yield Page(records, cursor.dump())
            return cursor

    def _searching(self, cursor: Cursor) -> Generator[Page, None, Cursor]:
        floor = cursor.live
        position = floor
        if self._overlap_ms and floor.since is not None:
            position = Position(floor.since - self._overlap_ms)
        while True:
            limit = min(self._search_limit, self._cap - position.offset)
            if limit <= 0:
                raise ConnectorError(
                    f"more than {self._cap} HubSpot contacts share lastmodifieddate "
                    f"{position.since} ms: the search API cannot page past them")
            raws = self._search_page(position, limit)
            fresh = [r for r in raws
                     if not (_modified(r) == position.since and str(r["id"]) in position.seen)]
            records = self._records(fresh)
            position = _advance(position, raws)
            committed = floor.later(position)
            if len(raws) < limit:
                cursor = Cursor(phase="archived", live=committed,
                                archived_since=cursor.archived_since, started=self._now())
                yield Page(records, cursor.dump())
                return cursor
            cursor = cursor.advanced(live=committed)
            yield Page(records, cursor.dump())

    def _recycle_bin(self, cursor: Cursor) -> Iterator[Page]:
        since = cursor.archived_since
        threshold = None if since is None else since - self._overlap_ms
        archived_max = cursor.archived_max
        while True:
            body = self._list_page(cursor.after, archived=True)
            raws = _results(body)
            archived_max = _highest(archived_max, (_archived_at(r) for r in raws))
            gone = [r for r in raws
                    if threshold is None or (_archived_at(r) or threshold) >= threshold]
            records = [self._record(r, (), deleted=True) for r in gone]
            after = _next_after(body)
            if after is not None:
                cursor = cursor.advanced(after=after, archived_max=archived_max)
                yield Page(records, cursor.dump())
                continue
            candidates = [s for s in (archived_max, cursor.started) if s is not None]
            watermark = min(candidates) if candidates else None
            if since is not None:
                watermark = max(since, watermark) if watermark is not None else since
            done = Cursor(phase="search", live=cursor.live, archived_since=watermark)
            yield Page(records, done.dump())
            return

    # -- requests ----------------------------------------------------------------------------
    def _list_page(self, after: str | None, *, archived: bool) -> Mapping[str, Any]:
        params: dict[str, str | int] = {
            "limit": self._list_limit,
            "properties": ",".join(self._properties),
            "archived": "true" if archived else "false",
        }
        if after:
            params["after"] = after
        what = "the archived contacts list" if archived else "the contacts list"
        response = self._client.get(CONTACTS, params=params)
        self._account.check(response, what)
        if response.status_code != 200:
            raise self._account.unexpected(response, what)
        return json_object(response, what)

    def _search_page(self, position: Position, limit: int) -> list[Mapping[str, Any]]:
        body: dict[str, Any] = {
            "sorts": [{"propertyName": MODIFIED, "direction": "ASCENDING"}],
            "properties": self._properties,
            "limit": limit,
        }
        if position.since is not None:
            body["filterGroups"] = [{"filters": [
                {"propertyName": MODIFIED, "operator": "GTE", "value": str(position.since)}]}]
        if position.offset:
            body["after"] = str(position.offset)
        response = self._search.post(SEARCH, json=body)
        self._account.check(response, "a contacts search")
        if response.status_code != 200:
            raise self._account.unexpected(response, "a contacts search")
        return _results(json_object(response, "a contacts search"))

    # -- records -----------------------------------------------------------------------------
    def _records(self, raws: Sequence[Mapping[str, Any]]) -> list[SourceRecord]:
        """The page's records, with the subscription statuses of all of them read together
        (v4: two batch requests per 100 addresses)."""
        emails = [str(self._email(r) or "") for r in raws]
        consent: Mapping[str, Sequence[ConsentObservation]] = {}
        if self._subscriptions is not None:
            consent = self._subscriptions.observe_many([e for e in emails if e])
        return [self._record(r, consent.get(e.strip().lower(), ()) if e else ())
                for r, e in zip(raws, emails, strict=True)]

    def _email(self, raw: Mapping[str, Any]) -> Any:
        return (raw.get("properties") or {}).get(self._map.email_property)

    def _record(self, raw: Mapping[str, Any], consent: Sequence[ConsentObservation], *,
                deleted: bool = False) -> SourceRecord:
        props = raw.get("properties") or {}
        updated = parse_time(props.get(MODIFIED)) or parse_time(raw.get("updatedAt"))
        if deleted:
            updated = parse_time(raw.get("archivedAt")) or updated
        contact_id = str(raw["id"])
        return SourceRecord(id=contact_id, fields=self._map.fields(props), updated_at=updated,
                            deleted=deleted, consent=tuple(consent),
                            signals=self._map.signals(props),
                            origin=f"HubSpot contact {contact_id}")

    def _now(self) -> int:
        return to_ms(self._clock())


def _results(body: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    results = body.get("results") or []
    if not isinstance(results, list):
        raise ConnectorError("HubSpot sent `results` that are not a list")
    return [r for r in results if isinstance(r, Mapping) and r.get("id") is not None]


def _next_after(body: Mapping[str, Any]) -> str | None:
    after = ((body.get("paging") or {}).get("next") or {}).get("after")
    return str(after) if after not in (None, "") else None


def _modified(raw: Mapping[str, Any]) -> int | None:
    moment = parse_time((raw.get("properties") or {}).get(MODIFIED)) \
        or parse_time(raw.get("updatedAt"))
    return to_ms(moment) if moment is not None else None


def _archived_at(raw: Mapping[str, Any]) -> int | None:
    moment = parse_time(raw.get("archivedAt")) or parse_time(raw.get("updatedAt"))
    return to_ms(moment) if moment is not None else None


def _highest(current: int | None, stamps: Iterable[int | None]) -> int | None:
    known = [s for s in (current, *stamps) if s is not None]
    return max(known) if known else None


def _advance(position: Position, raws: Sequence[Mapping[str, Any]]) -> Position:
    """The keyset position after a search page (see `cursor.py`)."""
    if not raws:
        return position
    last = _modified(raws[-1])
    if last is None:
        raise ConnectorError(f"HubSpot contact {raws[-1]['id']} came back from a search "
                             "without lastmodifieddate")
    at_last = tuple(str(r["id"]) for r in raws if _modified(r) == last)
    if position.since is None or last > position.since:
        return Position(last, tuple(sorted(at_last)), 0)
    seen = tuple(sorted(set(position.seen) | set(at_last)))
    return Position(position.since, seen, position.offset + len(raws))
