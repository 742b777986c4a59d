"""The executable Admin API schema of one API version: Shopify's schema at that version cut to
what `schema.graphql` names (`reference.served_document`), Shopify's scalars, the resolvers.

Shopify's scalars serialize the Shopify way (`DateTime` as `2024-01-31T09:00:00Z`, `Decimal`
as `129.9`, `UnsignedInt64` as a string) and reject bad input with Shopify's wording.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from decimal import Decimal
from importlib import resources
from typing import Any, cast

from graphql import (
    DocumentNode,
    GraphQLError,
    GraphQLObjectType,
    GraphQLScalarType,
    GraphQLSchema,
    StringValueNode,
    build_ast_schema,
    parse,
    print_ast,
)
from graphql.language import ConstValueNode

from hub_sandbox.shopify.bulk import BulkOperation
from hub_sandbox.shopify.reference import served_document
from hub_sandbox.shopify.shop import Address, AppInstallation, Customer, Metafield, Shop, ShopOrder

Resolver = Callable[..., Any]


def format_datetime(moment: datetime) -> str:
    """`2024-01-31T09:00:00Z`, Shopify's DateTime form."""
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def format_decimal(amount: Decimal) -> str:
    """`129.9`, `100.0`: Shopify's Decimal form (shortest, at least one fraction digit)."""
    text = format(amount.normalize(), "f")
    return text if "." in text else f"{text}.0"


def parse_datetime(value: Any) -> datetime:
    """An ISO-8601 input, rejected with Shopify's wording."""
    if isinstance(value, str):
        try:
            moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            pass
        else:
            return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)
    raise GraphQLError(f"invalid DateTime '{value}'")


def _literal(parse: Callable[[Any], Any]) -> Callable[[Any], Any]:
    def coerce_literal(node: ConstValueNode) -> Any:
        if isinstance(node, StringValueNode):
            return parse(node.value)
        raise GraphQLError(f"Could not coerce value {print_ast(node)} to a string")
    return coerce_literal


def _parse_unsigned(value: Any) -> int:
    try:
        number = int(value)
    except (TypeError, ValueError):
        raise GraphQLError(f"Could not coerce value {json.dumps(value)} to UnsignedInt64") from None
    if number < 0:
        raise GraphQLError(f"Could not coerce value {json.dumps(value)} to UnsignedInt64")
    return number


def _install_scalars(schema: GraphQLSchema) -> None:
    def scalar(name: str, output: Callable[[Any], Any], parse: Callable[[Any], Any]) -> None:
        type_ = cast(GraphQLScalarType, schema.type_map[name])
        type_.coerce_output_value = output
        type_.coerce_input_value = parse
        type_.coerce_input_literal = _literal(parse)

    scalar("DateTime", lambda v: format_datetime(v) if isinstance(v, datetime) else str(v),
           parse_datetime)
    scalar("Decimal", lambda v: format_decimal(Decimal(v)), lambda v: Decimal(str(v)))
    scalar("UnsignedInt64", lambda v: str(int(v)), _parse_unsigned)


def surface() -> DocumentNode:
    """`schema.graphql`: the names of the types, fields and arguments the simulator models."""
    sdl = resources.files("hub_sandbox.shopify").joinpath("schema.graphql").read_text("utf-8")
    return parse(sdl, no_location=True)


def load_schema(version: str, resolvers: Mapping[str, Mapping[str, Resolver]]) -> GraphQLSchema:
    """The executable schema of `version`: its served SDL + scalars + the resolvers.

    A resolver for a field the version lacks is simply not bound: the field is not there.
    """
    schema = build_ast_schema(served_document(version, surface()))
    _install_scalars(schema)
    for type_name, fields in resolvers.items():
        object_type = cast(GraphQLObjectType, schema.type_map[type_name])
        for field_name, resolve in fields.items():
            if field_name in object_type.fields:
                object_type.fields[field_name].resolve = resolve
    for interface in ("Node", "HasMetafields"):
        schema.type_map[interface].resolve_type = resolve_type  # type: ignore[attr-defined]
    return schema


def resolve_type(value: Any, _info: Any, _type: Any) -> str:
    """The GraphQL type of a state object behind an interface field."""
    return {Customer: "Customer", ShopOrder: "Order", Metafield: "Metafield",
            Address: "MailingAddress", Shop: "Shop", BulkOperation: "BulkOperation",
            AppInstallation: "AppInstallation"}[type(value)]
