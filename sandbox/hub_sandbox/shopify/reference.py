"""Shopify's Admin API schema at a given version, built from Shopify's own schema dump.

`reference/admin-2024-12.graphql.gz` is Shopify's published schema (MIT, licence beside it):
every type, field, argument, default and enum value the real API had on 2024-12-18.
`versions.CHANGES` moves it to each served version. Two schemas come out of that:

- `full_schema(version)`: the whole Admin API at that version. Contract tests validate every
  document a client sends against it, so a field a version lacks fails in CI, not in a shop.
- `served_document(version, surface)`: the part the simulator answers. `surface` (the
  simulator's `schema.graphql`) only *names* the types, fields and arguments it models; their
  definitions (types, nullability, defaults, enum values) are taken from the reference at that
  version, and whatever the version lacks is left out, so the simulator refuses it the way
  Shopify does (`undefinedField`, `argumentNotAccepted`).
"""

from __future__ import annotations

import gzip
import re
from collections.abc import Iterator
from functools import cache
from importlib import resources
from typing import Any

from graphql import (
    DirectiveDefinitionNode,
    DocumentNode,
    FieldDefinitionNode,
    GraphQLSchema,
    InputObjectTypeDefinitionNode,
    InputValueDefinitionNode,
    InterfaceTypeDefinitionNode,
    ObjectTypeDefinitionNode,
    SchemaDefinitionNode,
    TypeDefinitionNode,
    TypeNode,
    UnionTypeDefinitionNode,
    build_ast_schema,
    parse,
)

from hub_sandbox.shopify.versions import CHANGES, SERVED

REFERENCE = "admin-2024-12.graphql.gz"
_SPECIFIED = frozenset({"String", "Int", "Float", "Boolean", "ID"})

Definitions = dict[str, TypeDefinitionNode]
_Fielded = ObjectTypeDefinitionNode | InterfaceTypeDefinitionNode | InputObjectTypeDefinitionNode


#: The first line of a top-level definition in the dump (descriptions precede, indented
#: lines belong inside).
_DEFINITION = re.compile(r"^(?:(?:type|enum|input|interface) (\w+)[^\n]*\{|scalar (\w+)|"
                         r"union (\w+) = [^\n]*|(schema) \{)$", re.MULTILINE)


@cache
def _text() -> str:
    raw = resources.files("hub_sandbox.shopify").joinpath("reference", REFERENCE).read_bytes()
    return gzip.decompress(raw).decode("utf-8")


@cache
def _reference() -> DocumentNode:
    """Shopify's whole schema dump, parsed once per process (about a second)."""
    return parse(_text(), no_location=True)


#: A block string: every description in the dump is one.
_BLOCK_STRING = re.compile(r'"""(?:[^"\\]|\\.|"(?!""))*"""')


@cache
def _definition_texts() -> dict[str, str]:
    """Each top-level definition's SDL by name, without descriptions: parsing only the ones
    the simulator serves takes a few milliseconds instead of seconds."""
    text = _BLOCK_STRING.sub("", _text())
    found: dict[str, str] = {}
    for match in _DEFINITION.finditer(text):
        name = next(group for group in match.groups() if group)
        end = match.end() if not match.group(0).endswith("{") \
            else text.index("\n}", match.end()) + 2
        found[name] = text[match.start():end]
    return found


def _named(type_node: TypeNode) -> str:
    while not hasattr(type_node, "name"):
        type_node = type_node.type  # type: ignore[attr-defined]
    return str(type_node.name.value)


def _field_node(sdl: str) -> FieldDefinitionNode:
    document = parse(f"type _ {{ {sdl} }}", no_location=True)
    definition = document.definitions[0]
    assert isinstance(definition, ObjectTypeDefinitionNode) and definition.fields
    return definition.fields[0]


def _replace(node: Any, **changes: Any) -> Any:
    """A copy of a (frozen) AST node with some attributes changed."""
    values = {key: getattr(node, key) for key in node.keys if key != "loc"}
    values.update({key: value for key, value in changes.items() if key in values})
    return type(node)(**values)


def _with_fields(definition: Any, fields: list[Any]) -> Any:
    return _replace(definition, fields=tuple(fields))


def _apply(definitions: Definitions, version: str) -> None:
    """Move the reference's definitions to `version` (see `versions.CHANGES`)."""
    for change in CHANGES:
        if version < change.since or change.type_name not in definitions:
            continue
        owner = definitions[change.type_name]
        fields = [f for f in owner.fields if f.name.value != change.field]  # type: ignore
        fields.append(_field_node(change.definition))
        definitions[change.type_name] = _with_fields(owner, fields)


@cache
def _parsed(names: frozenset[str] | None) -> tuple[Definitions, tuple[Any, ...]]:
    """(type definitions by name, schema and directive definitions) of the reference: all of
    them, or only the types in `names` (and the schema definition)."""
    if names is None:
        document = _reference()
    else:
        texts = _definition_texts()
        wanted = [texts[name] for name in sorted(names | {"schema"}) if name in texts]
        document = parse("\n".join(wanted), no_location=True)
    definitions: Definitions = {}
    others: list[Any] = []
    for node in document.definitions:
        if isinstance(node, TypeDefinitionNode):
            definitions[node.name.value] = node
        elif isinstance(node, SchemaDefinitionNode | DirectiveDefinitionNode):
            others.append(node)
    return definitions, tuple(others)


