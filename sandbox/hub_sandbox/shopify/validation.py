"""Validation and variable errors in Shopify's (graphql-ruby's) words.

Shopify runs graphql-ruby, whose wording, `extensions.code` values and document paths differ
from graphql-core's. graphql-core finds the problems; each validation rule's errors are tagged
with the rule's name and re-worded here (`Field 'foo' doesn't exist on type 'Customer'`, code
`undefinedField`, path `["query", "customers", "nodes", "foo"]`). Variables are checked before
execution and answered in Shopify's `INVALID_VARIABLE` shape. Such requests get HTTP 200 with
`errors` only: no `data`, no `extensions` (and they cost nothing).
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from typing import Any, cast

from graphql import (
    ArgumentNode,
    DocumentNode,
    FieldNode,
    FragmentDefinitionNode,
    GraphQLError,
    GraphQLInputObjectType,
    GraphQLInputType,
    GraphQLSchema,
    InlineFragmentNode,
    Node,
    ObjectFieldNode,
    OperationDefinitionNode,
    TypeInfo,
    TypeInfoVisitor,
    VariableDefinitionNode,
    Visitor,
    get_named_type,
    is_enum_type,
    is_input_object_type,
    is_list_type,
    is_non_null_type,
    print_ast,
    specified_scalar_types,
    type_from_ast,
    visit,
)
from graphql.validation import ASTValidationRule, ValidationContext, specified_rules

from hub_sandbox.shopify.errors import Body

# validation errors -----------------------------------------------------------------------------

_RULE = "__rule"


class _TaggingContext:
    """A validation context that marks each reported error with the reporting rule's name."""

    def __init__(self, context: ValidationContext, rule: str) -> None:
        self._context = context
        self._rule = rule

    def report_error(self, error: GraphQLError) -> None:
        error.extensions = {**(error.extensions or {}), _RULE: self._rule}
        self._context.report_error(error)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._context, name)


def _tagged(rule: type[ASTValidationRule]) -> type[ASTValidationRule]:
    """The rule, marking each error it reports with its own name."""
    def __init__(self: ASTValidationRule, context: ValidationContext) -> None:
        rule.__init__(self, cast(ValidationContext, _TaggingContext(context, rule.__name__)))
    return type(rule.__name__, (rule,), {"__init__": __init__})


RULES = [_tagged(rule) for rule in specified_rules]


class _Document:
    """Parents and input types of the nodes of one document, for re-wording its errors."""

    def __init__(self, schema: GraphQLSchema, document: DocumentNode) -> None:
        self.parents: dict[int, Node] = {}
        self._link(document)
        self.inputs: dict[int, tuple[Any, Any]] = {}
        type_info = TypeInfo(schema)
        inputs = self.inputs

        class Recorder(Visitor):
            def enter(self, node: Node, *_args: Any) -> None:
                if isinstance(node, ArgumentNode | ObjectFieldNode):
                    inputs[id(node)] = (type_info.get_input_type(),
                                        type_info.get_parent_input_type())

        visit(document, TypeInfoVisitor(type_info, Recorder()))

    def _link(self, node: Node) -> None:
        for key in node.keys:
            value = getattr(node, key, None)
            for child in value if isinstance(value, list | tuple) else (value,):
                if isinstance(child, Node):
                    self.parents[id(child)] = node
                    self._link(child)

    def parent(self, node: Node) -> Node | None:
        return self.parents.get(id(node))

    def enclosing(self, node: Node, kinds: tuple[type[Node], ...]) -> Node | None:
        current: Node | None = node
        while current is not None and not isinstance(current, kinds):
            current = self.parent(current)
        return current

    def path(self, node: Node) -> list[str]:
        """graphql-ruby's document path: operation, fields (aliases), arguments."""
        steps: list[str] = []
        current: Node | None = node
        while current is not None:
            if isinstance(current, FieldNode):
                steps.append((current.alias or current.name).value)
            elif isinstance(current, ArgumentNode | ObjectFieldNode):
                steps.append(current.name.value)
            elif isinstance(current, InlineFragmentNode):
                condition = current.type_condition
                steps.append(f"... on {condition.name.value}" if condition else "...")
            elif isinstance(current, OperationDefinitionNode):
                kind = current.operation.value
                steps.append(f"{kind} {current.name.value}" if current.name else kind)
            elif isinstance(current, FragmentDefinitionNode):
                steps.append(f"fragment {current.name.value}")
            current = self.parent(current)
        return steps[::-1]

    def operation_name(self, node: Node) -> str:
        operation = self.enclosing(node, (OperationDefinitionNode,))
        if isinstance(operation, OperationDefinitionNode) and operation.name:
            return operation.name.value
        return "anonymous query"


