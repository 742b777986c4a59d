"""Batch operations (``/3.0/batches``): many API calls sent in one request and run later.

What the simulator does, and where each behaviour comes from:

- ``POST /3.0/batches`` takes ``{"operations": [{"method", "path", "params", "body",
  "operation_id"}]}``: "method" is the HTTP verb, "path" the operation's path relative to
  /3.0, "params" URL parameters, "body" "A string containing the JSON body to use with the
  request", "operation_id" "An optional client-supplied id returned with the operation
  results". "As long as the request fits this format, you'll receive a 200 response and a new
  batch operation resource" with ``id``, ``status`` ("Pending, preprocessing, started,
  finalizing, or finished"), ``total_operations``, ``finished_operations``,
  ``errored_operations``, ``submitted_at``, ``completed_at``, ``response_body_url``.
  (Marketing API guide "Run Async Requests with the Batch Endpoint",
  https://mailchimp.com/developer/marketing/guides/run-async-requests-batch-endpoint/, and
  its predecessor "How to use batch operations",
  https://developer.mailchimp.com/documentation/mailchimp/guides/how-to-use-batch-operations/.)
  A request that does not fit is refused whole with 400 "Invalid Resource" and an ``errors``
  array naming the field the way Mailchimp names array items (``members.item:0.status`` in a
  real answer quoted in brandonseydel/MailChimp.Net#567).
- Batches run one at a time, in the order they came: "Since only one batch request is run at a
  time, this can be used to cancel a long running request" (official client,
  mailchimp-marketing-python, ``BatchesApi.delete_request``). ``DELETE /3.0/batches/{id}``
  stops one; "The results of any completed operations will not be available after this call."
- "We now allow a user to submit up to 500 pending API batches ... A 429 status code will be
  returned in this instance." (release note "Batch API limit now considers pending batch
  webhooks", 2021-11-16,
  https://mailchimp.com/developer/release-notes/batch-api-limit-now-considers-pending-batch-webhooks/).
- The results: ``response_body_url`` points at a gzipped tar of JSON files, each an array of
  ``{"status_code", "operation_id", "response"}`` with the operation's answer as a JSON
  *string* (read that way by Mailchimp's own Magento 2 extension, mailchimp/mc-magento2
  ``Model/Api/Result.php``: it unpacks the archive and decodes every ``.json`` file's items,
  ``json_decode($item->response)``). The file is served without the API key, like the storage
  link it stands for.
- ``GET /3.0/batches`` lists them (``count`` default 10, max 1000, ``offset``; official client,
  ``BatchesApi.list``).

Settings, because no source fixes them (`BatchLimits`): how many operations a batch may hold
(none documented: mailchimp/mailchimp-client-lib-codegen#27 asked "there is any limit in the
amount of operations in one batch request? This is not stated anywhere", and the answer only
pointed to the guide), how many status reads see a batch unfinished before it finishes, how
many results go into one JSON file of the archive, and the 429's wording.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import tarfile
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from hub_sandbox.mailchimp.errors import MailchimpError, not_found

METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE")
#: Where the results archives are served: outside /3.0, as Mailchimp serves them from a
#: storage host (no API key, not counted as an API call by the sandbox's counters).
RESULTS_PATH = "/_sandbox/mailchimp/batch-results/{name}"

#: Runs one operation inside the simulator: (method, path under /3.0, query, body) →
#: (HTTP status, the answer's body as text).
Dispatch = Callable[[str, str, dict[str, str], bytes], Awaitable[tuple[int, str]]]


@dataclass
class BatchLimits:
    """The documented limit on pending batches, and the settings no source fixes."""

    #: "up to 500 pending API batches" (release note of 2021-11-16); one more answers 429.
    max_pending: int = 500
    #: [U] Operations one batch may hold; None: no limit (none is documented).
    max_operations: int | None = None
    #: [U] Status reads that see a batch still running before it finishes (0: the first read
    #: finds it finished). Real batches take seconds to minutes.
    polls_before_finished: int = 0
    #: [U] Results per JSON file in the archive (the layout of the files is not documented).
    results_per_file: int = 500
    #: [U] The 429's detail when too many batches are pending (the note gives no wording).
    pending_detail: str = "You have more than 500 pending batches."


@dataclass
class Batch:
    """One batch request and, once it ran, its results archive."""

    id: str
    operations: list[dict[str, Any]]
    submitted_at: str
    polls: int = 0
    status: str = "pending"
    completed_at: str = ""
    finished: int = 0
    errored: int = 0
    #: the results; None before the batch ran, or once its link has expired (a test sets
    #: that: how long Mailchimp keeps the file is not documented)
    archive: bytes | None = field(default=None, repr=False)

    @property
    def archive_name(self) -> str:
        """The archive's file name in `RESULTS_PATH`."""
        return f"{self.id}-response.tar.gz"


