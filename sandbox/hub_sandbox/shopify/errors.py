"""Error bodies as Shopify sends them: transport errors, throttling, query cost, syntax.

The transport-level bodies (401, 404, 400) and the THROTTLED and MAX_COST_EXCEEDED errors are
verbatim. Syntax errors are found by graphql-core and worded as Shopify's graphql-ruby words them
(`syntax error, unexpected end of file at [3, 5]`, pointing at the last token); like validation
errors (`shopify_validation`) they are answered with HTTP 200, `errors` only.
"""

from __future__ import annotations

import re
from typing import Any

from graphql import (
    GraphQLError,
    Source,
    TokenKind,
)
from graphql.language import Lexer

UNAUTHORIZED = {
    "errors": "[API] Invalid API key or access token (unrecognized login or wrong password)"}
NOT_FOUND = {"errors": "Not Found"}
MISSING_QUERY = {"errors": {"query": "Required parameter missing or invalid"}}
RATE_LIMIT_DOCS = "https://shopify.dev/api/usage/rate-limits"

Body = dict[str, Any]


def throttled(cost: Body) -> Body:
    """The THROTTLED answer (sent with HTTP 200, no `data`)."""
    return {"errors": [{"message": "Throttled",
                        "extensions": {"code": "THROTTLED", "documentation": RATE_LIMIT_DOCS}}],
            "extensions": {"cost": cost}}


def max_cost_exceeded(requested: int, maximum: int, cost: Body) -> Body:
    """A single query above the per-query maximum."""
    message = (
        f"Query cost is {requested}, which exceeds the single query max cost limit ({maximum}).\n"
        "\nSee https://shopify.dev/concepts/about-apis/rate-limits for more information on how "
        "the\ncost of a query is calculated.\n\nTo query larger amounts of data with fewer "
        "limits, bulk operations should be used instead.\nSee "
        "https://shopify.dev/api/usage/bulk-operations/queries for usage details.\n")
    return {"errors": [{"message": message,
                        "extensions": {"code": "MAX_COST_EXCEEDED", "cost": requested,
                                       "maxCost": maximum, "documentation": RATE_LIMIT_DOCS}}],
            "extensions": {"cost": cost}}


def internal_error(request_id: str) -> Body:
    """What a resolver crash looks like to the client."""
    return {"message": "Internal error. Looks like something went wrong on our end.\n"
                       f"Request ID: {request_id} (include this in support requests).",
            "extensions": {"code": "INTERNAL_SERVER_ERROR", "requestId": request_id}}


# parse errors ----------------------------------------------------------------------------------

_TOKEN_NAMES = {"{": "LCURLY", "}": "RCURLY", "(": "LPAREN", ")": "RPAREN", "[": "LBRACKET",
                "]": "RBRACKET", ":": "COLON", "=": "EQUALS", "!": "BANG", "$": "VAR_SIGN",
                "@": "DIR_SIGN", "...": "ELLIPSIS", "|": "PIPE", "&": "AMP"}
_KIND_NAMES = {"Name": "IDENTIFIER", "String": "STRING", "Int": "INT", "Float": "FLOAT",
               "BlockString": "STRING"}


def _unexpected(message: str) -> str:
    """graphql-core's token description in graphql-ruby's words."""
    match = re.search(r"(?:found|Unexpected) (.+?)\.?$", message)
    if not match:
        return message.removeprefix("Syntax Error: ").rstrip(".").lower()
    found = match.group(1)
    if found == "<EOF>":
        return "unexpected end of file"
    if found[:1] == "'" and found[1:-1] in _TOKEN_NAMES:
        text = found[1:-1]
        return f'unexpected {_TOKEN_NAMES[text]} ("{text}")'
    kind, _, text = found.partition(" ")
    if kind in _KIND_NAMES:
        return f'unexpected {_KIND_NAMES[kind]} ("{text.strip(chr(39) + chr(34))}")'
    return f"unexpected {found}"


def _last_token(text: str) -> tuple[int, int] | None:
    """Line and column of the last token: where graphql-ruby points an end-of-file error."""
    lexer = Lexer(Source(text))
    last = None
    try:
        token = lexer.advance()
        while token.kind != TokenKind.EOF:
            last = (token.line, token.column)
            token = lexer.advance()
    except GraphQLError:
        pass
    return last


def syntax_problem(error: GraphQLError, text: str) -> tuple[str, int, int]:
    """(graphql-ruby wording, line, column) of a syntax error."""
    detail = _unexpected(error.message)
    line, column = (error.locations[0].line, error.locations[0].column) if error.locations \
        else (1, 1)
    if detail == "unexpected end of file":
        line, column = _last_token(text) or (line, column)
    return f"syntax error, {detail}", line, column


def parse_error(error: GraphQLError, text: str) -> Body:
    """A syntax error as Shopify reports it."""
    detail, line, column = syntax_problem(error, text)
    return {"message": f"{detail} at [{line}, {column}]",
            "locations": [{"line": line, "column": column}],
            "extensions": {"code": "PARSE_ERROR"}}