Translation = tuple[str, dict[str, Any]]


def _find(pattern: str, message: str) -> tuple[str, ...] | None:
    match = re.search(pattern, message)
    return match.groups() if match else None


def _fields_on_correct_type(error: GraphQLError, doc: _Document, node: Node) -> Translation | None:
    found = _find(r"Cannot query field '(.+?)' on type '(.+?)'", error.message)
    if not found:
        return None
    field, type_name = found
    return (f"Field '{field}' doesn't exist on type '{type_name}'",
            {"code": "undefinedField", "typeName": type_name, "fieldName": field})


def _scalar_leafs(error: GraphQLError, doc: _Document, node: Node) -> Translation | None:
    found = _find(r"Field '(.+?)' of type '(.+?)' must have a selection", error.message)
    if found:
        field, type_name = found[0], found[1].strip("[]!")
        return (f"Field must have selections (field '{field}' returns {type_name} but has no "
                f"selections. Did you mean '{field} {{ ... }}'?)",
                {"code": "selectionMismatch", "nodeName": f"field '{field}'",
                 "typeName": type_name})
    found = _find(r"Field '(.+?)' must not have a selection since type '(.+?)'", error.message)
    if not found:
        return None
    field, type_name = found[0], found[1].strip("[]!")
    selected = ", ".join(print_ast(s) for s in getattr(node, "selections", ()))
    return (f"Selections can't be made on scalars (field '{field}' returns {type_name} but has "
            f"selections [{selected}])",
            {"code": "selectionMismatch", "nodeName": f"field '{field}'", "typeName": type_name})


def _known_argument_names(error: GraphQLError, doc: _Document, node: Node) -> Translation | None:
    found = _find(r"Unknown argument '(.+?)' on (field|directive) '(?:.+?\.)?@?(.+?)'",
                  error.message)
    if not found:
        return None
    argument, kind, owner = found
    class_name = "Field" if kind == "field" else "Directive"
    return (f"{class_name} '{owner}' doesn't accept argument '{argument}'",
            {"code": "argumentNotAccepted", "name": owner, "typeName": class_name,
             "argumentName": argument})


def _provided_required_arguments(error: GraphQLError, doc: _Document,
                                 node: Node) -> Translation | None:
    found = _find(r"Argument '(?:.+?\.)?(.+?)\((.+?):\)'", error.message)
    if not found:
        return None
    field, argument = found
    return (f"Field '{field}' is missing required arguments: {argument}",
            {"code": "missingRequiredArguments", "className": "Field", "name": field,
             "arguments": argument})


