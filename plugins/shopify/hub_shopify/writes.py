"""Writing a batch: every change for every customer in as few GraphQL documents as fit.

Shopify has no batch endpoint for customers, but one GraphQL document may hold many aliased
mutations, each costing 10 points, up to 1000 per document. A batch becomes one document with,
per customer, a `customerUpdate` (or `customerCreate` where config allows), a `tagsAdd` of
hub's lead tags, an e-mail consent update when hub decided one, plus one `metafieldsSet` per
25 lead metafields. hub's tags are written without reading them first: `tagsAdd` answers with
the customer's tags after the change (`node { ... on Customer { tags } }`, inside the
mutation's 10 points), and only customers that still carry an older ``hub:`` tag, i.e. whose
stage moved, get a `tagsRemove` in one more document. Only a record whose lead tags become
empty needs the current tags read first (nothing to add, so nothing answers with them).

A mutation Shopify refuses for a missing access scope (ACCESS_DENIED) rejects only the records
it served, naming the scope; the rest of the document was carried out.

Every mutation here is idempotent except `customerCreate`; a create retried after a lost
answer meets "Email has already been taken", and the existing customer is linked instead, so
the effect is the same as one create.
"""

from __future__ import annotations

import json
from collections import deque
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from hub.plugin import OutboundRecord, WriteResult, WriteStatus
from hub_shopify.customer import customer_input
from hub_shopify.graphql import CostExceeded, ShopifyAPI
from hub_shopify.queries import FIND_BY_EMAIL, TAGS
from hub_shopify.settings import ShopifySettings

MUTATION_COST = 10
#: Mutation fields per document: 99 × 10 points stays under the 1000-point cap.
MAX_FIELDS = 99
#: Shopify's limit of metafields per `metafieldsSet`.
MAX_METAFIELDS = 25
_ERRORS = "userErrors { field message }"
#: hub's consent decision → what Shopify is told. Only withdrawals and proven double opt-ins
#: travel; "pending" is the newsletter's business (Shopify would send its own confirmation).
CONSENT_STATES = {"unsubscribed": ("UNSUBSCRIBED", None), "cleaned": ("UNSUBSCRIBED", None),
                  "subscribed": ("SUBSCRIBED", "CONFIRMED_OPT_IN")}


@dataclass
class _Mutation:
    """One aliased mutation field of a document and whose record it serves."""

    #: The records it serves: one, or a whole batch for `metafieldsSet`.
    keys: tuple[str, ...]
    alias: str
    field: str
    arguments: dict[str, tuple[str, Any]]  # argument name → (GraphQL type, value)
    selection: str
    #: For a `tagsAdd`: hub's tags the customer should carry, so older ones can be removed.
    wanted: frozenset[str] | None = None


@dataclass
class _Outcome:
    """What happened to one record across its mutations."""

    status: WriteStatus = "unchanged"
    external_id: str | None = None
    problems: list[str] = field(default_factory=list)


