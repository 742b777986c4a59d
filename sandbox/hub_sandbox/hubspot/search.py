"""HubSpot's CRM search semantics: filter groups (OR of ANDs), one sort, paging by offset."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

OPERATORS = {"EQ", "NEQ", "LT", "LTE", "GT", "GTE", "BETWEEN", "IN", "NOT_IN", "HAS_PROPERTY",
             "NOT_HAS_PROPERTY", "CONTAINS_TOKEN", "NOT_CONTAINS_TOKEN"}
DATE_PROPERTIES = {"createdate", "lastmodifieddate", "hs_lastmodifieddate", "date_of_birth"}


def _number(value: Any) -> float | None:
    try:
        return float(value)
    except (TypeError, ValueError):
        return None


def _compare(left: str | None, right: Any, prop: str) -> int | None:
    """-1/0/1 comparing a stored value with a filter value: numbers (dates as epoch ms)
    numerically, everything else case-insensitively."""
    if left is None:
        return None
    a, b = _number(left), _number(right)
    if a is not None and b is not None:
        return (a > b) - (a < b)
    x, y = str(left).casefold(), str(right).casefold()
    return (x > y) - (x < y)


def matches(props: Mapping[str, str | None], f: Mapping[str, Any], sortable: Any) -> bool:
    """Does one contact's (sortable) property satisfy one filter?"""
    prop, op = str(f["propertyName"]), str(f["operator"])
    value = sortable(prop, props.get(prop))
    if op == "HAS_PROPERTY":
        return value not in (None, "")
    if op == "NOT_HAS_PROPERTY":
        return value in (None, "")
    if op in ("IN", "NOT_IN"):
        wanted = {str(v).casefold() for v in f.get("values") or []}
        inside = value is not None and str(value).casefold() in wanted
        return inside if op == "IN" else not inside
    if op in ("CONTAINS_TOKEN", "NOT_CONTAINS_TOKEN"):
        token = str(f.get("value", "")).casefold().replace("*", "")
        found = value is not None and token in str(value).casefold()
        return found if op == "CONTAINS_TOKEN" else not found
    if op == "BETWEEN":
        low, high = _compare(value, f.get("value"), prop), _compare(value, f.get("highValue"), prop)
        return bool(low is not None and high is not None and low >= 0 and high <= 0)
    result = _compare(value, f.get("value"), prop)
    if result is None:
        return bool(op == "NEQ")
    return {"EQ": result == 0, "NEQ": result != 0, "LT": result < 0, "LTE": result <= 0,
            "GT": result > 0, "GTE": result >= 0}[op]


def search(rows: Sequence[Mapping[str, str | None]], groups: Sequence[Mapping[str, Any]],
           sorts: Sequence[Mapping[str, str]], sortable: Any) -> list[Mapping[str, str | None]]:
    """Rows matching any group whose filters all match, in the one requested order."""
    if groups:
        chosen = [r for r in rows if any(all(matches(r, f, sortable) for f in g.get("filters", []))
                                         for g in groups)]
    else:
        chosen = list(rows)
    if sorts:
        prop = sorts[0]["propertyName"]
        descending = sorts[0].get("direction", "ASCENDING") == "DESCENDING"

        def key(row: Mapping[str, str | None]) -> tuple[int, float, str, int]:
            raw = sortable(prop, row.get(prop))
            number = _number(raw)
            return (raw is None, number if number is not None else 0.0,
                    str(raw or "").casefold(), int(str(row.get("hs_object_id") or 0)))
        chosen.sort(key=key, reverse=descending)
    else:
        chosen.sort(key=lambda r: int(str(r.get("hs_object_id") or 0)))
    return chosen