def _values_of_correct_type(error: GraphQLError, doc: _Document,
                            node: Node) -> Translation | None:
    required = _find(r"Expected value of type '(.+?)' to include required field '(.+?)'",
                     error.message)
    if required:
        type_name, field = required
        return (f"Argument '{field}' on InputObject '{type_name}' is required. Expected type "
                f"{_field_type(doc, node, field)}",
                {"code": "missingRequiredInputObjectAttribute", "argumentName": field,
                 "argumentType": _field_type(doc, node, field), "inputObjectType": type_name})
    unknown = _find(r"Expected value of type '(.+?)' not to include unknown field '(.+?)'",
                    error.message)
    if unknown:
        type_name, field = unknown
        return (f"InputObject '{type_name}' doesn't accept argument '{field}'",
                {"code": "argumentNotAccepted", "name": type_name, "typeName": "InputObject",
                 "argumentName": field})
    holder = doc.enclosing(node, (ArgumentNode, ObjectFieldNode))
    if not isinstance(holder, ArgumentNode | ObjectFieldNode):
        return None
    input_type, parent_type = doc.inputs.get(id(holder), (None, None))
    parent_type = get_named_type(parent_type) if parent_type is not None else None
    value = print_ast(holder.value)
    name = holder.name.value
    if isinstance(holder, ArgumentNode):
        owner = doc.parent(holder)
        owner_name = owner.name.value if isinstance(owner, FieldNode) else "?"
        return (f"Argument '{name}' on Field '{owner_name}' has an invalid value ({value}). "
                f"Expected type '{input_type}'.",
                {"code": "argumentLiteralsIncompatible", "typeName": "Field",
                 "argumentName": name})
    return (f"Argument '{name}' on InputObject '{parent_type}' has an invalid value ({value}). "
            f"Expected type '{input_type}'.",
            {"code": "argumentLiteralsIncompatible", "typeName": "InputObject",
             "argumentName": name})


def _field_type(doc: _Document, node: Node, field: str) -> str:
    holder = doc.enclosing(node, (ArgumentNode, ObjectFieldNode))
    input_type = doc.inputs.get(id(holder), (None, None))[0] if holder else None
    while input_type is not None and not isinstance(input_type, GraphQLInputObjectType):
        input_type = getattr(input_type, "of_type", None)
    if isinstance(input_type, GraphQLInputObjectType) and field in input_type.fields:
        return str(input_type.fields[field].type)
    return "?"


def _variables(error: GraphQLError, doc: _Document, node: Node) -> Translation | None:
    rule = (error.extensions or {}).get(_RULE)
    name = _find(r"Variable '\$(.+?)'", error.message)
    if not name:
        return None
    variable = name[0]
    operation = doc.operation_name(node)
    if rule == "NoUndefinedVariablesRule":
        return (f"Variable ${variable} is used by {operation} but not declared",
                {"code": "variableNotDefined", "variableName": variable})
    if rule == "NoUnusedVariablesRule":
        return (f"Variable ${variable} is declared by {operation} but not used",
                {"code": "variableNotUsed", "variableName": variable})
    if rule == "VariablesAreInputTypesRule":
        found = _find(r"non-input type '(.+?)'", error.message)
        type_name = found[0] if found else "?"
        return (f"{type_name} isn't a valid input type (on ${variable})",
                {"code": "variableRequiresValidType", "typeName": type_name,
                 "variableName": variable})
    found = _find(r"of type '(.+?)' used in position expecting type '(.+?)'", error.message)
    if not found:
        return None
    given, expected = found
    argument = doc.enclosing(error.nodes[-1] if error.nodes else node,
                             (ArgumentNode, ObjectFieldNode))
    argument_name = argument.name.value if isinstance(argument,
                                                      ArgumentNode | ObjectFieldNode) else "?"
    kind = "Nullability" if given.strip("!") == expected.strip("!") else "Type"
    return (f"{kind} mismatch on variable ${variable} and argument {argument_name} "
            f"({given} / {expected})",
            {"code": "variableMismatch", "variableName": variable, "typeName": given,
             "argumentName": argument_name, "errorMessage": f"{kind} mismatch"})


