"""The Mailchimp connector: one audience, read by `last_changed`, written in batches.

Reading lists members changed since the cursor, oldest change first (so a crash resumes
where it stopped), then the archived ones (which become deletions). Consent evidence follows
docs/consent.md: only ``subscribed`` *with* an opt-in timestamp is a confirmed double opt-in.

Writing never adds anyone without hub's say-so: `OutboundRecord.consent` is hub's decision
(``subscribed`` only with DOI proof, ``pending`` for a single opt-in, which makes Mailchimp
send its confirmation mail, ``unsubscribed``). An existing member without a decision keeps
its status (only its merge fields change); a new one without a decision is refused, never
created ``pending``: that would mail someone who never asked (docs/consent.md, rule 11).
Members with a decision go by batch subscribe (500 a call); those without one by PATCHes in
one batch operation per write (`hub_mailchimp.batches`), which can update but never create.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Iterator, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any, ClassVar

import httpx
from pydantic import Field, field_validator

from hub.plugin import (
    AuthenticationError,
    Capability,
    Connector,
    ConnectorContext,
    ConnectorError,
    ConnectorSettings,
    ConsentObservation,
    Finding,
    OutboundRecord,
    Page,
    SecretRef,
    SourceRecord,
    SystemKind,
    WriteResult,
    WriteStatus,
)
from hub_mailchimp.batches import BatchRun, BatchUnsettled, Operation

#: golden field → merge tag (overridable per instance with `merge_fields`)
MERGE_TAGS = {"first_name": "FNAME", "last_name": "LNAME", "phone": "PHONE",
              "birthday": "BIRTHDAY"}
_ADDRESS = re.compile(r"[^\s@]+@[^\s@]+")
_UNDECIDED = ("not on the audience and hub has no consent decision for it: hub adds nobody "
              "to a newsletter without one (docs/consent.md, rule 11)")
_FIELDS = ("members.id,members.email_address,members.status,members.merge_fields,"
           "members.language,members.tags,members.member_rating,members.stats,"
           "members.last_changed,members.timestamp_opt,members.ip_opt,members.timestamp_signup,"
           "members.ip_signup,members.source,members.unsubscribe_reason,total_items")


class MailchimpSettings(ConnectorSettings):
    """``[connectors.NAME]`` for a Mailchimp audience."""

    api_key: SecretRef
    list_id: str
    #: None: https://<dc>.api.mailchimp.com/3.0 with the data centre from the key's suffix.
    base_url: str | None = None
    #: Mailchimp allows 10 simultaneous connections per user; stay under it.
    max_connections: int = 8
    merge_fields: dict[str, str] = Field(default_factory=dict)
    #: Merge fields that carry hub's `lead.stage` and `lead.score` (created when missing).
    lead_status_field: str = "LEADSTATUS"
    lead_score_field: str = "LEADSCORE"
    tag_prefix: str = "hub:"
    #: Re-read this much before the cursor, in case two changes share a second.
    overlap_seconds: int = 60
    #: Members without a consent decision go by batch operations: the first wait before
    #: reading the batch's status (doubling up to 30 s), and how long a batch may take before
    #: hub stops it and tries its records again next run.
    batch_poll_seconds: float = Field(default=2.0, gt=0)
    batch_timeout_seconds: float = Field(default=900.0, gt=0)

    @field_validator("max_connections")
    @classmethod
    def _under_the_limit(cls, value: int) -> int:
        if not 1 <= value <= 10:
            raise ValueError("max_connections must be 1..10 (Mailchimp allows 10)")
        return value


class MailchimpConnector(Connector):
    """``plugin = "mailchimp"``."""

    plugin = "mailchimp"
    system = SystemKind.NEWSLETTER
    Settings = MailchimpSettings
    keyed_by_email: ClassVar[bool] = True  # a list member is the MD5 of its address
    capabilities: ClassVar[frozenset[Capability]] = frozenset({
        Capability.READ_CONTACTS, Capability.WRITE_CONTACTS, Capability.READ_CONSENT,
        Capability.WRITE_CONSENT, Capability.READ_ENGAGEMENT, Capability.WRITE_LEAD_STATUS,
        Capability.DELETE_CONTACTS})
    page_size = 1000
    batch_size = 500
    #: Addresses per list of a segment's batch add/remove (Mailchimp takes 500 of each).
    segment_batch: ClassVar[int] = 500
    default_write_fields: ClassVar[tuple[str, ...]] = ("email", "first_name", "last_name",
                                                       "phone")

    def __init__(self, settings: MailchimpSettings, context: ConnectorContext) -> None:
        super().__init__(settings, context)
        self.settings: MailchimpSettings = settings
        key = context.secret(settings.api_key)
        raw = key.get_secret_value()
        if "-" not in raw and settings.base_url is None:
            raise ConnectorError(
                f"connector {self.name!r}: the API key in secret {settings.api_key.secret!r} "
                "has no data-centre suffix (like -us6); set the full key, or base_url")
        base = settings.base_url or f"https://{raw.rsplit('-', 1)[1]}.api.mailchimp.com/3.0"
        self.http = context.client(base_url=base.rstrip("/"), auth=httpx.BasicAuth("hub", raw),
                                   max_connections=settings.max_connections, timeout=120.0)
        #: results files of batch operations: another host, so no key (counted, retried)
        self.files = context.client(base_url="", timeout=120.0, max_connections=1)
        self.tags = {**MERGE_TAGS, **settings.merge_fields}
        self._lead_field_ready = False
        #: hub's tags (static segments) on the audience, name → segment id, once listed
        self._segments: dict[str, int] | None = None

    def close(self) -> None:
        """Close the HTTP clients."""
        self.http.close()
        self.files.close()

    def _list(self, suffix: str = "") -> str:
        return f"/lists/{self.settings.list_id}{suffix}"

    def check(self) -> Sequence[Finding]:
        """The key works, the audience exists and has the merge fields hub writes.

        A merge field hub writes that the audience lacks makes Mailchimp refuse every member
        written with it ("Your merge fields were invalid"); a required one hub never fills
        refuses every new member. Both are found here, before any sync.
        """
        response = self.http.get("/ping")
        if response.status_code == 401:
            raise AuthenticationError(f"connector {self.name!r}: Mailchimp refused the API key — "
                                   f"set a valid one: hub secrets set "
                                   f"{self.settings.api_key.secret}")
        response.raise_for_status()
        if self.http.get(self._list()).status_code == 404:
            raise ConnectorError(f"connector {self.name!r}: no audience with list_id = "
                                 f"{self.settings.list_id!r} — copy the id from the "
                                 "audience's settings")
        listed = self.http.get(self._list("/merge-fields"), params={"count": 1000})
        self._raise_for(listed)
        return merge_field_findings(listed.json().get("merge_fields", []), self._written_tags(),
                                    (self.settings.lead_status_field,
                                     self.settings.lead_score_field))

    def _written_tags(self) -> dict[str, str]:
        """Merge tag → the golden field hub writes into it, for this instance's fields."""
        return {tag: golden for golden, tag in self.tags.items()
                if golden in self.write_fields}

    # -- reading -------------------------------------------------------------------------
    def read(self, stream: str, cursor: str | None) -> Iterator[Page]:
        """Members changed since the cursor, then archived ones, oldest change first."""
        state: dict[str, Any] = json.loads(cursor) if cursor else {}
        for phase in ("members", "archived"):
            window = dict(state.get(phase) or {})
            since, offset = window.get("since"), int(window.get("offset", 0))
            newest = window.get("newest") or since
            while True:
                params: dict[str, Any] = {"count": self.page_size, "offset": offset,
                                          "sort_field": "last_changed", "sort_dir": "ASC",
                                          "fields": _FIELDS}
                if since:
                    params["since_last_changed"] = since
                if phase == "archived":
                    params["status"] = "archived"
                response = self.http.get(self._list("/members"), params=params)
                self._raise_for(response)
                body = response.json()
                members = body.get("members", [])
                records = [self._record(m) for m in members]
                for m in members:
                    newest = max(newest or "", m.get("last_changed") or "")
                offset += len(members)
                done = len(members) < self.page_size
                if done:
                    # next run: from the newest change seen, minus a small overlap
                    state[phase] = {"since": self._back(newest), "offset": 0, "newest": None}
                else:
                    state[phase] = {"since": since, "offset": offset, "newest": newest}
                yield Page(records=records, cursor=json.dumps(state, sort_keys=True),
                           total=body.get("total_items"))
                if done:
                    break

    def _back(self, newest: str | None) -> str | None:
        if not newest:
            return None
        moment = datetime.fromisoformat(newest) - timedelta(
            seconds=self.settings.overlap_seconds)
        return moment.astimezone(UTC).isoformat()

    def _record(self, member: dict[str, Any]) -> SourceRecord:
        merge = member.get("merge_fields") or {}
        fields: dict[str, Any] = {"email": member.get("email_address")}
        for golden, tag in self.tags.items():
            if merge.get(tag):
                fields[golden] = merge[tag]
        if member.get("language"):
            fields["language"] = member["language"]
        tags = [t["name"] for t in member.get("tags") or []
                if not t["name"].startswith(self.settings.tag_prefix)]
        if tags:
            fields["tags"] = tags
        stats = member.get("stats") or {}
        signals = {"member_rating": member.get("member_rating"),
                   "avg_open_rate": stats.get("avg_open_rate"),
                   "avg_click_rate": stats.get("avg_click_rate"),
                   "newsletter_status": member.get("status"),
                   "signup_source": member.get("source") or None}
        changed = member.get("last_changed")
        return SourceRecord(
            id=member["id"], fields=fields,
            updated_at=datetime.fromisoformat(changed) if changed else None,
            deleted=member.get("status") == "archived",
            consent=consent_of({**member, "list_id": self.settings.list_id}),
            signals={k: v for k, v in signals.items() if v is not None})

    def _raise_for(self, response: httpx.Response) -> None:
        if response.status_code == 401:
            raise AuthenticationError(f"connector {self.name!r}: Mailchimp refused the API key "
                                   f"(secret {self.settings.api_key.secret!r})")
        if response.status_code >= 400:
            raise ConnectorError(f"connector {self.name!r}: Mailchimp answered "
                                 f"{response.status_code}: {_detail(response)}")

    # -- writing -------------------------------------------------------------------------
    def write(self, records: Sequence[OutboundRecord]) -> list[WriteResult]:
        """Batch subscribe (≤ 500), then hub's tags by segment; one answer per record.

        A batch of N members costs one batch subscribe plus, per ``hub:`` tag that changes for
        any of them, one segment call (≤ 500 added and 500 removed at once): the members' own
        tags come back in the batch answer, so no member is read or tagged one by one.
        """
        results: dict[str, WriteResult] = {}
        #: the member's ``hub:`` tags as Mailchimp's answer showed them, by record key
        shown: dict[str, set[str]] = {}
        batch: list[dict[str, Any]] = []
        by_email: dict[str, OutboundRecord] = {}
        undecided: list[tuple[OutboundRecord, str]] = []
        for record in records:
            email = str(record.fields.get("email") or "").strip()
            if record.operation == "delete":
                results[record.key] = self._archive(record)
                continue
            if record.operation == "erase":
                results[record.key] = self._erase(record, email)
                continue
            if not email:
                results[record.key] = WriteResult(record.key, "rejected",
                                                  reason="no e-mail address to write")
                continue
            if record.consent is None:
                # no decision: an existing member keeps its status; nobody is added without
                # one (docs/consent.md, rule 11: not even as pending, which mails them)
                undecided.append((record, email))
                continue
            member: dict[str, Any] = {"email_address": email, "status": record.consent,
                                      "merge_fields": self._merge(record)}
            batch.append(member)
            by_email[email.lower()] = record
        if batch:
            response = self.http.post(self._list(), json={"members": batch,
                                                          "update_existing": True})
            self._raise_for(response)
            body = response.json()
            answers: tuple[tuple[str, WriteStatus], ...] = (("new_members", "created"),
                                                            ("updated_members", "updated"))
            for kind, status in answers:
                for m in body.get(kind, []):
                    sent = by_email.get(str(m.get("email_address", "")).lower())
                    if sent is not None:
                        results[sent.key] = WriteResult(sent.key, status,
                                                        external_id=m.get("id"))
                        shown[sent.key] = self._hub_tags(m)
            for error in body.get("errors", []):
                sent = by_email.get(str(error.get("email_address", "")).lower())
                if sent is not None:
                    status, reason = refusal(error)
                    results[sent.key] = WriteResult(sent.key, status, reason=reason)
        if undecided:
            results.update(self._patch(undecided, shown))
        tagging: list[tuple[OutboundRecord, str]] = []
        for record in records:
            result = results.get(record.key)
            if result is None:
                results[record.key] = WriteResult(record.key, "retry",
                                                  reason="Mailchimp gave no answer for it")
            elif result.status in ("created", "updated") and \
                    record.fields.get("lead.tags") is not None:
                tagging.append((record, str(record.fields.get("email") or "").strip()))
        for key in self._lead_tags(tagging, shown):
            done = results[key]
            results[key] = WriteResult(key, "retry", external_id=done.external_id,
                                       reason="Mailchimp did not apply hub's tags to the "
                                              "member; hub tries again next run")
        return [results[r.key] for r in records]

    def _hub_tags(self, member: dict[str, Any]) -> set[str]:
        """The member's tags that are hub's (the prefix), from a member object."""
        return {str(t.get("name")) for t in member.get("tags") or ()
                if str(t.get("name", "")).startswith(self.settings.tag_prefix)}

    def _merge(self, record: OutboundRecord) -> dict[str, str]:
        merge = {tag: str(record.fields[golden]) for golden, tag in self.tags.items()
                 if record.fields.get(golden) not in (None, "")}
        lead = {self.settings.lead_status_field: record.fields.get("lead.stage"),
                self.settings.lead_score_field: record.fields.get("lead.score")}
        if any(v is not None for v in lead.values()):
            self._ensure_lead_fields()
            merge.update({tag: str(v) for tag, v in lead.items() if v is not None})
        return merge

    def _patch(self, undecided: Sequence[tuple[OutboundRecord, str]],
               shown: dict[str, set[str]]) -> dict[str, WriteResult]:
        """Merge fields of existing members, as PATCHes in one batch operation.

        A PATCH never creates a member, so nobody is added; its answer is the member, whose
        tags go into `shown` for the segment calls. Why not batch subscribe: `hub_mailchimp
        .batches`."""
        operations = [Operation(record.key, "PATCH",
                                self._list(f"/members/{_member_id(record, email)}"),
                                {"merge_fields": self._merge(record)})
                      for record, email in undecided]
        run = BatchRun(self.http, lambda: self.files, connector=self.name,
                       secret=self.settings.api_key.secret,
                       poll_s=self.settings.batch_poll_seconds,
                       timeout_s=self.settings.batch_timeout_seconds,
                       clock=self.context.clock, sleep=self.context.sleep)
        try:
            answers = run.run(operations)
        except BatchUnsettled as exc:
            reason = f"{exc}; hub tries again next run"
            return {r.key: WriteResult(r.key, "retry", reason=reason) for r, _ in undecided}
        results: dict[str, WriteResult] = {}
        for record, _ in undecided:
            answer = answers.get(record.key)
            if answer is None:
                continue  # no result for it: write() answers "retry"
            if answer.status < 300:
                shown[record.key] = self._hub_tags(answer.body)
                results[record.key] = WriteResult(record.key, "updated",
                                                  external_id=answer.body.get("id"))
            elif answer.status == 404:
                results[record.key] = WriteResult(record.key, "rejected", reason=_UNDECIDED)
            elif answer.status == 429 or answer.status >= 500:
                results[record.key] = WriteResult(
                    record.key, "retry", reason=f"Mailchimp could not run the update (HTTP "
                    f"{answer.status}); hub tries again next run")
            else:
                status, reason = _known(_problem(answer.body, answer.status)) or (
                    "rejected", _problem(answer.body, answer.status))
                results[record.key] = WriteResult(record.key, status, reason=reason)
        return results

    def _archive(self, record: OutboundRecord) -> WriteResult:
        if record.external_id is None:
            return WriteResult(record.key, "unchanged")
        response = self.http.delete(self._list(f"/members/{record.external_id}"))
        if response.status_code in (204, 404):
            return WriteResult(record.key, "updated", external_id=record.external_id)
        return WriteResult(record.key, "rejected", reason=_detail(response))

    def _erase(self, record: OutboundRecord, email: str) -> WriteResult:
        """GDPR erasure: Mailchimp deletes the member for good and refuses re-imports."""
        member = _member_id(record, email)
        response = self.http.post(self._list(f"/members/{member}/actions/delete-permanent"))
        if response.status_code == 404:
            return WriteResult(record.key, "unchanged")
        if response.status_code >= 400:
            return WriteResult(record.key, "rejected", reason=_detail(response))
        return WriteResult(record.key, "updated", external_id=record.external_id)

    def _ensure_lead_fields(self) -> None:
        """Create the lead status and score merge fields on the audience if missing (once)."""
        if self._lead_field_ready:
            return
        listed = self.http.get(self._list("/merge-fields"), params={"count": 1000})
        self._raise_for(listed)
        present = {f["tag"] for f in listed.json().get("merge_fields", [])}
        for tag, name, kind in ((self.settings.lead_status_field, "Lead status", "text"),
                                (self.settings.lead_score_field, "Lead score", "number")):
            if tag not in present:
                self._raise_for(self.http.post(self._list("/merge-fields"),
                                               json={"tag": tag, "name": name, "type": kind}))
        self._lead_field_ready = True

    def _lead_tags(self, tagging: Sequence[tuple[OutboundRecord, str]],
                   shown: dict[str, set[str]]) -> set[str]:
        """Replace the members' ``hub:`` tags with hub's, one segment call per changed tag.

        Tags are static segments: `POST /lists/{id}/segments/{segment_id}` adds up to 500
        members and removes up to 500 in one call (Marketing API reference, "Batch add or
        remove members", https://mailchimp.com/developer/marketing/api/list-segments/batch-add-or-remove-members/),
        where the member endpoint's tags take one call per member. Returns the keys of the
        records Mailchimp reported as not tagged.
        """
        adding: dict[str, list[str]] = {}
        removing: dict[str, list[str]] = {}
        key_of: dict[str, str] = {}
        for record, email in tagging:
            wanted = set(record.fields.get("lead.tags") or ())
            mine = shown.get(record.key, set())
            key_of[email.lower()] = record.key
            for tag in sorted(wanted - mine):
                adding.setdefault(tag, []).append(email)
            for tag in sorted(mine - wanted):
                removing.setdefault(tag, []).append(email)
        missed: set[str] = set()
        step = self.segment_batch
        for tag in sorted(set(adding) | set(removing)):
            segment = self._segment_id(tag)
            add, remove = adding.get(tag, []), removing.get(tag, [])
            for start in range(0, max(len(add), len(remove)), step):
                response = self.http.post(
                    self._list(f"/segments/{segment}"),
                    json={"members_to_add": add[start:start + step],
                          "members_to_remove": remove[start:start + step]})
                self._raise_for(response)
                for error in response.json().get("errors") or ():
                    missed.update(key_of[a.lower()] for a in error.get("email_addresses") or ()
                                  if a.lower() in key_of)
        return missed

    def _segment_id(self, tag: str) -> int:
        """The id of the static segment (tag) called `tag`, created empty when missing.

        The audience's static segments are listed once per connector (1000 a page)."""
        if self._segments is None:
            found: dict[str, int] = {}
            offset = 0
            while True:
                listed = self.http.get(self._list("/segments"), params={
                    "type": "static", "count": 1000, "offset": offset,
                    "fields": "segments.id,segments.name,total_items"})
                self._raise_for(listed)
                body = listed.json()
                page = body.get("segments") or []
                found.update({str(s["name"]): int(s["id"]) for s in page})
                offset += len(page)
                if not page or offset >= int(body.get("total_items") or 0):
                    break
            self._segments = found
        if tag not in self._segments:
            created = self.http.post(self._list("/segments"),
                                     json={"name": tag, "static_segment": []})
            self._raise_for(created)
            self._segments[tag] = int(created.json()["id"])
        return self._segments[tag]