class CustomerWrites:
    """Turns a batch of `OutboundRecord`s into mutations and the answers into results."""

    def __init__(self, api: ShopifyAPI, settings: ShopifySettings, write_fields: Sequence[str],
                 now: str) -> None:
        self.api = api
        self.settings = settings
        self.write_fields = tuple(write_fields)
        self.now = now

    def write(self, records: Sequence[OutboundRecord]) -> list[WriteResult]:
        """One answer per record, by key."""
        outcomes = {r.key: _Outcome(external_id=r.external_id) for r in records}
        mutations: list[_Mutation] = []
        metafields: list[tuple[str, dict[str, Any]]] = []
        # only records losing every hub tag need them read: nothing to add answers with them
        current = self._current_tags([r for r in records if r.external_id
                                      and "lead.tags" in r.fields
                                      and not r.fields.get("lead.tags")])
        for n, record in enumerate(records):
            outcome = outcomes[record.key]
            if record.operation == "erase":
                mutations.extend(self._erase(n, record))
                continue
            if record.operation == "delete":
                outcome.problems.append("hub does not delete shop customers (only GDPR "
                                        "erasure, `hub consent forget`)")
                continue
            if record.external_id is None:
                mutations.extend(self._create(n, record, outcome))
                continue
            mutations.extend(self._update(n, record, current.get(record.external_id)))
            metafield = self._metafield(record)
            if metafield is not None:
                metafields.append((record.key, metafield))
        for start in range(0, len(metafields), MAX_METAFIELDS):
            chunk = metafields[start:start + MAX_METAFIELDS]
            mutations.append(_Mutation(
                tuple(key for key, _item in chunk), f"lead{start}", "metafieldsSet",
                {"metafields": ("[MetafieldsSetInput!]!", [item for _key, item in chunk])},
                "metafields { id } userErrors { field message code elementIndex }"))
        stale = self._send(mutations, outcomes)
        self._send([_Mutation(m.keys, f"r{m.alias[1:]}", "tagsRemove",
                              {"id": ("ID!", customer), "tags": ("[String!]!", tags)},
                              f"node {{ id }} {_ERRORS}") for m, customer, tags in stale],
                   outcomes)
        self._link_taken(records, outcomes)
        return [self._result(r.key, outcomes[r.key]) for r in records]

    # -- planning ------------------------------------------------------------------------------
    def _erase(self, n: int, record: OutboundRecord) -> list[_Mutation]:
        """GDPR erasure: Shopify removes the personal data after its waiting period."""
        if record.external_id is None:
            return []
        return [_Mutation((record.key,), f"e{n}", "customerRequestDataErasure",
                          {"customerId": ("ID!", record.external_id)},
                          "customerId userErrors { field message code }")]

    def _create(self, n: int, record: OutboundRecord, outcome: _Outcome) -> list[_Mutation]:
        if not self.settings.create_customers:
            outcome.problems.append("hub does not create customers in this shop "
                                    "(create_customers = false)")
            return []
        data = customer_input(record.fields, ("email", *self.write_fields))
        if not data.get("email"):
            outcome.problems.append("no e-mail address to create the customer with")
            return []
        tags = record.fields.get("lead.tags")
        if tags:
            data["tags"] = list(tags)
        consent = CONSENT_STATES.get(record.consent or "")
        if consent is not None:
            data["emailMarketingConsent"] = self._consent_input(consent)
        return [_Mutation((record.key,), f"c{n}", "customerCreate",
                          {"input": ("CustomerInput!", data)}, f"customer {{ id }} {_ERRORS}")]

    def _update(self, n: int, record: OutboundRecord,
                tags: list[str] | None) -> list[_Mutation]:
        """`tags`: the customer's current tags when they were read (None: not read)."""
        customer = record.external_id
        assert customer is not None
        planned: list[_Mutation] = []
        data = customer_input(record.fields, self.write_fields)
        if data:
            planned.append(_Mutation((record.key,), f"u{n}", "customerUpdate",
                                     {"input": ("CustomerInput!", {"id": customer, **data})},
                                     f"customer {{ id }} {_ERRORS}"))
        if "lead.tags" in record.fields:
            wanted = frozenset(record.fields.get("lead.tags") or ())
            if wanted:
                # answers with the tags after adding: older hub tags are removed after that
                planned.append(_Mutation((record.key,), f"a{n}", "tagsAdd",
                                         {"id": ("ID!", customer),
                                          "tags": ("[String!]!", sorted(wanted))},
                                         f"node {{ id ... on Customer {{ tags }} }} {_ERRORS}",
                                         wanted=wanted))
            mine = {t for t in tags or () if t.startswith(self.settings.tag_prefix)}
            if mine - wanted:
                planned.append(_Mutation((record.key,), f"r{n}", "tagsRemove",
                                         {"id": ("ID!", customer),
                                          "tags": ("[String!]!", sorted(mine - wanted))},
                                         f"node {{ id }} {_ERRORS}"))
        consent = CONSENT_STATES.get(record.consent or "")
        if consent is not None and record.fields.get("email", True):
            planned.append(_Mutation(
                (record.key,), f"m{n}", "customerEmailMarketingConsentUpdate",
                {"input": ("CustomerEmailMarketingConsentUpdateInput!",
                           {"customerId": customer,
                            "emailMarketingConsent": self._consent_input(consent)})},
                "customer { id } userErrors { field message code }"))
        return planned

    def _consent_input(self, consent: tuple[str, str | None]) -> dict[str, Any]:
        state, level = consent
        data: dict[str, Any] = {"marketingState": state, "consentUpdatedAt": self.now}
        if level:
            data["marketingOptInLevel"] = level
        return data

    def _metafield(self, record: OutboundRecord) -> dict[str, Any] | None:
        if not self.settings.lead_metafield or "lead.stage" not in record.fields:
            return None
        namespace, key = self.settings.lead_metafield.split(".", 1)
        value = {name.removeprefix("lead."): record.fields[name]
                 for name in ("lead.stage", "lead.score", "lead.band") if name in record.fields}
        return {"ownerId": record.external_id, "namespace": namespace, "key": key,
                "type": "json", "value": json.dumps(value, sort_keys=True)}

    # -- sending -------------------------------------------------------------------------------
    def _current_tags(self, records: Sequence[OutboundRecord]) -> dict[str, list[str]]:
        if not records:
            return {}
        ids = [r.external_id for r in records if r.external_id]
        data = self.api.run(TAGS, {"ids": ids}, doing="reading customers' tags",
                            cost=len(ids) + 1)
        return {str(node["id"]): list(node.get("tags") or ())
                for node in data.get("nodes") or () if node}

    def _send(self, mutations: Sequence[_Mutation],
              outcomes: dict[str, _Outcome]) -> list[tuple[_Mutation, str, list[str]]]:
        """Send `mutations` in documents of at most `MAX_FIELDS`; returns, per `tagsAdd`
        whose customer still carries other hub tags, (mutation, customer id, those tags)."""
        stale: list[tuple[_Mutation, str, list[str]]] = []
        chunks = deque(mutations[start:start + MAX_FIELDS]
                       for start in range(0, len(mutations), MAX_FIELDS))
        while chunks:
            chunk = chunks.popleft()
            declared, variables, fields = [], {}, []
            for m in chunk:
                args = []
                for name, (type_, value) in m.arguments.items():
                    variable = f"{m.alias}_{name}"
                    declared.append(f"${variable}: {type_}")
                    variables[variable] = value
                    args.append(f"{name}: ${variable}")
                fields.append(f"{m.alias}: {m.field}({', '.join(args)}) {{ {m.selection} }}")
            document = f"mutation HubWrite({', '.join(declared)}) {{\n  " + \
                "\n  ".join(fields) + "\n}"
            try:
                data, denied = self.api.run_fields(document, variables,
                                                   doing="writing customers",
                                                   cost=MUTATION_COST * len(chunk))
            except CostExceeded:
                # Shopify priced the document above its cap (its rule is its own): halves
                if len(chunk) == 1:
                    raise
                half = len(chunk) // 2
                chunks.extendleft((chunk[half:], chunk[:half]))
                continue
            for m in chunk:
                if m.alias in denied:
                    for key in m.keys:
                        outcomes[key].problems.append(
                            f"{m.field}: {denied[m.alias]} — grant the scope to the custom app "
                            "(`hub check` lists what is missing)")
                    continue
                payload = data.get(m.alias) or {}
                if m.field == "metafieldsSet":
                    self._absorb_metafields(m, payload, outcomes)
                    continue
                self._absorb(m, payload, outcomes[m.keys[0]])
                node = payload.get("node") or {}
                if m.wanted is not None and not payload.get("userErrors") and node.get("id"):
                    older = sorted(t for t in node.get("tags") or ()
                                   if t.startswith(self.settings.tag_prefix)
                                   and t not in m.wanted)
                    if older:
                        stale.append((m, str(node["id"]), older))
        return stale

    @staticmethod
    def _absorb_metafields(mutation: _Mutation, payload: Mapping[str, Any],
                           outcomes: dict[str, _Outcome]) -> None:
        """`metafieldsSet` writes all or nothing; an error names its input by index."""
        errors = payload.get("userErrors") or []
        for error in errors:
            path = error.get("field") or []
            index = error.get("elementIndex")
            if index is None and len(path) > 1 and str(path[1]).isdigit():
                index = int(path[1])
            keys = [mutation.keys[index]] if isinstance(index, int) else list(mutation.keys)
            for key in keys:
                outcomes[key].problems.append(f"metafieldsSet: {error.get('message')}")
        if not errors:
            for key in mutation.keys:
                if outcomes[key].status == "unchanged":
                    outcomes[key].status = "updated"

    @staticmethod
    def _absorb(mutation: _Mutation, payload: Mapping[str, Any], outcome: _Outcome) -> None:
        errors = payload.get("userErrors") or []
        if mutation.field == "customerRequestDataErasure" and \
                any(e.get("code") == "DOES_NOT_EXIST" for e in errors):
            return  # nothing left to erase
        if errors:
            outcome.problems.extend(f"{mutation.field}: {e.get('message')}" for e in errors)
            return
        if mutation.field == "customerCreate":
            outcome.status = "created"
            outcome.external_id = str((payload.get("customer") or {}).get("id") or "") or None
        elif outcome.status == "unchanged":
            outcome.status = "updated"

    def _link_taken(self, records: Sequence[OutboundRecord],
                    outcomes: dict[str, _Outcome]) -> None:
        """A create refused as "already taken" links the customer that holds the address."""
        for record in records:
            outcome = outcomes[record.key]
            taken = [p for p in outcome.problems
                     if p.startswith("customerCreate") and "already been taken" in p]
            if record.external_id is not None or not taken or outcome.status == "created":
                continue
            email = str(record.fields.get("email") or "").replace('"', "")
            data = self.api.run(FIND_BY_EMAIL, {"query": f'email:"{email}"'},
                                doing="finding the customer that holds an address", cost=5)
            nodes = (data.get("customers") or {}).get("nodes") or []
            if len(nodes) == 1 and str(nodes[0].get("email", "")).lower() == email.lower():
                outcome.problems = [p for p in outcome.problems if p not in taken]
                outcome.status = "unchanged"
                outcome.external_id = str(nodes[0]["id"])

    @staticmethod
    def _result(key: str, outcome: _Outcome) -> WriteResult:
        if outcome.problems:
            return WriteResult(key, "rejected", external_id=outcome.external_id,
                               reason="; ".join(outcome.problems))
        return WriteResult(key, outcome.status, external_id=outcome.external_id)