def _known_type_names(error: GraphQLError, doc: _Document, node: Node) -> Translation | None:
    found = _find(r"Unknown type '(.+?)'", error.message)
    if not found:
        return None
    type_name = found[0]
    definition = doc.enclosing(node, (VariableDefinitionNode,))
    if isinstance(definition, VariableDefinitionNode):
        variable = definition.variable.name.value
        return (f"{type_name} isn't a defined input type (on ${variable})",
                {"code": "variableRequiresValidType", "typeName": type_name,
                 "variableName": variable})
    return (f"No such type {type_name}, so it can't be a fragment condition",
            {"code": "undefinedType", "typeName": type_name})


def _fragments(error: GraphQLError, doc: _Document, node: Node) -> Translation | None:
    found = _find(r"Fragment '(.+?)' is never used", error.message)
    if found:
        return (f"Fragment {found[0]} was defined, but not used",
                {"code": "useAndDefineFragment", "fragmentName": found[0]})
    found = _find(r"Unknown fragment '(.+?)'", error.message)
    if found:
        return (f"Fragment {found[0]} was used, but not defined",
                {"code": "useAndDefineFragment", "fragmentName": found[0]})
    return None


def _operations(error: GraphQLError, doc: _Document, node: Node) -> Translation | None:
    found = _find(r"only one operation named '(.+?)'", error.message)
    if found:
        return (f'Operation name "{found[0]}" must be unique',
                {"code": "uniquelyNamedOperations", "operationName": found[0]})
    return ("Operation name is required when multiple operations are present",
            {"code": "uniquelyNamedOperations"})


_TRANSLATORS: dict[str, Callable[[GraphQLError, _Document, Node], Translation | None]] = {
    "FieldsOnCorrectTypeRule": _fields_on_correct_type,
    "ScalarLeafsRule": _scalar_leafs,
    "KnownArgumentNamesRule": _known_argument_names,
    "ProvidedRequiredArgumentsRule": _provided_required_arguments,
    "ValuesOfCorrectTypeRule": _values_of_correct_type,
    "NoUndefinedVariablesRule": _variables,
    "NoUnusedVariablesRule": _variables,
    "VariablesAreInputTypesRule": _variables,
    "VariablesInAllowedPositionRule": _variables,
    "KnownTypeNamesRule": _known_type_names,
    "NoUnusedFragmentsRule": _fragments,
    "KnownFragmentNamesRule": _fragments,
    "UniqueOperationNamesRule": _operations,
    "LoneAnonymousOperationRule": _operations,
}

#: Nodes that stand for a field in a path even when graphql-core blames a child node.
_PATH_ANCHORS = (FieldNode, ArgumentNode, ObjectFieldNode, OperationDefinitionNode,
                 FragmentDefinitionNode)


def validation_errors(schema: GraphQLSchema, document: DocumentNode,
                      errors: list[GraphQLError]) -> list[Body]:
    """graphql-core validation errors re-worded as graphql-ruby (Shopify) reports them."""
    doc = _Document(schema, document)
    out: list[Body] = []
    for error in errors:
        extensions = dict(error.extensions or {})
        rule = extensions.pop(_RULE, "")
        node = error.nodes[0] if error.nodes else None
        translated = None
        if node is not None and rule in _TRANSLATORS:
            translated = _TRANSLATORS[rule](error, doc, node)
        body: Body = {"message": translated[0] if translated else error.message}
        if error.locations:
            location = error.locations[-1] if rule == "VariablesInAllowedPositionRule" \
                else error.locations[0]
            body["locations"] = [{"line": location.line, "column": location.column}]
        if node is not None:
            anchor = doc.enclosing(node, _PATH_ANCHORS)
            if anchor is not None:
                body["path"] = doc.path(anchor)
        if translated:
            body["extensions"] = translated[1]
        elif extensions:
            body["extensions"] = extensions
        out.append(body)
    return _merge_missing_arguments(out)


