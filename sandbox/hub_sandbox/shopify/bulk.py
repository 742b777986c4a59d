"""Bulk operations: `bulkOperationRunQuery` → poll → a JSONL file of every matching object.

The inner query is checked with Shopify's rules (at least one connection, at most five, nesting
at most two deep, `edges { node }` rather than `nodes`, no top-level `node(s)`, a nested
connection's parent node selects `id`), only one query operation may run at a time (a second gets
Shopify's OPERATION_IN_PROGRESS userError; from API 2026-01 five may, `versions.bulk_concurrency`),
and the operation finishes deterministically: it
reports RUNNING until it has been polled `polls_to_complete` times (`currentBulkOperation`,
`node(id:)` or `bulkOperation(id:)`), then COMPLETED with a `url` to the JSONL file the sandbox
serves. 0 polls means it is COMPLETED as soon as it is created. Nested connection items become
lines of their own carrying `__parentId`, as on Shopify: right after their parent when the
operation groups objects (`groupObjects`, the default before 2026-01), else after all the root
objects (Shopify only says ungrouped children do not follow their parent; this order is one
such, and the one that catches a reader relying on grouping). A query whose fields the token's
scopes do not cover ends FAILED with errorCode ACCESS_DENIED ("The provided operation `query`
returned access denied due to missing access scopes", Shopify's BulkOperationErrorCode).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from graphql import (
    DocumentNode,
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLError,
    GraphQLSchema,
    InlineFragmentNode,
    OperationDefinitionNode,
    OperationType,
    SelectionSetNode,
    get_named_type,
    is_composite_type,
    parse,
    validate,
)

from hub_sandbox.shopify.errors import syntax_problem
from hub_sandbox.shopify.shop import gid, to_second
from hub_sandbox.shopify.validation import RULES, validation_errors
from hub_sandbox.shopify.versions import bulk_concurrency

BULK_ID_BASE = 7_700_000_000_000
ACTIVE = ("CREATED", "RUNNING", "CANCELING")
MAX_CONNECTIONS = 5
MAX_DEPTH = 2
FILE_PATH = "/_sandbox/shopify/bulk"

#: Executes a checked inner query at an API version over whole connections: (data, error codes).
Runner = Callable[[DocumentNode, str], tuple[dict[str, Any], set[str]]]
UserError = dict[str, Any]


@dataclass
class BulkOperation:
    """One bulk query and, once finished, its result file."""

    id: int
    query: str
    created_at: datetime
    document: DocumentNode
    version: str
    grouped: bool = True
    kind: str = "QUERY"
    status: str = "CREATED"
    error_code: str | None = None
    completed_at: datetime | None = None
    object_count: int = 0
    root_object_count: int = 0
    file_size: int | None = None
    polls: int = 0
    content: bytes = b""

    @property
    def gid(self) -> str:
        """`gid://shopify/BulkOperation/<id>`."""
        return gid("BulkOperation", self.id)


def _invalid(message: str) -> UserError:
    return {"field": ["query"], "message": message, "code": "INVALID"}


class _Shape:
    """What the rules need to know about an inner query's connections."""

    def __init__(self, schema: GraphQLSchema, document: DocumentNode) -> None:
        self.schema = schema
        self.fragments = {d.name.value: d for d in document.definitions
                          if isinstance(d, FragmentDefinitionNode)}
        self.connections = 0
        self.depth = 0
        self.via_nodes: list[str] = []
        self.without_id: list[str] = []

    def fields(self, selection_set: SelectionSetNode | None) -> list[FieldNode]:
        found: list[FieldNode] = []
        for selection in selection_set.selections if selection_set else ():
            if isinstance(selection, FieldNode):
                found.append(selection)
            elif isinstance(selection, InlineFragmentNode):
                found.extend(self.fields(selection.selection_set))
            elif isinstance(selection, FragmentSpreadNode):
                definition = self.fragments.get(selection.name.value)
                if definition is not None:
                    found.extend(self.fields(definition.selection_set))
        return found

    def walk(self, selection_set: SelectionSetNode | None, parent: Any, depth: int,
             parent_has_id: bool, owner: str) -> None:
        for node in self.fields(selection_set):
            definition = getattr(parent, "fields", {}).get(node.name.value)
            if definition is None:
                continue
            named = get_named_type(definition.type)
            if not is_composite_type(named):
                continue
            if not named.name.endswith("Connection"):
                self.walk(node.selection_set, named, depth, parent_has_id, owner)
                continue
            name = node.name.value
            self.connections += 1
            self.depth = max(self.depth, depth + 1)
            if depth > 0 and not parent_has_id and owner not in self.without_id:
                self.without_id.append(owner)
            item_type = get_named_type(named.fields["nodes"].type)  # type: ignore[union-attr]
            for child in self.fields(node.selection_set):
                if child.name.value == "nodes":
                    self.via_nodes.append(name)
                    self.walk(child.selection_set, item_type, depth + 1,
                              self._has_id(child.selection_set), name)
                elif child.name.value == "edges":
                    for part in self.fields(child.selection_set):
                        if part.name.value == "node":
                            self.walk(part.selection_set, item_type, depth + 1,
                                      self._has_id(part.selection_set), name)

    def _has_id(self, selection_set: SelectionSetNode | None) -> bool:
        return any(f.name.value == "id" and f.alias is None for f in self.fields(selection_set))