@cache
def _versioned(version: str, names: frozenset[str] | None = None,
               ) -> tuple[Definitions, tuple[Any, ...]]:
    """`_parsed(names)` moved to `version`."""
    if version not in SERVED:
        raise ValueError(f"Shopify API version {version!r} is not served; served: "
                         f"{', '.join(SERVED)}")
    parsed, others = _parsed(names)
    definitions = dict(parsed)
    _apply(definitions, version)
    return definitions, others


@cache
def full_schema(version: str) -> GraphQLSchema:
    """The whole Admin API schema at `version` (for validating documents).

    Taken as valid: it is Shopify's, and it breaks a rule graphql-core added later (a field
    implementing a non-deprecated interface field may not be deprecated).
    """
    definitions, others = _versioned(version)
    return build_ast_schema(DocumentNode(definitions=(*others, *definitions.values())),
                            assume_valid=True, assume_valid_sdl=True)


# the simulator's part ----------------------------------------------------------------------

def _surface(surface: DocumentNode) -> dict[str, Any]:
    """What the simulator models: type name → {field → {argument names}} (None: whole type)."""
    names: dict[str, Any] = {}
    for node in surface.definitions:
        if isinstance(node, ObjectTypeDefinitionNode | InterfaceTypeDefinitionNode):
            names[node.name.value] = {
                "fields": {f.name.value: {a.name.value for a in f.arguments or ()}
                           for f in node.fields or ()},
                "interfaces": {i.name.value for i in node.interfaces or ()}}
        elif isinstance(node, InputObjectTypeDefinitionNode):
            names[node.name.value] = {"fields": {f.name.value: set() for f in node.fields or ()},
                                      "interfaces": set()}
        elif isinstance(node, TypeDefinitionNode):
            names[node.name.value] = None
    return names


def surface_gaps(version: str, surface: DocumentNode) -> Iterator[str]:
    """Names in `surface` the reference does not have at `version` (typos, or not yet there)."""
    modelled_names = _surface(surface)
    definitions, _others = _versioned(version, frozenset(modelled_names))
    for type_name, modelled in modelled_names.items():
        definition = definitions.get(type_name)
        if definition is None:
            yield type_name
            continue
        if modelled is None:
            continue
        fields = {f.name.value: f for f in getattr(definition, "fields", None) or ()}
        for field, arguments in modelled["fields"].items():
            if field not in fields:
                yield f"{type_name}.{field}"
                continue
            known = {a.name.value for a in getattr(fields[field], "arguments", None) or ()}
            yield from (f"{type_name}.{field}({a}:)" for a in sorted(arguments - known))


def served_document(version: str, surface: DocumentNode) -> DocumentNode:
    """The reference at `version`, cut down to what `surface` names (see module docstring)."""
    modelled = _surface(surface)
    definitions, others = _versioned(version, frozenset(modelled))
    kept: Definitions = {}
    for type_name, names in modelled.items():
        definition = definitions.get(type_name)
        if definition is None:
            continue
        if names is not None and isinstance(definition, _Fielded):
            definition = _cut(definition, names)
        kept[type_name] = definition
    while _prune(kept):
        pass
    schema = [n for n in others if isinstance(n, SchemaDefinitionNode)]
    return DocumentNode(definitions=(*schema, *kept.values()))


def _cut(definition: Any, names: dict[str, Any]) -> Any:
    fields = []
    for field in definition.fields or ():
        wanted = names["fields"].get(field.name.value)
        if wanted is None:
            continue
        if isinstance(field, FieldDefinitionNode):
            field = _replace(field, arguments=tuple(a for a in field.arguments or ()
                                                    if a.name.value in wanted))
        fields.append(field)
    changes: dict[str, Any] = {"fields": tuple(fields), "description": None, "directives": ()}
    if isinstance(definition, ObjectTypeDefinitionNode | InterfaceTypeDefinitionNode):
        changes["interfaces"] = tuple(i for i in definition.interfaces or ()
                                      if i.name.value in names["interfaces"])
    return _replace(definition, **changes)


def _known(kept: Definitions, type_node: TypeNode) -> bool:
    name = _named(type_node)
    return name in _SPECIFIED or name in kept


def _prune(kept: Definitions) -> bool:
    """Drop fields and arguments whose types are not kept; True if anything changed."""
    changed = False
    for type_name, definition in list(kept.items()):
        if isinstance(definition, UnionTypeDefinitionNode):
            types = tuple(t for t in definition.types or () if t.name.value in kept)
            if len(types) != len(definition.types or ()):
                kept[type_name] = _replace(definition, types=types)
                changed = True
            continue
        if not isinstance(definition, _Fielded):
            continue
        fields = []
        for field in definition.fields or ():
            if not _known(kept, field.type):
                changed = True
                continue
            if isinstance(field, FieldDefinitionNode):
                arguments = _known_arguments(kept, field.arguments or ())
                if arguments is None:
                    changed = True
                    continue
                if len(arguments) != len(field.arguments or ()):
                    field = _replace(field, arguments=arguments)
                    changed = True
            fields.append(field)
        if len(fields) != len(definition.fields or ()):
            kept[type_name] = _with_fields(definition, fields)
    return changed


def _known_arguments(kept: Definitions, arguments: Any) -> tuple[Any, ...] | None:
    """The arguments whose types are kept; None if a required one is not."""
    out: list[InputValueDefinitionNode] = []
    for argument in arguments:
        if _known(kept, argument.type):
            out.append(argument)
        elif argument.type.kind == "non_null_type" and argument.default_value is None:
            return None
    return tuple(out)