def consent_of(member: dict[str, Any]) -> tuple[ConsentObservation, ...]:
    """docs/consent.md for Mailchimp: subscribed is a confirmed DOI only with its opt-in time."""
    status = member.get("status")
    evidence = {k: str(member[k]) for k in ("ip_signup", "timestamp_signup", "ip_opt",
                                            "timestamp_opt", "source") if member.get(k)}
    evidence["list_id"] = str(member.get("list_id", ""))
    changed = _when(member.get("last_changed"))
    if status == "subscribed":
        confirmed = _when(member.get("timestamp_opt"))
        if confirmed is not None:
            return (ConsentObservation("doi_confirmed", confirmed, evidence=evidence),)
        signed = _when(member.get("timestamp_signup")) or changed
        return (ConsentObservation("single_opt_in", signed, evidence=evidence),)
    if status == "pending":
        return (ConsentObservation("doi_requested", changed, evidence=evidence),)
    if status == "unsubscribed":
        reason = member.get("unsubscribe_reason")
        if reason:
            evidence["reason"] = str(reason)
        return (ConsentObservation("opt_out", changed, evidence=evidence),)
    if status == "cleaned":
        return (ConsentObservation("bounce", changed, evidence=evidence),)
    return ()


def merge_field_findings(fields: Sequence[dict[str, Any]], written: dict[str, str],
                         created: Sequence[str]) -> list[Finding]:
    """What the audience's merge fields lack for hub's writes (`check()`).

    `written`: merge tag → golden field hub writes there. `created`: tags hub adds itself
    when missing (the lead status and score), so their absence is no finding.
    """
    present = {str(f.get("tag")): f for f in fields}
    findings = [Finding("problem", "merge field",
                        f"the audience has no merge field {tag}, which hub writes {golden} "
                        f"into: add it in Mailchimp (Audience > Settings > Audience fields), "
                        f"or map {golden} to another tag with merge_fields, or leave it out "
                        f"of write_fields")
                for tag, golden in sorted(written.items()) if tag not in present]
    findings += [Finding("problem", "merge field",
                         f"the audience requires merge field {tag}, which hub does not write: "
                         f"Mailchimp would refuse every new member; make it optional in "
                         f"Mailchimp or map a golden field to it with merge_fields")
                 for tag, field in sorted(present.items())
                 if field.get("required") and tag not in written and tag not in created]
    return findings