def check_query(schema: GraphQLSchema, text: str) -> tuple[DocumentNode | None, list[UserError]]:
    """The parsed inner query, or Shopify's userErrors explaining why it cannot run."""
    try:
        document = parse(text)
    except GraphQLError as error:
        return None, [_invalid(f"Invalid bulk query: {syntax_problem(error, text)[0]}")]
    operations = [d for d in document.definitions if isinstance(d, OperationDefinitionNode)]
    if any(op.operation != OperationType.QUERY for op in operations):
        return None, [_invalid("Invalid operation type. Only `query` operations are supported.")]
    problems = validate(schema, document, RULES)
    if problems:
        worded = validation_errors(schema, document, problems)
        return None, [_invalid(f"Invalid bulk query: {worded[0]['message']}")]
    shape = _Shape(schema, document)
    errors: list[UserError] = []
    for operation in operations:
        for root in shape.fields(operation.selection_set):
            if root.name.value in ("node", "nodes"):
                errors.append(_invalid(
                    f"Bulk queries cannot contain a top level `{root.name.value}` field."))
        shape.walk(operation.selection_set, schema.query_type, 0, True, "")
    if shape.via_nodes:
        names = ", ".join(f"'{name}'" for name in shape.via_nodes)
        errors.append(_invalid(
            "All connection fields in a bulk query must select their contents using 'edges' > "
            "'node', e.g: 'products { edges { node {'. Selecting via 'nodes' is not supported. "
            f"Invalid connection fields: {names}."))
    if shape.depth > MAX_DEPTH:
        errors.append(_invalid("Bulk queries cannot contain connections with a nesting depth "
                               f"greater than {MAX_DEPTH}."))
    if shape.connections > MAX_CONNECTIONS:
        errors.append(_invalid(
            f"Bulk queries cannot contain more than {MAX_CONNECTIONS} connections."))
    if shape.without_id:
        errors.append(_invalid(
            "The parent 'node' field for a nested connection must select the 'id' field "
            "without an alias and must be of 'ID' return type. Connection fields without "
            f"'id': {', '.join(shape.without_id)}."))
    if shape.connections == 0 and all("top level" in e["message"] for e in errors):
        errors.append(_invalid("Bulk queries must contain at least one connection."))
    return (None, errors) if errors else (document, [])


def _is_connection(value: Any) -> bool:
    return isinstance(value, dict) and isinstance(value.get("edges"), list)


def jsonl_lines(data: dict[str, Any], grouped: bool = True) -> tuple[list[dict[str, Any]], int]:
    """Result objects as JSONL lines and the root line count (see the module docstring)."""
    lines: list[dict[str, Any]] = []
    later: list[dict[str, Any]] = []

    def strip(value: Any, parent_id: Any, pending: list[tuple[Any, Any]]) -> Any:
        if isinstance(value, dict):
            kept = {}
            for key, item in value.items():
                if _is_connection(item):
                    pending.append((item, parent_id))
                else:
                    kept[key] = strip(item, parent_id, pending)
            return kept
        if isinstance(value, list):
            return [strip(item, parent_id, pending) for item in value]
        return value

    def emit(connection: dict[str, Any], parent_id: Any) -> int:
        for edge in connection["edges"]:
            node = edge.get("node") or {}
            pending: list[tuple[Any, Any]] = []
            line = strip(node, node.get("id"), pending)
            if parent_id is not None:
                line["__parentId"] = parent_id
            (lines if grouped or parent_id is None else later).append(line)
            for child, owner in pending:
                emit(child, owner)
        return len(connection["edges"])

    roots = 0
    pending_roots: list[tuple[Any, Any]] = []
    strip(data, None, pending_roots)
    for connection, _owner in pending_roots:
        roots += emit(connection, None)
    return lines + later, roots


