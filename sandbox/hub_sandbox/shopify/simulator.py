"""Shopify Admin GraphQL simulator: `POST /admin/api/{version}/graphql.json`.

A real GraphQL server (graphql-core over `schema.graphql`): clients send their own
selections, aliases, fragments and variables and get Shopify's answers, including its error
shapes, its calculated query cost in `extensions.cost` and its leaky-bucket throttle (THROTTLED
with HTTP 200). Customers and their orders are seeded from `person.shopify`. Bulk operations
produce JSONL files served under `/_sandbox/shopify/bulk/<id>.jsonl`.

Every API version is served with its own schema (`reference`, `versions`): a request for a
version past its support window is answered by the oldest supported one, and the
`X-Shopify-API-Version` header says which. The token carries chosen access scopes (`scopes`);
fields they do not cover are refused with ACCESS_DENIED.

What the simulator decides where Shopify's behaviour is not documented is a `ShopifyLimits`
setting; the defaults are the documented (or most commonly observed) values.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from functools import cache
from typing import Any, ClassVar

from graphql import (
    DocumentNode,
    ExecutionResult,
    FragmentDefinitionNode,
    GraphQLError,
    GraphQLSchema,
    execute,
    get_operation_ast,
    parse,
    validate,
)
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from hub_sandbox.people import Person
from hub_sandbox.shopify.bulk import FILE_PATH, BulkOperations
from hub_sandbox.shopify.cost import ActualCost, CostBucket, RequestedCost
from hub_sandbox.shopify.errors import (
    MISSING_QUERY,
    NOT_FOUND,
    UNAUTHORIZED,
    Body,
    internal_error,
    max_cost_exceeded,
    parse_error,
    throttled,
)
from hub_sandbox.shopify.mutations import MUTATION_RESOLVERS
from hub_sandbox.shopify.resolvers import READ_RESOLVERS, Context
from hub_sandbox.shopify.schema import load_schema
from hub_sandbox.shopify.scopes import SCOPES, ScopeGuard
from hub_sandbox.shopify.shop import Shop, to_second
from hub_sandbox.shopify.validation import RULES, validation_errors, variable_errors
from hub_sandbox.shopify.versions import SERVED, answering

log = logging.getLogger(__name__)

#: Restore rate (points per second) of the GraphQL Admin API by the shop's plan, as currently
#: documented (https://shopify.dev/docs/apps/build/apis/graphql-admin/rate-limits).
PLAN_RESTORE_RATES = {"standard": 100.0, "advanced": 200.0, "plus": 1000.0,
                      "enterprise": 2000.0}
#: Bucket size as a multiple of the restore rate [U]: the docs give no sizes; a captured
#: Standard answer showed `maximumAvailable: 2000, restoreRate: 100` (another one 7500 at 100).
BUCKET_SECONDS = 20.0


@cache
def schema_at(version: str) -> GraphQLSchema:
    """The executable schema of one served version (built once per process)."""
    return load_schema(version, {**READ_RESOLVERS, **MUTATION_RESOLVERS})


def _utc_now() -> datetime:
    return datetime.now(UTC)


@dataclass
class ShopifyLimits:
    """The shop's credentials, limits and the behaviours the docs leave open.

    Defaults are the documented values; the ones marked [U] (undocumented, or
    observed differently across API versions) are settings here.
    """

    token: str = "shpat_sandbox"
    shop: str = "hub-sandbox.myshopify.com"
    shop_name: str = "Hub Sandbox"
    #: Region for phone numbers given without a country code.
    shop_country: str = "DE"
    currency: str = "EUR"
    #: The version `hub sandbox serve` suggests: the newest served one.
    api_version: str = SERVED[-1]
    #: The day whose support calendar decides which versions answer as themselves (None: now).
    calendar_at: datetime | None = None
    #: The token's access scopes (default: every scope the sandbox knows).
    scopes: frozenset[str] = field(default_factory=lambda: frozenset(SCOPES))
    max_page_size: int = 250
    #: A single query may cost at most this much (MAX_COST_EXCEEDED above).
    max_query_cost: int = 1000
    #: `nodes(ids:)` costs one object per id (True), or one object whatever the ids (False)
    #: [U: Shopify documents objects at 1 and a query at "the maximum of possible fields
    #: selected", not the price of `nodes` itself; see `hub_sandbox.shopify.cost`].
    nodes_cost_per_id: bool = True
    #: The shop's plan: it sets the restore rate (`PLAN_RESTORE_RATES`).
    plan: str = "standard"
    #: Leaky bucket overrides (None: from the plan; the size is a [U] multiple of the rate).
    bucket_size: float | None = None
    restore_rate: float | None = None
    rate_limit: bool = True
    #: Multiplies the restore rate (10 = ten times Shopify's pace) for demos and benchmarks.
    rate_scale: float = 1.0
    #: A bulk operation completes on this poll (0: as soon as it is created).
    bulk_polls_to_complete: int = 1
    #: Query bulk operations allowed at once (None: the version's, 1 before 2026-01, then 5).
    bulk_concurrency: int | None = None
    #: Shopify carries out an erasure request after a waiting period [U].
    erasure_delay: timedelta = timedelta(days=10)
    #: Consent update for a customer without e-mail: a userError (True), or a silent no-op as
    #: API 2026-04 was observed to answer (False) [U].
    consent_requires_email: bool = True
    #: The namespace a metafield gets when the client names none (`$app` on Shopify).
    app_namespace: str = "app--hub-sandbox"

    def __post_init__(self) -> None:
        if self.plan not in PLAN_RESTORE_RATES:
            raise ValueError(f"Shopify plan {self.plan!r} is not one of "
                             f"{', '.join(PLAN_RESTORE_RATES)}")

    @property
    def rate(self) -> float:
        """Points restored per second."""
        return self.restore_rate or PLAN_RESTORE_RATES[self.plan]

    @property
    def bucket(self) -> float:
        """Points the bucket holds."""
        return self.bucket_size or self.rate * BUCKET_SECONDS


class ShopifySimulator:
    """The Shopify Admin GraphQL API over an in-memory shop."""

    system: ClassVar[str] = "shopify"

    def __init__(self, people: Sequence[Person], *, limits: ShopifyLimits | None = None,
                 clock: Callable[[], float] = time.monotonic,
                 now: Callable[[], datetime] = _utc_now) -> None:
        self.limits = limits or ShopifyLimits()
        self.clock = clock
        self.now = now
        self._lock = threading.RLock()
        self._requests = 0
        self.reset(people)

    # the simulator contract ------------------------------------------------------------------

    def reset(self, people: Sequence[Person]) -> None:
        """Back to the seeded state: shop, throttle bucket and bulk operations."""
        with self._lock:
            self.shop = Shop(people, currency=self.limits.currency)
            self.bucket = CostBucket(self.limits.bucket,
                                     self.limits.rate * self.limits.rate_scale, self.clock)
            #: Points the executed queries cost (actual cost, after refunds): what the
            #: restore rate has to make up for, the benchmark's time floor.
            self.points_spent = 0
            self.bulk = BulkOperations(self._run_bulk,
                                       lambda: to_second(self.now()),
                                       polls_to_complete=self.limits.bulk_polls_to_complete,
                                       concurrency=self.limits.bulk_concurrency)

    def routes(self) -> list[BaseRoute]:
        """The GraphQL endpoint and the bulk result files."""
        return [
            Route("/admin/api/{version}/graphql.json", self._graphql, methods=["POST"]),
            Route(FILE_PATH + "/{number:int}.jsonl", self._bulk_file, methods=["GET"]),
        ]

    def credentials(self, base_url: str) -> dict[str, str]:
        """What `hub sandbox serve --json` prints for Shopify."""
        return {"base_url": base_url, "shop": self.limits.shop, "token": self.limits.token,
                "api_version": self.limits.api_version}

    def summary(self) -> dict[str, int]:
        """Counts for `/_sandbox/stats`."""
        with self._lock:
            return {"customers": len(self.shop.customers), "orders": len(self.shop.orders),
                    "points_spent": self.points_spent}

    def rate_limited_response(self, requested_cost: int = 1) -> Response:
        """The THROTTLED answer a 429 storm sends: HTTP 200, as Shopify throttles GraphQL."""
        with self._lock:
            return JSONResponse(throttled(self._cost(requested_cost, None)))

    # HTTP ------------------------------------------------------------------------------------

    def answering(self, version: str) -> str | None:
        """The version that answers a request for `version` today (None: 404)."""
        return answering(version, self.limits.calendar_at or self.now())

    async def _graphql(self, request: Request) -> Response:
        version = self.answering(request.path_params["version"])
        if version is None:
            return JSONResponse(NOT_FOUND, status_code=404)
        if request.headers.get("x-shopify-access-token") != self.limits.token:
            return JSONResponse(UNAUTHORIZED, status_code=401)
        parsed = _request_body(request.headers.get("content-type", ""), await request.body())
        if parsed is None:
            return JSONResponse(MISSING_QUERY, status_code=400)
        query, variables, operation_name = parsed
        base_url = str(request.base_url).rstrip("/")
        body = self.execute(query, variables, operation_name, base_url=base_url, version=version)
        return JSONResponse(body, headers={"X-Shopify-API-Version": version})

    async def _bulk_file(self, request: Request) -> Response:
        with self._lock:
            content = self.bulk.file(request.path_params["number"])
        if content is None:
            return JSONResponse(NOT_FOUND, status_code=404)
        return Response(content, media_type="application/jsonl")

    # GraphQL ---------------------------------------------------------------------------------

    def execute(self, query: str, variables: dict[str, Any] | None = None,
                operation_name: str | None = None, *,
                base_url: str = "http://127.0.0.1", version: str | None = None) -> Body:
        """Answer one GraphQL request exactly as the endpoint does once auth has passed.

        `version` is the answering version (default: the one `limits.api_version` falls to).
        """
        version = version or self.answering(self.limits.api_version) or SERVED[-1]
        schema = schema_at(version)
        with self._lock:
            self._requests += 1
            now = to_second(self.now())
            self.shop.apply_due_erasures(now)
            try:
                document = parse(query)
            except GraphQLError as error:
                return {"errors": [parse_error(error, query)]}
            problems = validate(schema, document, RULES)
            if problems:
                return {"errors": validation_errors(schema, document, problems)}
            operation = get_operation_ast(document, operation_name)
            if operation is None:
                message = f'No operation named "{operation_name}"' if operation_name \
                    else "An operation name is required"
                return {"errors": [{"message": message}]}
            variables = variables or {}
            invalid = variable_errors(schema, operation, variables)
            if invalid:
                return {"errors": invalid}
            fragments = {d.name.value: d for d in document.definitions
                         if isinstance(d, FragmentDefinitionNode)}
            per_id = self.limits.nodes_cost_per_id
            requested = RequestedCost(schema, fragments, variables, per_id=per_id).of(operation)
            if requested > self.limits.max_query_cost:
                return max_cost_exceeded(requested, self.limits.max_query_cost,
                                         self._cost(requested, None))
            if self.limits.rate_limit and not self.bucket.take(requested):
                return throttled(self._cost(requested, None))
            actual = ActualCost(per_id=per_id)
            context = Context(self.shop, self.limits, now, base_url, self.bulk, version)
            result = execute(schema, document, context_value=context,
                             variable_values=variables, operation_name=operation_name,
                             middleware=[actual, ScopeGuard(self.limits.scopes)])
            assert isinstance(result, ExecutionResult)
            self.points_spent += actual.total
            if self.limits.rate_limit:
                self.bucket.refund(requested - actual.total)
            body: Body = {}
            if result.errors:
                body["errors"] = [self._format(error) for error in result.errors]
            body["data"] = result.data
            body["extensions"] = {"cost": self._cost(requested, actual.total)}
            return body

    def _run_bulk(self, document: DocumentNode, version: str) -> tuple[dict[str, Any], set[str]]:
        """A bulk operation's inner query over whole connections (no cost, no throttle)."""
        context = Context(self.shop, self.limits, to_second(self.now()), "", self.bulk, version,
                          unbounded=True)
        result = execute(schema_at(version), document, context_value=context,
                         middleware=[ScopeGuard(self.limits.scopes)])
        assert isinstance(result, ExecutionResult)
        codes = set()
        for error in result.errors or ():
            codes.add(str((error.extensions or {}).get("code")))
            log.warning("bulk query error: %s", error.message)
        return result.data or {}, codes

    def _cost(self, requested: int, actual: int | None) -> Body:
        return {"requestedQueryCost": requested, "actualQueryCost": actual,
                "throttleStatus": self.bucket.status()}

    def _format(self, error: GraphQLError) -> Body:
        original = error.original_error
        if original is not None and not isinstance(original, GraphQLError):
            log.error("resolver failed at %s", error.path, exc_info=original)
            body = internal_error(f"sandbox-{self._requests}")
            if error.path:
                body["path"] = list(error.path)
            return body
        return dict(error.formatted)


def _request_body(content_type: str,
                  raw: bytes) -> tuple[str, dict[str, Any] | None, str | None] | None:
    """(query, variables, operationName) of a JSON or `application/graphql` body."""
    if content_type.startswith("application/graphql"):
        text = raw.decode("utf-8", errors="replace")
        return (text, None, None) if text.strip() else None
    try:
        data = json.loads(raw or b"null")
    except ValueError:
        return None
    if not isinstance(data, dict) or not isinstance(data.get("query"), str):
        return None
    variables = data.get("variables")
    if isinstance(variables, str):
        try:
            variables = json.loads(variables) if variables.strip() else None
        except ValueError:
            return None
    if variables is not None and not isinstance(variables, dict):
        return None
    operation_name = data.get("operationName")
    return data["query"], variables, operation_name if isinstance(operation_name, str) else None