def _merge_missing_arguments(errors: list[Body]) -> list[Body]:
    """graphql-ruby names all missing arguments of a field in one error."""
    merged: list[Body] = []
    for error in errors:
        ext = error.get("extensions", {})
        previous = next((e for e in merged if ext.get("code") == "missingRequiredArguments"
                         and e.get("extensions", {}).get("code") == "missingRequiredArguments"
                         and e.get("path") == error.get("path")), None)
        if previous is None:
            merged.append(error)
            continue
        names = f"{previous['extensions']['arguments']}, {ext['arguments']}"
        previous["extensions"]["arguments"] = names
        previous["message"] = f"Field '{ext['name']}' is missing required arguments: {names}"
    return merged


# variables -------------------------------------------------------------------------------------

def _problems(value: Any, type_: GraphQLInputType, path: list[str | int],
              out: list[Body]) -> None:
    """Shopify's per-value problems for one variable (empty: the value is fine)."""
    if is_non_null_type(type_):
        if value is None:
            out.append({"path": path, "explanation": "Expected value to not be null"})
            return
        type_ = type_.of_type
    if value is None:
        return
    if is_list_type(type_):
        item_type = type_.of_type
        items = value if isinstance(value, list) else [value]
        for index, item in enumerate(items):
            _problems(item, item_type, [*path, index] if isinstance(value, list) else path, out)
        return
    if is_input_object_type(type_):
        assert isinstance(type_, GraphQLInputObjectType)
        if not isinstance(value, dict):
            out.append({"path": path,
                        "explanation": f"Expected {json.dumps(value)} to be a key-value object."})
            return
        for name, field in type_.fields.items():
            if name in value:
                _problems(value[name], field.type, [*path, name], out)
            elif is_non_null_type(field.type) and field.default_value is None:
                out.append({"path": [*path, name],
                            "explanation": "Expected value to not be null"})
        for name in value:
            if name not in type_.fields:
                out.append({"path": [*path, name],
                            "explanation": f"Field is not defined on {type_.name}"})
        return
    if is_enum_type(type_):
        names = list(type_.values)
        if value not in names:
            out.append({"path": path, "explanation":
                        f"Expected {json.dumps(value)} to be one of: {', '.join(names)}"})
        return
    try:
        type_.coerce_input_value(value)  # type: ignore[union-attr]
    except GraphQLError as error:
        builtin = type_.name in specified_scalar_types  # type: ignore[union-attr]
        out.append({"path": path, "explanation": f"Could not coerce value {json.dumps(value)} "
                    f"to {type_.name}" if builtin else error.message})  # type: ignore[union-attr]
    except (TypeError, ValueError, ArithmeticError):
        out.append({"path": path, "explanation": f"Could not coerce value {json.dumps(value)} "
                    f"to {type_.name}"})  # type: ignore[union-attr]


def variable_errors(schema: GraphQLSchema, operation: OperationDefinitionNode,
                    variables: dict[str, Any]) -> list[Body]:
    """Shopify's INVALID_VARIABLE errors for the request's variables (empty: all fine)."""
    errors: list[Body] = []
    for definition in operation.variable_definitions or ():
        name = definition.variable.name.value
        type_ = type_from_ast(schema, definition.type)
        if type_ is None:
            continue
        if name not in variables and definition.default_value is not None:
            continue
        value = variables.get(name)
        problems: list[Body] = []
        _problems(value, type_, [], problems)  # type: ignore[arg-type]
        if not problems:
            continue
        detail = ", ".join(f"{'.'.join(str(p) for p in problem['path'])} "
                           f"({problem['explanation']})"
                           for problem in problems if problem["path"])
        message = f"Variable ${name} of type {type_} was provided invalid value"
        if detail:
            message += f" for {detail}"
        location = definition.loc.start_token if definition.loc else None
        errors.append({
            "message": message,
            "locations": [{"line": location.line, "column": location.column}] if location
            else [],
            "extensions": {"code": "INVALID_VARIABLE", "value": value, "problems": problems},
        })
    return errors
