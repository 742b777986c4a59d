"""Shopify's search syntax, as the `query:` argument of `customers` and `orders` takes it.

`updated_at:>'2024-01-01T00:00:00Z' AND email:anna@example.com`, `tag:vip OR -tag:test`,
`(created_at:>=2024-01-01 created_at:<2024-02-01) first_name:Ann*`: terms are `field:value` with
an optional comparator (`>`, `>=`, `<`, `<=`), values may be quoted, juxtaposed terms mean AND,
`OR` binds looser than AND, `NOT`/`-` negates, parentheses group, `field:*` means "has a value"
and a bare word searches the default text fields. As on Shopify, a term naming a field the
resource does not know is ignored (it matches everything) instead of failing the query.
"""

from __future__ import annotations

import fnmatch
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal, InvalidOperation
from typing import Any, Generic, Literal, TypeVar

Kind = Literal["date", "text", "tags", "number", "enum"]
Record = TypeVar("Record")
COMPARATORS = (">=", "<=", ">", "<")


@dataclass(frozen=True)
class SearchField(Generic[Record]):
    """How a search field reads a record: its kind and a getter."""

    kind: Kind
    get: Callable[[Record], Any]


@dataclass(frozen=True)
class Term:
    """`field:>value`; `field` None is a free-text word."""

    field: str | None
    comparator: str
    value: str
    quoted: bool = False


@dataclass(frozen=True)
class Not:
    """`NOT x` / `-x`."""

    operand: Expr


@dataclass(frozen=True)
class All:
    """Every part matches (juxtaposition or AND)."""

    parts: tuple[Expr, ...]


@dataclass(frozen=True)
class AnyOf:
    """Some part matches (OR)."""

    parts: tuple[Expr, ...]


Expr = Term | Not | All | AnyOf


def _tokens(text: str) -> list[tuple[str, bool]]:
    """Split into words, parentheses and keywords; (token, was_quoted)."""
    tokens: list[tuple[str, bool]] = []
    i, n = 0, len(text)
    while i < n:
        char = text[i]
        if char.isspace():
            i += 1
            continue
        if char in "()":
            tokens.append((char, False))
            i += 1
            continue
        start, quoted = i, False
        while i < n and not text[i].isspace() and text[i] not in "()":
            if text[i] in "'\"":
                quote = text[i]
                end = text.find(quote, i + 1)
                i = n if end == -1 else end + 1
                quoted = True
                continue
            i += 1
        tokens.append((text[start:i], quoted))
    return tokens


class _Parser:
    def __init__(self, text: str) -> None:
        self.tokens = _tokens(text)
        self.pos = 0

    def peek(self) -> str | None:
        return self.tokens[self.pos][0] if self.pos < len(self.tokens) else None

    def parse(self) -> Expr:
        expr = self.or_expr()
        while self.peek() is not None:  # a stray ')': skip it and keep the rest as AND
            self.pos += 1
            expr = All((expr, self.or_expr()))
        return expr

    def or_expr(self) -> Expr:
        parts = [self.and_expr()]
        while self.peek() == "OR":
            self.pos += 1
            parts.append(self.and_expr())
        return parts[0] if len(parts) == 1 else AnyOf(tuple(parts))

    def and_expr(self) -> Expr:
        parts: list[Expr] = []
        while (token := self.peek()) is not None and token not in (")", "OR"):
            if token == "AND":
                self.pos += 1
                continue
            parts.append(self.unary())
        if len(parts) == 1:
            return parts[0]
        return All(tuple(parts))

    def unary(self) -> Expr:
        token, quoted = self.tokens[self.pos]
        self.pos += 1
        if token == "NOT":
            return Not(self.unary()) if self.peek() not in (None, ")") else All(())
        if token == "(":
            inner = self.or_expr()
            if self.peek() == ")":
                self.pos += 1
            return inner
        if token.startswith("-") and len(token) > 1:
            return Not(_term(token[1:], quoted))
        return _term(token, quoted)


def _unquote(value: str) -> str:
    if len(value) >= 2 and value[0] == value[-1] and value[0] in "'\"":
        return value[1:-1]
    return value