class BatchQueue:
    """The user's batches in submission order; each runs its operations through `dispatch`."""

    def __init__(self, dispatch: Dispatch, now: Callable[[], str],
                 limits: BatchLimits | None = None) -> None:
        self.dispatch = dispatch
        self.now = now
        self.limits = limits or BatchLimits()
        self.reset()

    def reset(self) -> None:
        """No batches; the id counter starts again (ids stay unique within a sandbox)."""
        self.batches: dict[str, Batch] = {}
        self._made = getattr(self, "_made", 0)

    @property
    def pending(self) -> list[Batch]:
        """Batches not finished yet, oldest first."""
        return [b for b in self.batches.values() if b.status != "finished"]

    # -- HTTP ----------------------------------------------------------------------------
    async def collection(self, request: Request) -> Any:
        """``POST /3.0/batches`` (start one) and ``GET /3.0/batches`` (list them)."""
        if request.method == "POST":
            return self.submit(await request.json())
        q = request.query_params
        count = min(int(q.get("count", 10)), 1000)
        offset = int(q.get("offset", 0))
        chosen = list(self.batches.values())
        base = str(request.base_url)
        return {"batches": [self.view(b, base) for b in chosen[offset:offset + count]],
                "total_items": len(chosen), "_links": []}

    async def item(self, request: Request) -> Any:
        """``GET /3.0/batches/{batch_id}`` (its status) and ``DELETE`` (stop it)."""
        batch = self.batches.get(request.path_params["batch_id"])
        if batch is None:
            raise not_found()
        if request.method == "DELETE":
            del self.batches[batch.id]
            return Response(status_code=204)
        batch.polls += 1
        if batch.status != "finished" and batch.polls > self.limits.polls_before_finished:
            await self.run_through(batch)
        elif batch.status != "finished":
            # the oldest unfinished batch is the one running; the others wait their turn
            batch.status = "started" if batch is self.pending[0] else "pending"
        return self.view(batch, str(request.base_url))

    async def results(self, request: Request) -> Response:
        """The archive behind ``response_body_url``; needs no key, like a storage link."""
        name = request.path_params["name"]
        batch = next((b for b in self.batches.values() if b.archive_name == name), None)
        if batch is None or batch.archive is None:
            return Response(b"<Error><Code>NoSuchKey</Code></Error>", status_code=404,
                            media_type="application/xml")
        return Response(batch.archive, media_type="application/x-gzip")

    # -- the work ------------------------------------------------------------------------
    def submit(self, body: Any) -> dict[str, Any]:
        """Check the request's shape (refused whole if it does not fit) and queue it."""
        operations = body.get("operations") if isinstance(body, dict) else None
        if not isinstance(operations, list):
            raise _invalid("operations", "Schema describes array, NULL found instead")
        limit = self.limits.max_operations
        if limit is not None and len(operations) > limit:
            raise _invalid("operations", f"Maximum of {limit} operations")
        for number, operation in enumerate(operations):
            where = f"operations.item:{number}"
            if not isinstance(operation, dict):
                raise _invalid(where, "Schema describes object, " +
                               type(operation).__name__ + " found instead")
            if operation.get("method") not in METHODS:
                raise _invalid(f"{where}.method", "Data presented is not one of the accepted "
                               "values: " + ", ".join(METHODS) + ".")
            if not isinstance(operation.get("path"), str) or not operation["path"].strip():
                raise _invalid(f"{where}.path", "This value should not be blank.")
            if "body" in operation and not isinstance(operation["body"], str):
                raise _invalid(f"{where}.body", "Schema describes string, " +
                               type(operation["body"]).__name__ + " found instead")
            params = operation.get("params")
            if params is not None and not isinstance(params, dict):
                raise _invalid(f"{where}.params", "Schema describes object, " +
                               type(params).__name__ + " found instead")
        if len(self.pending) >= self.limits.max_pending:
            raise MailchimpError(429, "Too Many Requests", self.limits.pending_detail)
        self._made += 1
        batch_id = hashlib.md5(f"batch-{self._made}".encode(),
                               usedforsecurity=False).hexdigest()[:10]
        batch = Batch(batch_id, [dict(o) for o in operations], self.now())
        self.batches[batch_id] = batch
        return self.view(batch, "")

    async def run_through(self, batch: Batch) -> None:
        """Run every unfinished batch up to and including `batch`, oldest first (one at a
        time, as Mailchimp runs them)."""
        for waiting in self.pending:
            await self._run(waiting)
            if waiting is batch:
                return

    async def run_all(self) -> None:
        """Finish every pending batch (what Mailchimp does in the background, given time)."""
        for waiting in self.pending:
            await self._run(waiting)

    async def _run(self, batch: Batch) -> None:
        results: list[dict[str, Any]] = []
        for operation in batch.operations:
            body = operation.get("body")
            params = {str(k): str(v) for k, v in (operation.get("params") or {}).items()}
            status, answer = await self.dispatch(str(operation["method"]),
                                                 str(operation["path"]), params,
                                                 body.encode() if body else b"")
            results.append({"status_code": status,
                            "operation_id": operation.get("operation_id"),
                            "response": answer})
        batch.finished = len(results)
        batch.errored = sum(1 for r in results if r["status_code"] >= 400)
        batch.status = "finished"
        batch.completed_at = self.now()
        batch.archive = _archive(results, self.limits.results_per_file)

    def view(self, batch: Batch, base_url: str) -> dict[str, Any]:
        """The batch resource as Mailchimp shows it."""
        url = ""
        if batch.status == "finished" and base_url:
            url = base_url.rstrip("/") + RESULTS_PATH.format(name=batch.archive_name)
        return {"id": batch.id, "status": batch.status,
                "total_operations": len(batch.operations),
                "finished_operations": batch.finished, "errored_operations": batch.errored,
                "submitted_at": batch.submitted_at, "completed_at": batch.completed_at,
                "response_body_url": url, "_links": []}


def _invalid(field_name: str, message: str) -> MailchimpError:
    return MailchimpError(400, "Invalid Resource", "The resource submitted could not be "
                          "validated. For field-specific details, see the 'errors' array.",
                          [{"field": field_name, "message": message}])


def _archive(results: list[dict[str, Any]], per_file: int) -> bytes:
    """A gzipped tar of JSON files, each an array of results."""
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w") as tar:
        for number, start in enumerate(range(0, max(len(results), 1), per_file)):
            data = json.dumps(results[start:start + per_file]).encode()
            info = tarfile.TarInfo(f"{number}.json")
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return gzip.compress(raw.getvalue(), mtime=0)