class BulkOperations:
    """The shop's bulk operations and their result files."""

    def __init__(self, runner: Runner, now: Callable[[], datetime], *,
                 polls_to_complete: int = 1, concurrency: int | None = None) -> None:
        self.runner = runner
        self.now = now
        self.polls_to_complete = polls_to_complete
        self.concurrency = concurrency
        self.operations: dict[int, BulkOperation] = {}

    def get(self, number: int) -> BulkOperation | None:
        """The operation with this numeric id."""
        return self.operations.get(number)

    def current(self, kind: str = "QUERY") -> BulkOperation | None:
        """The newest operation of a kind (what `currentBulkOperation` shows)."""
        of_kind = [op for op in self.operations.values() if op.kind == kind]
        return max(of_kind, key=lambda op: op.id) if of_kind else None

    def start(self, query: str, schema: GraphQLSchema, version: str, *,
              grouped: bool) -> tuple[BulkOperation | None, list[UserError]]:
        """`bulkOperationRunQuery` at `version`: a CREATED operation, or the userErrors."""
        running = [op for op in self.operations.values()
                   if op.kind == "QUERY" and op.status in ACTIVE]
        if len(running) >= (self.concurrency or bulk_concurrency(version)):
            return None, [{"field": None, "code": "OPERATION_IN_PROGRESS", "message":
                           "A bulk query operation for this app and shop is already in "
                           f"progress: {running[0].gid}."}]
        document, errors = check_query(schema, query)
        if document is None:
            return None, errors
        number = BULK_ID_BASE + len(self.operations) + 1
        operation = BulkOperation(id=number, query=query, created_at=to_second(self.now()),
                                  document=document, version=version, grouped=grouped)
        self.operations[number] = operation
        if self.polls_to_complete <= 0:
            self._complete(operation)
        return operation, []

    def poll(self, operation: BulkOperation) -> None:
        """A client looked at the operation: it moves on (see the module docstring)."""
        operation.polls += 1
        if operation.status == "CANCELING":
            operation.status = "CANCELED"
            operation.completed_at = to_second(self.now())
        elif operation.status in ("CREATED", "RUNNING"):
            if operation.polls >= self.polls_to_complete:
                self._complete(operation)
            else:
                operation.status = "RUNNING"

    def _complete(self, operation: BulkOperation) -> None:
        data, codes = self.runner(operation.document, operation.version)
        if "ACCESS_DENIED" in codes:
            operation.status, operation.error_code = "FAILED", "ACCESS_DENIED"
            operation.completed_at = to_second(self.now())
            return
        lines, roots = jsonl_lines(data, operation.grouped)
        operation.content = b"".join(
            json.dumps(line, ensure_ascii=False, separators=(",", ":")).encode() + b"\n"
            for line in lines)
        operation.object_count = len(lines)
        operation.root_object_count = roots
        operation.file_size = len(operation.content)
        operation.status = "COMPLETED"
        operation.completed_at = to_second(self.now())

    def cancel(self, number: int) -> tuple[BulkOperation | None, list[UserError]]:
        """`bulkOperationCancel`: CANCELING until the next poll, then CANCELED."""
        operation = self.operations.get(number)
        if operation is None:
            return None, [{"field": ["id"], "message": "Bulk operation does not exist"}]
        if operation.status not in ("CREATED", "RUNNING"):
            return operation, [{"field": None, "message": "A bulk operation cannot be canceled "
                                f"when it is {operation.status.lower()}"}]
        operation.status = "CANCELING"
        return operation, []

    def url(self, operation: BulkOperation, base_url: str) -> str | None:
        """Where the finished file is served (None until COMPLETED, or when it is empty)."""
        if operation.status != "COMPLETED" or operation.object_count == 0:
            return None
        return f"{base_url}{FILE_PATH}/{operation.id}.jsonl"

    def file(self, number: int) -> bytes | None:
        """The JSONL content of a completed operation."""
        operation = self.operations.get(number)
        if operation is None or operation.status != "COMPLETED":
            return None
        return operation.content