def _term(token: str, quoted: bool) -> Term:
    if token[:1] in "'\"" or ":" not in token:
        return Term(None, ":", _unquote(token), quoted)
    name, _, rest = token.partition(":")
    comparator = ":"
    for candidate in COMPARATORS:
        if rest.startswith(candidate):
            comparator, rest = candidate, rest[len(candidate):]
            break
    return Term(name.lower(), comparator, _unquote(rest), quoted)


def parse(text: str | None) -> Expr:
    """The expression for a query string (empty: matches everything)."""
    return _Parser(text or "").parse()


def _pinned(expr: Expr, field: str) -> set[str] | None:
    if isinstance(expr, Term):
        if expr.field == field and expr.comparator == ":" and expr.value != "*":
            return {expr.value}
        return None
    if isinstance(expr, All):
        for part in expr.parts:
            values = _pinned(part, field)
            if values is not None:
                return values
        return None
    if isinstance(expr, AnyOf):
        union: set[str] = set()
        for part in expr.parts:
            values = _pinned(part, field)
            if values is None:
                return None
            union |= values
        return union
    return None


def _as_datetime(value: str) -> tuple[datetime, datetime] | None:
    """[start, end) the value stands for: an instant, or a whole day for a bare date."""
    try:
        if len(value) == 10:
            day = date.fromisoformat(value)
            start = datetime(day.year, day.month, day.day, tzinfo=UTC)
            return start, start + timedelta(days=1)
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    moment = moment.astimezone(UTC)
    return moment, moment + timedelta(seconds=1)


def _compare(actual: Any, comparator: str, low: Any, high: Any) -> bool:
    """`low`/`high` bound the term's value: equal to a day means inside [low, high)."""
    if comparator == ":":
        return bool(low <= actual < high)
    if comparator == ">":
        return bool(actual >= high)
    if comparator == ">=":
        return bool(actual >= low)
    if comparator == "<":
        return bool(actual < low)
    return bool(actual < high)  # "<="


def _text_matches(actual: str, wanted: str) -> bool:
    actual, wanted = actual.lower(), wanted.lower()
    if "*" in wanted:
        return fnmatch.fnmatchcase(actual, wanted)
    return actual == wanted


class Search(Generic[Record]):
    """A parsed query bound to a resource's search fields."""

    def __init__(self, text: str | None, fields: Mapping[str, SearchField[Record]],
                 free_text: Callable[[Record], Iterable[str | None]]) -> None:
        self.expr = parse(text)
        self.fields = fields
        self.free_text = free_text
        self.ignored: list[str] = []

    def __call__(self, record: Record) -> bool:
        return self._eval(self.expr, record)

    def pinned(self, field: str) -> set[str] | None:
        """The values `field` must equal for a record to match (``customer_id:1 OR
        customer_id:2`` → {"1", "2"}), so a resolver can look them up in an index instead of
        testing every record; None when the query does not pin `field`. Matches are still
        tested with the whole query."""
        return _pinned(self.expr, field)

    def _eval(self, expr: Expr, record: Record) -> bool:
        if isinstance(expr, All):
            return all(self._eval(part, record) for part in expr.parts)
        if isinstance(expr, AnyOf):
            return any(self._eval(part, record) for part in expr.parts)
        if isinstance(expr, Not):
            return not self._eval(expr.operand, record)
        return self._term(expr, record)

    def _term(self, term: Term, record: Record) -> bool:
        if term.field is None:
            wanted = term.value.lower().rstrip("*")
            return any(wanted in (text or "").lower() for text in self.free_text(record))
        spec = self.fields.get(term.field)
        if spec is None:
            if term.field not in self.ignored:
                self.ignored.append(term.field)
            return True
        actual = spec.get(record)
        if term.value == "*" and not term.quoted:
            return actual not in (None, "", [])
        if spec.kind == "tags":
            return any(_text_matches(tag, term.value) for tag in actual or [])
        if actual is None:
            return False
        if spec.kind == "date":
            bounds = _as_datetime(term.value)
            return bounds is not None and _compare(actual, term.comparator, *bounds)
        if spec.kind == "number":
            try:
                number = Decimal(term.value)
            except InvalidOperation:
                return False
            return _compare(Decimal(actual), term.comparator, number, number + Decimal("1e-9"))
        if spec.kind == "enum":
            return str(actual).lower() == term.value.lower()
        return _text_matches(str(actual), term.value)
