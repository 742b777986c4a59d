"""Calculated query cost and the leaky bucket that spends it, as Shopify's Admin API does.

The formula (Shopify documents its parts; the sandbox applies them literally):

- a scalar or enum field costs 0; an object field (or a list of objects) costs 1 plus its
  selections;
- a connection costs 2 plus `first` (or `last`) times the cost of one item, where one item is
  the `edges { node }` object (1 + its selections) plus the `nodes` object (1 + its selections);
  `edges`, `cursor` and `pageInfo` are free. Nested connections therefore multiply:
  `customers(first: 10) { nodes { orders(first: 5) { nodes { id } } } }` costs
  2 + 10 * (1 + (2 + 5 * 1)) = 82;
- a mutation field costs 10, which covers its payload object and the payload's direct object
  fields (`customer`, `node`, `userErrors`); objects nested deeper cost as above;
- on abstract types (`node(id:) { ... on Customer { } ... on Order { } }`) the dearest branch
  counts;
- `nodes(ids:)` costs one object (1 plus its dearest branch) per id asked for, like a
  connection's `first` items but without the connection's 2. Shopify's page prices a query at
  "the maximum of possible fields selected", an object at 1 and a connection "sized by `first`
  and `last` arguments"; a list of up to 250 objects named by id is that many possible
  objects, not one. No Shopify page states the price of `nodes` itself, so this is a setting
  (`ShopifyLimits.nodes_cost_per_id`; False prices the whole list as one object).

Sources: "GraphQL Admin API rate limits", https://shopify.dev/docs/apps/build/apis/graphql-admin/
rate-limits ("Every field in the schema has an integer cost value assigned to it. The cost of a
query is the maximum of possible fields selected." — Scalar 0, Enum 0, Object 1, Interface and
Union "Maximum of possible selections", Connection "Sized by `first` and `last` arguments",
Mutation 10); Shopify Engineering, "Rate Limiting GraphQL APIs by Calculating Query
Complexity", https://shopify.engineering/rate-limiting-graphql-apis-calculating-query-complexity
(objects one point, connections two points plus the objects returned, mutations ten points).

The *requested* cost is computed from the document before execution and reserved from the
bucket; the *actual* cost counts what was really returned (a page of 3 customers costs 2 + 3)
and the difference is refunded. Shopify's real numbers (e.g. 12 for a `customerCreate` that
selects `customer { defaultEmailAddress { emailAddress } defaultPhoneNumber { phoneNumber } }`)
come out the same.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from graphql import (
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLCompositeType,
    GraphQLInt,
    GraphQLObjectType,
    GraphQLResolveInfo,
    GraphQLSchema,
    InlineFragmentNode,
    OperationDefinitionNode,
    OperationType,
    SelectionSetNode,
    get_named_type,
    is_composite_type,
    is_list_type,
    is_non_null_type,
    is_object_type,
    value_from_ast,
)

MUTATION_COST = 10
CONNECTION_COST = 2
#: Root list fields sized by an input list, by field name: the argument that sizes them.
SIZED_LISTS = {"nodes": "ids"}


def _is_connection(type_: Any) -> bool:
    return bool(get_named_type(type_).name.endswith("Connection"))


class RequestedCost:
    """The cost of an operation computed from its document and variables."""

    def __init__(self, schema: GraphQLSchema, fragments: dict[str, FragmentDefinitionNode],
                 variables: dict[str, Any], *, per_id: bool = True) -> None:
        self.schema = schema
        self.fragments = fragments
        self.variables = variables
        #: `nodes(ids:)` costs one object per id (True) or one object in all (False).
        self.per_id = per_id

    def of(self, operation: OperationDefinitionNode) -> int:
        """Cost of the whole operation."""
        root = self.schema.get_root_type(operation.operation)
        if root is None:
            return 0
        if operation.operation == OperationType.MUTATION:
            return sum(self._mutation(field, root) for field in self._fields(
                operation.selection_set, root))
        return self._selections(operation.selection_set, root)

    def _fields(self, selection_set: SelectionSetNode,
                parent: GraphQLCompositeType) -> list[FieldNode]:
        fields: list[FieldNode] = []
        for selection in selection_set.selections:
            if isinstance(selection, FieldNode):
                fields.append(selection)
            else:
                inner = self._fragment(selection)
                if inner is not None:
                    fields.extend(self._fields(inner[0], parent))
        return fields

    def _fragment(self, node: Any) -> tuple[SelectionSetNode, str | None] | None:
        if isinstance(node, InlineFragmentNode):
            condition = node.type_condition.name.value if node.type_condition else None
            return node.selection_set, condition
        if isinstance(node, FragmentSpreadNode):
            definition = self.fragments.get(node.name.value)
            if definition is None:
                return None
            return definition.selection_set, definition.type_condition.name.value
        return None

    def _selections(self, selection_set: SelectionSetNode | None,
                    parent: GraphQLCompositeType) -> int:
        """Sum of the fields; of type-conditioned branches only the dearest counts."""
        if selection_set is None:
            return 0
        common, branches = 0, dict[str, int]()
        for selection in selection_set.selections:
            if isinstance(selection, FieldNode):
                common += self._field(selection, parent)
                continue
            inner = self._fragment(selection)
            if inner is None:
                continue
            inner_set, condition = inner
            target = self.schema.get_type(condition) if condition else parent
            if not is_composite_type(target):
                continue
            cost = self._selections(inner_set, target)
            if condition is None or is_object_type(parent) or target is parent:
                common += cost
            else:
                branches[condition] = branches.get(condition, 0) + cost
        return common + max(branches.values(), default=0)

    def _definition(self, node: FieldNode, parent: GraphQLCompositeType) -> Any:
        fields = getattr(parent, "fields", {})
        return fields.get(node.name.value)

    def _field(self, node: FieldNode, parent: GraphQLCompositeType) -> int:
        definition = self._definition(node, parent)
        if definition is None:
            return 0
        named = get_named_type(definition.type)
        if not is_composite_type(named):
            return 0
        if _is_connection(definition.type):
            return CONNECTION_COST + self._page_size(node) * self._item(node, named)
        each = 1 + self._selections(node.selection_set, named)
        sized_by = SIZED_LISTS.get(node.name.value)
        if self.per_id and sized_by is not None and parent is self.schema.query_type:
            return self._list_size(node, sized_by, definition) * each
        return each

    def _list_size(self, node: FieldNode, name: str, definition: Any) -> int:
        """How many items the list argument `name` asks for (its variable's value, or a
        literal list)."""
        for argument in node.arguments or ():
            if argument.name.value == name:
                value = value_from_ast(argument.value, definition.args[name].type,
                                       self.variables)
                if isinstance(value, list):
                    return len(value)
        return 1

    def _item(self, node: FieldNode, connection: Any) -> int:
        """Cost of one connection item: `edges { node }` plus `nodes`."""
        total = 0
        for child in self._fields(node.selection_set, connection) if node.selection_set else []:
            definition = self._definition(child, connection)
            if definition is None:
                continue
            if child.name.value == "nodes":
                total += 1 + self._selections(child.selection_set,
                                              get_named_type(definition.type))
            elif child.name.value == "edges" and child.selection_set:
                edge = get_named_type(definition.type)
                for part in self._fields(child.selection_set, edge):
                    if part.name.value == "node":
                        node_type = get_named_type(edge.fields["node"].type)
                        total += 1 + self._selections(part.selection_set, node_type)
        return total

    def _page_size(self, node: FieldNode) -> int:
        for argument in node.arguments or ():
            if argument.name.value in ("first", "last"):
                value = value_from_ast(argument.value, GraphQLInt, self.variables)
                if isinstance(value, int):
                    return max(value, 0)
        return 0

    def _mutation(self, node: FieldNode, root: GraphQLObjectType) -> int:
        definition = root.fields.get(node.name.value)
        if definition is None:
            return 0
        payload = get_named_type(definition.type)
        cost = MUTATION_COST
        for child in self._fields(node.selection_set, payload) if node.selection_set else []:
            child_cost = self._field(child, payload)
            child_def = self._definition(child, payload)
            if child_def is not None and is_composite_type(get_named_type(child_def.type)) \
                    and not _is_connection(child_def.type):
                child_cost -= 1  # the payload's own objects are covered by the 10
            cost += child_cost
        return cost


class ActualCost:
    """graphql-core middleware counting the cost of what the resolvers actually returned."""

    def __init__(self, *, per_id: bool = True) -> None:
        self.total = 0
        #: `nodes(ids:)` costs one object per node found (True) or one in all (False).
        self.per_id = per_id

    def resolve(self, next_: Callable[..., Any], root: Any, info: GraphQLResolveInfo[Any],
                **args: Any) -> Any:
        """Resolve the field, then add its cost."""
        mutation_root = info.operation.operation == OperationType.MUTATION \
            and info.path.prev is None
        if mutation_root:
            self.total += MUTATION_COST
        result = next_(root, info, **args)
        if not mutation_root:
            self.total += self._cost(info, result, self.per_id)
        return result

    @staticmethod
    def _cost(info: GraphQLResolveInfo[Any], result: Any, per_id: bool) -> int:
        if result is None or info.field_name.startswith("__") \
                or info.parent_type.name.startswith("__"):
            return 0  # introspection is free
        return_type = info.return_type
        named = get_named_type(return_type)
        if not is_composite_type(named):
            return 0
        parent_name = info.parent_type.name
        name = info.field_name
        if parent_name.endswith("Connection"):
            if name == "nodes":
                return len(result)
            return 0  # edges, pageInfo
        if parent_name.endswith("Edge") and name == "node":
            return 1
        if parent_name == "PageInfo":
            return 0
        in_payload = info.operation.operation == OperationType.MUTATION \
            and info.path.prev is not None and info.path.prev.prev is None
        if _is_connection(return_type):
            return CONNECTION_COST
        if in_payload:
            return 0
        if is_list_type(return_type) or (is_non_null_type(return_type)
                                         and is_list_type(return_type.of_type)):
            if per_id and name in SIZED_LISTS and info.path.prev is None:
                return sum(1 for item in result if item is not None)
            return 1 if result else 0
        return 1


class CostBucket:
    """The per-app leaky bucket: spends requested cost, refunds the unused part, refills."""

    def __init__(self, size: float, restore_rate: float, clock: Callable[[], float]) -> None:
        self.size = float(size)
        self.restore_rate = float(restore_rate)
        self.clock = clock
        self.available = self.size
        self._last = clock()

    def _refill(self) -> None:
        now = self.clock()
        self.available = min(self.size, self.available + (now - self._last) * self.restore_rate)
        self._last = now

    def take(self, cost: int) -> bool:
        """Reserve `cost` if the bucket holds it; False means THROTTLED."""
        self._refill()
        if cost > self.available:
            return False
        self.available -= cost
        return True

    def refund(self, amount: int) -> None:
        """Give back what a query reserved but did not use."""
        self.available = min(self.size, self.available + max(amount, 0))

    def status(self) -> dict[str, float]:
        """`throttleStatus` as it stands now."""
        self._refill()
        return {"maximumAvailable": self.size, "currentlyAvailable": round(self.available, 1),
                "restoreRate": self.restore_rate}
