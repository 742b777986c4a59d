"""The stored cursor: round trips, refuses foreign JSON, positions only move forward."""

from __future__ import annotations

import pytest

from hub.errors import ConnectorError
from hub_hubspot.cursor import Cursor, Position


def test_round_trip() -> None:
    cursor = Cursor(phase="search", live=Position(1700000000000, ("5", "7"), 0),
                    archived_since=1600000000000)
    assert Cursor.load(cursor.dump()) == cursor
    assert Cursor.load(None) is None


@pytest.mark.parametrize("text", ["not json", '{"v": 9, "phase": "list"}', '{"phase": "x"}',
                                  "[]", '{"v": 1, "phase": "search"}'])
def test_a_foreign_cursor_says_how_to_recover(text: str) -> None:
    with pytest.raises(ConnectorError, match="hub sync --full"):
        Cursor.load(text)


def test_later_never_goes_back_and_pools_ids_at_one_timestamp() -> None:
    here = Position(100, ("a",), 0)
    assert here.later(Position(90, ("z",), 0)) == here
    assert here.later(Position(110, ("b",), 0)) == Position(110, ("b",), 0)
    assert here.later(Position(100, ("b",), 0)) == Position(100, ("a", "b"), 0)
    assert Position().later(here) == here
    assert here.later(Position()) == here
