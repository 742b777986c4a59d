"""Writing contacts in HubSpot's batches (100 inputs) and answering once per record.

Upserts go by e-mail (``batch/upsert`` with ``idProperty=email``), so writing the same record
twice finds the contact the first write created. A record without an e-mail but with a known
HubSpot id is updated by id; a delete archives (HubSpot's recycle bin).

HubSpot refuses a whole batch for one invalid value (400 VALIDATION_ERROR). One bad record
must not block 99 good ones: the batch is retried without the inputs the error points at (its
context, or a value the message quotes). A suspect is only convicted when the rest then goes
through; suspects that cannot be told apart, or errors that point at nothing, are narrowed
down by halving. A 207 multi-status answers per input and is taken as it is.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

import httpx

from hub.plugin import OutboundRecord, WriteResult, WriteStatus
from hub_hubspot.mapping import PropertyMap, UnmappedField
from hub_hubspot.responses import Account, message
from hub_hubspot.throttle import error_body

UPSERT = "/crm/v3/objects/contacts/batch/upsert"
UPDATE = "/crm/v3/objects/contacts/batch/update"
ARCHIVE = "/crm/v3/objects/contacts/batch/archive"
READ = "/crm/v3/objects/contacts/batch/read"
GDPR_DELETE = "/crm/v3/objects/contacts/gdpr-delete"
MAX_INPUTS = 100
#: Answers that concern the inputs, not the account: the batch is split, not the run stopped.
RECORD_LEVEL = frozenset({400, 404, 409, 422})

Kind = Literal["upsert", "update"]


@dataclass(frozen=True)
class Input:
    """One record as one batch input: `ident` is the e-mail (upsert) or the contact id."""

    record: OutboundRecord
    ident: str
    properties: Mapping[str, str]


class ContactBatch:
    """The writer of one connector instance."""

    def __init__(self, client: httpx.Client, account: Account, mapping: PropertyMap) -> None:
        self._client = client
        self._account = account
        self._map = mapping

    def write(self, records: Sequence[OutboundRecord]) -> list[WriteResult]:
        """One answer per record key, in the order the keys first appear."""
        answers: dict[str, WriteResult] = {}
        upserts: list[Input] = []
        updates: list[Input] = []
        deletes: list[OutboundRecord] = []
        email_prop = self._map.email_property
        for record in records:
            if record.operation == "delete":
                deletes.append(record)
                continue
            if record.operation == "erase":
                answers[record.key] = self._erase(record)
                continue
            try:
                properties = self._map.properties(record.fields)
            except UnmappedField as exc:
                answers[record.key] = WriteResult(record.key, "rejected", reason=str(exc))
                continue
            email = str(record.fields.get("email") or "").strip()
            if email:
                upserts.append(Input(record, email, properties))
            elif record.external_id:
                properties = {k: v for k, v in properties.items() if k != email_prop}
                updates.append(Input(record, record.external_id, properties))
            else:
                answers[record.key] = WriteResult(record.key, "rejected", reason=(
                    "the record has neither an e-mail nor a HubSpot id, so HubSpot can neither "
                    "find nor de-duplicate the contact"))
        self._reset_stages(r for r in records if r.fields.get("lead.reset") and r.external_id
                           and "lead.stage" in r.fields and r.key not in answers)
        for part in _rounds(upserts):
            answers.update(self._send("upsert", part, trust_hints=True))
        for part in _rounds(updates):
            answers.update(self._send("update", part, trust_hints=True))
        if deletes:
            answers.update(self._archive(deletes))
        order = dict.fromkeys(r.key for r in records)
        return [answers[key] for key in order]

    def _reset_stages(self, records: Iterable[OutboundRecord]) -> None:
        """Clear `lifecyclestage` first where ops moved a contact back (``lead.reset``).

        HubSpot ignores a backward stage; cleared in a request of its own, the write that
        follows sets the earlier stage (the documented workaround).
        """
        ids = sorted({str(r.external_id) for r in records})
        for start in range(0, len(ids), MAX_INPUTS):
            inputs = [{"id": i, "properties": {"lifecyclestage": ""}}
                      for i in ids[start:start + MAX_INPUTS]]
            response = self._client.post(UPDATE, json={"inputs": inputs})
            self._account.check(response, "clearing lifecycle stages")
            if response.status_code not in (200, 207) and \
                    response.status_code not in RECORD_LEVEL:
                raise self._account.unexpected(response, "clearing lifecycle stages")

    # -- upsert / update ---------------------------------------------------------------------
    def _send(self, kind: Kind, inputs: Sequence[Input], *,
              trust_hints: bool) -> dict[str, WriteResult]:
        path, what = (UPSERT, "a batch upsert") if kind == "upsert" else (UPDATE, "a batch update")
        response = self._client.post(path, json={"inputs": [self._input(kind, i) for i in inputs]})
        self._account.check(response, what)
        if response.status_code in (200, 201, 207):
            return self._settle(kind, inputs, error_body(response))
        if response.status_code not in RECORD_LEVEL:
            raise self._account.unexpected(response, what)
        reason = _reason(response)
        if len(inputs) == 1:
            return {inputs[0].record.key: _rejected(inputs[0], reason)}
        error = error_body(response)
        suspects = _offenders([error, *_list(error.get("errors"))], inputs) if trust_hints else []
        if not 0 < len(suspects) < len(inputs):
            half = len(inputs) // 2
            return {**self._send(kind, inputs[:half], trust_hints=True),
                    **self._send(kind, inputs[half:], trust_hints=True)}
        rest = [item for n, item in enumerate(inputs) if n not in suspects]
        answers = self._send(kind, rest, trust_hints=True)
        accused = [inputs[n] for n in suspects]
        if len(accused) == 1:
            answers[accused[0].record.key] = _rejected(accused[0], reason)
        else:
            answers.update(self._send(kind, accused, trust_hints=False))
        return answers

    def _input(self, kind: Kind, item: Input) -> dict[str, Any]:
        if kind == "upsert":
            return {"id": item.ident, "idProperty": self._map.email_property,
                    "properties": dict(item.properties)}
        return {"id": item.ident, "properties": dict(item.properties)}

    def _settle(self, kind: Kind, inputs: Sequence[Input],
                body: Mapping[str, Any]) -> dict[str, WriteResult]:
        """Per-input answers of a 200/207: results matched by e-mail or id, errors by context."""
        by_ident = {item.ident.lower(): item for item in inputs}
        answers: dict[str, WriteResult] = {}
        email_prop = self._map.email_property
        loose: list[Mapping[str, Any]] = []
        for result in _list(body.get("results")):
            ident = (str((result.get("properties") or {}).get(email_prop) or "")
                     if kind == "upsert" else str(result.get("id") or ""))
            item = by_ident.get(ident.lower())
            if item is None or item.record.key in answers:
                loose.append(result)
                continue
            answers[item.record.key] = _written(item, result)
        pending = [i for i in inputs if i.record.key not in answers]
        if loose and len(loose) == len(pending) and not body.get("errors"):
            # results that do not name their input: HubSpot answers in input order
            for item, result in zip(pending, loose, strict=True):
                answers[item.record.key] = _written(item, result)
        for error in _list(body.get("errors")):
            pending = [i for i in inputs if i.record.key not in answers]
            hit = _offenders([error], pending)
            if not hit and len(pending) == 1:
                hit = [0]
            text = f"HubSpot rejected the contact ({error.get('category') or 'error'}): " \
                   f"{error.get('message') or error}"
            for n in hit:
                answers[pending[n].record.key] = WriteResult(
                    pending[n].record.key, "rejected", external_id=pending[n].record.external_id,
                    reason=text[:1000])
        for item in inputs:
            if item.record.key not in answers:
                answers[item.record.key] = WriteResult(
                    item.record.key, "retry", external_id=item.record.external_id,
                    reason="HubSpot's batch answer did not mention this contact")
        return answers

    # -- archive ------------------------------------------------------------------------------
    def _archive(self, records: Sequence[OutboundRecord]) -> dict[str, WriteResult]:
        answers: dict[str, WriteResult] = {}
        ids: dict[str, str] = {r.key: r.external_id for r in records if r.external_id}
        by_email = {str(r.fields.get("email")).strip().lower(): r for r in records
                    if not r.external_id and r.fields.get("email")}
        if by_email:
            found = self._ids_by_email(list(by_email))
            for email, record in by_email.items():
                if email in found:
                    ids[record.key] = found[email]
                else:
                    answers[record.key] = WriteResult(record.key, "unchanged", reason=(
                        "no HubSpot contact has this e-mail; nothing to archive"))
        for record in records:
            if record.key not in ids and record.key not in answers:
                answers[record.key] = WriteResult(record.key, "rejected", reason=(
                    "cannot archive a contact with neither a HubSpot id nor an e-mail"))
        if ids:
            response = self._client.post(
                ARCHIVE, json={"inputs": [{"id": i} for i in dict.fromkeys(ids.values())]})
            self._account.check(response, "a batch archive")
            if response.status_code not in (200, 204):
                raise self._account.unexpected(response, "a batch archive")
            answers.update({key: WriteResult(key, "updated", external_id=contact_id)
                            for key, contact_id in ids.items()})
        return answers

    def _ids_by_email(self, emails: Sequence[str]) -> dict[str, str]:
        found: dict[str, str] = {}
        email_prop = self._map.email_property
        for start in range(0, len(emails), MAX_INPUTS):
            part = emails[start:start + MAX_INPUTS]
            response = self._client.post(READ, json={
                "idProperty": email_prop, "properties": [email_prop],
                "inputs": [{"id": e} for e in part]})
            self._account.check(response, "a batch read by e-mail")
            if response.status_code == 404:
                continue
            if response.status_code not in (200, 207):
                raise self._account.unexpected(response, "a batch read by e-mail")
            for result in _list(error_body(response).get("results")):
                email = str((result.get("properties") or {}).get(email_prop) or "").lower()
                if email and result.get("id"):
                    found[email] = str(result["id"])
        return found

    def _erase(self, record: OutboundRecord) -> WriteResult:
        """GDPR delete by e-mail (or by id when hub only knows that)."""
        email = str(record.fields.get("email") or "").strip()
        body: dict[str, str] = {"objectId": email, "idProperty": self._map.email_property} \
            if email else {"objectId": str(record.external_id)}
        response = self._client.post(GDPR_DELETE, json=body)
        self._account.check(response, "a GDPR delete")
        if response.status_code == 404:
            return WriteResult(record.key, "unchanged")
        if response.status_code not in (200, 204):
            return WriteResult(record.key, "rejected",
                               reason=f"HubSpot refused the GDPR delete: {_reason(response)}")
        return WriteResult(record.key, "updated", external_id=record.external_id)

    def gdpr_delete(self, email: str) -> bool:
        """Permanently delete the contact with `email` (GDPR); False when there is none."""
        response = self._client.post(GDPR_DELETE, json={
            "objectId": email, "idProperty": self._map.email_property})
        self._account.check(response, "a GDPR delete")
        if response.status_code == 404:
            return False
        if response.status_code not in (200, 204):
            raise self._account.unexpected(response, "a GDPR delete")
        return True


def _rounds(inputs: Sequence[Input]) -> Iterator[list[Input]]:
    """Batches of at most 100 in which no e-mail/id appears twice (HubSpot refuses that)."""
    pending = list(inputs)
    while pending:
        seen: set[str] = set()
        part: list[Input] = []
        later: list[Input] = []
        for item in pending:
            ident = item.ident.lower()
            if ident in seen or len(part) >= MAX_INPUTS:
                later.append(item)
            else:
                seen.add(ident)
                part.append(item)
        yield part
        pending = later


def _written(item: Input, result: Mapping[str, Any]) -> WriteResult:
    status: WriteStatus = "created" if result.get("new") is True else "updated"
    contact_id = str(result.get("id") or "") or item.record.external_id
    return WriteResult(item.record.key, status, external_id=contact_id)


def _rejected(item: Input, reason: str) -> WriteResult:
    return WriteResult(item.record.key, "rejected", external_id=item.record.external_id,
                       reason=reason)


def _reason(response: httpx.Response) -> str:
    body = error_body(response)
    category = body.get("category") or "error"
    return f"HubSpot rejected the contact ({response.status_code} {category}): " \
           f"{message(response)}"


def _list(value: Any) -> list[Mapping[str, Any]]:
    return [v for v in value if isinstance(v, Mapping)] if isinstance(value, list) else []


def _strings(value: Any) -> Iterator[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, Mapping):
        for inner in value.values():
            yield from _strings(inner)
    elif isinstance(value, list | tuple):
        for inner in value:
            yield from _strings(inner)


def _indexes(value: Any) -> Iterator[int]:
    """Integers under keys that name an input position (``inputIndex``, ``index``)."""
    if isinstance(value, Mapping):
        for key, inner in value.items():
            if "index" in str(key).lower():
                items = inner if isinstance(inner, list) else [inner]
                yield from (int(i) for i in items if isinstance(i, int | str)
                            and str(i).isdigit())
            else:
                yield from _indexes(inner)
    elif isinstance(value, list):
        for inner in value:
            yield from _indexes(inner)


def _offenders(errors: Sequence[Mapping[str, Any]], inputs: Sequence[Input]) -> list[int]:
    """Positions in `inputs` that the errors point at (context ids, quoted values)."""
    hits: set[int] = set()
    for error in errors:
        context = error.get("context")
        tokens = {s.strip().lower() for s in _strings(context)}
        hits.update(n for n, item in enumerate(inputs) if item.ident.lower() in tokens)
        hits.update(i for i in _indexes(context) if 0 <= i < len(inputs))
        text = str(error.get("message") or "")
        for problem in _property_problems(text):
            name = str(problem.get("name") or "")
            said = str(problem.get("message") or "")
            for n, item in enumerate(inputs):
                value = item.properties.get(name, "")
                if _quotes(said, value) or _quotes(said, item.ident):
                    hits.add(n)
        for n, item in enumerate(inputs):
            if _quotes(text, item.ident):
                hits.add(n)
    return sorted(hits)


def _property_problems(text: str) -> list[Mapping[str, Any]]:
    """The JSON list in "Property values were not valid: [...]", if the message has one."""
    start = text.find("[")
    if start < 0:
        return []
    try:
        problems = json.loads(text[start:])
    except ValueError:
        return []
    return _list(problems)


def _quotes(text: str, value: str) -> bool:
    """True when `text` mentions `value` as a whole token (not inside a longer word)."""
    if len(value) < 3:
        return False
    pattern = r"(?<![\w.@+-])" + re.escape(value) + r"(?![\w@+-]|\.\w)"
    return re.search(pattern, text, re.IGNORECASE) is not None