#: Batch subscribe's per-member `error_code` is ERROR_CONTACT_EXISTS or ERROR_GENERIC; the
#: text tells the generic ones apart (Mailchimp's own wording, quoted from real answers).
_REFUSALS: tuple[tuple[str, WriteStatus, str], ...] = (
    ("looks fake or invalid", "rejected",
     "Mailchimp refuses the address as fake or invalid (it refuses reserved domains such as "
     "example.com, disposable and role addresses): correct the address at its source"),
    ("compliance state", "rejected",
     "the member is unsubscribed or cleaned in Mailchimp, which cannot be set back to "
     "subscribed by API; only the person can re-subscribe (a confirmation mail)"),
    ("permanently deleted", "rejected",
     "the address was permanently deleted from the audience and Mailchimp refuses to "
     "re-import it; the person must sign up again themselves"),
    ("signed up to a lot of lists", "retry",
     "Mailchimp's sign-up abuse guard refuses the address for now; hub tries again next run"),
    ("merge fields were invalid", "rejected",
     "the audience refused the merge fields (a required field is empty or a field is "
     "missing): `hub check` lists what the audience lacks"),
)


def refusal(error: dict[str, Any]) -> tuple[WriteStatus, str]:
    """What one batch-subscribe error means for that record, without quoting the address.

    ERROR_CONTACT_EXISTS comes only when a batch does not update existing members; hub
    always asks it to, so seeing one means this member was not written: try it again.
    """
    text = str(error.get("error") or "")
    if error.get("error_code") == "ERROR_CONTACT_EXISTS":
        return "retry", "Mailchimp answered that the member exists without updating it"
    return _known(text) or ("rejected", f"Mailchimp refused the member: "
                                         f"{_ADDRESS.sub('<address>', text) or '?'}")


def _known(text: str) -> tuple[WriteStatus, str] | None:
    """The status and reason for a refusal worded as one of `_REFUSALS`, else None."""
    lowered = text.lower()
    return next(((status, reason) for phrase, status, reason in _REFUSALS
                 if phrase in lowered), None)


def _member_id(record: OutboundRecord, email: str) -> str:
    """The member's id in the audience: known from a read, else the MD5 of the address."""
    return record.external_id or hashlib.md5(
        email.lower().encode(), usedforsecurity=False).hexdigest()


def _when(value: Any) -> datetime | None:
    if not value:
        return None
    try:
        return datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    except ValueError:
        return None


def _detail(response: httpx.Response) -> str:
    try:
        body = response.json()
    except ValueError:
        return f"HTTP {response.status_code}"
    text = _problem(body if isinstance(body, dict) else {}, response.status_code)
    known = _known(text)
    return known[1] if known is not None else text


def _problem(body: dict[str, Any], status: int) -> str:
    """A Problem-JSON answer in words, without the address Mailchimp quotes in its details."""
    text = str(body.get("detail") or body.get("title") or f"HTTP {status}")
    return _ADDRESS.sub("<address>", text)
