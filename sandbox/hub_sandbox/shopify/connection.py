"""Relay connections the way Shopify pages them: keyset cursors over a sort key.

A cursor is opaque to clients but, like Shopify's, it is base64 JSON holding the last row's sort
value and id (`{"last_id": 7000000000042, "last_value": "2024-05-01T10:00:00Z"}`). Paging
continues after that *position*, not after a row offset, so rows that change while a client pages
(a customer's `updatedAt` moving forward) are not skipped and no row is served twice on a page
boundary that did not move.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Callable, Sequence
from typing import Any, TypeVar

from graphql import GraphQLError

Item = TypeVar("Item")
SortKey = tuple[Any, int]

#: Shopify's largest page (`first`/`last`).
MAX_PAGE_SIZE = 250


def bad_request(message: str) -> GraphQLError:
    """A resolver error the way Shopify words argument problems of connections."""
    return GraphQLError(message, extensions={"code": "BAD_REQUEST"})


def encode_cursor(key: SortKey) -> str:
    """Opaque cursor for a row's sort key."""
    value, row_id = key
    raw = json.dumps({"last_id": row_id, "last_value": value}, separators=(",", ":"))
    return base64.b64encode(raw.encode()).decode()


def decode_cursor(cursor: str) -> SortKey:
    """The sort key inside a cursor; a cursor this server did not issue is a BAD_REQUEST."""
    try:
        data = json.loads(base64.b64decode(cursor.encode(), validate=True))
        return data["last_value"], int(data["last_id"])
    except (binascii.Error, ValueError, KeyError, TypeError):
        raise bad_request(f"Invalid cursor for current pagination sort: {cursor!r}") from None


def check_window(field: str, args: dict[str, Any], max_page: int = MAX_PAGE_SIZE) -> None:
    """Shopify's rules for `first`/`last` (the messages are Shopify's)."""
    first, last = args.get("first"), args.get("last")
    if first is None and last is None:
        raise bad_request("you must provide one of first or last")
    if first is not None and last is not None:
        raise bad_request("providing both first and last is not supported")
    for name, size in (("first", first), ("last", last)):
        if size is not None and not 0 <= size <= max_page:
            raise GraphQLError(
                f"Argument '{name}' on Field '{field}' has an invalid value ({size}). "
                f"Expected a page size from 0 to {max_page}.",
                extensions={"code": "argumentLiteralsIncompatible", "argumentName": name})


def paginate(items: Sequence[Item], key: Callable[[Item], SortKey], args: dict[str, Any],
             *, field: str, unbounded: bool = False,
             max_page: int = MAX_PAGE_SIZE) -> dict[str, Any]:
    """One page of `items` (in any order) as a connection dict: edges, nodes, pageInfo.

    `unbounded` serves every row regardless of `first`/`last`: bulk operations read whole
    connections that way.
    """
    if not unbounded:
        check_window(field, args, max_page)
    reverse = bool(args.get("reverse"))
    rows = sorted(((key(item), item) for item in items), key=lambda pair: pair[0],
                  reverse=reverse)
    start, end = 0, len(rows)
    if args.get("after"):
        after = decode_cursor(args["after"])
        start = next((i for i, (k, _) in enumerate(rows) if _beyond(k, after, reverse)), end)
    if args.get("before"):
        before = decode_cursor(args["before"])
        end = next((i for i, (k, _) in enumerate(rows) if not _ahead(k, before, reverse)), end)
        end = max(end, start)
    if not unbounded:
        if args.get("first") is not None:
            end = min(end, start + args["first"])
        elif args.get("last") is not None:
            start = max(start, end - args["last"])
    page = rows[start:end]
    edges = [{"cursor": encode_cursor(k), "node": item} for k, item in page]
    return {
        "edges": edges,
        "nodes": [item for _, item in page],
        "pageInfo": {
            "hasNextPage": end < len(rows),
            "hasPreviousPage": start > 0,
            "startCursor": edges[0]["cursor"] if edges else None,
            "endCursor": edges[-1]["cursor"] if edges else None,
        },
    }


def _beyond(key: SortKey, cursor: SortKey, reverse: bool) -> bool:
    """Does `key` come after the cursor position in the current order?"""
    return key < cursor if reverse else key > cursor


def _ahead(key: SortKey, cursor: SortKey, reverse: bool) -> bool:
    """Does `key` come before the cursor position in the current order?"""
    return key > cursor if reverse else key < cursor
