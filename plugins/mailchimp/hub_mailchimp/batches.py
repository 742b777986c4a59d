"""Many member updates in one request: Mailchimp's batch operations (``/batches``).

hub writes a member it has no consent decision for with a PATCH of its merge fields: a PATCH
never creates a member and never touches the status. Batch subscribe (``POST /lists/{id}``,
500 a call) cannot do the same job: a new address in it is created (with ``status_if_new``,
or refused for lacking a status), and Mailchimp documents no way to say "update existing
members only", so a member archived or deleted since hub last read the audience would be
added back without anyone's consent. Batch operations carry the PATCHes instead, any number
in one request, at three calls a batch: start it, read its status until it is finished,
fetch its results.

The contract (Marketing API guide "Run Async Requests with the Batch Endpoint",
https://mailchimp.com/developer/marketing/guides/run-async-requests-batch-endpoint/): each
operation has a method, a path relative to /3.0, a body as a JSON *string*, and an
``operation_id`` that comes back with its result; the batch goes ``pending`` → … →
``finished``; ``response_body_url`` then names a gzipped tar of JSON files, each an array of
``{"status_code", "operation_id", "response"}`` with the answer as a string (read that way by
Mailchimp's own Magento 2 extension, mailchimp/mc-magento2 ``Model/Api/Result.php``). The file
lives on a storage host: it is fetched without the API key.

A crash between starting a batch and reading its results loses nothing and doubles nothing:
the records stay in hub's outbox, the next run sends the same PATCHes again, and a PATCH of
the same values is idempotent. Mailchimp runs one batch at a time, in order ("Since only one
batch request is run at a time", official client, ``BatchesApi.delete_request``), so the
orphaned batch cannot land after the newer one.
"""

from __future__ import annotations

import io
import json
import tarfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import httpx

from hub.plugin import AuthenticationError, ConnectorError

#: The batch's fields a status read asks for (the rest is of no use to hub).
STATUS_FIELDS = "id,status,total_operations,finished_operations,errored_operations," \
                "response_body_url"
#: Longest wait between two status reads, seconds.
MAX_POLL_SECONDS = 30.0


class BatchUnsettled(Exception):
    """The batch gave no results this time (still running, gone, its file unreadable); the
    message says which, without anyone's data. Its records are tried again next run."""


@dataclass(frozen=True)
class Operation:
    """One call inside a batch; `operation_id` is the record's outbox key."""

    operation_id: str
    method: str
    path: str
    body: dict[str, Any]

    def payload(self) -> dict[str, Any]:
        """The operation as the batch request carries it (the body as a JSON string)."""
        return {"method": self.method, "path": self.path, "operation_id": self.operation_id,
                "body": json.dumps(self.body, separators=(",", ":"))}


@dataclass(frozen=True)
class Answer:
    """One operation's result: its HTTP status and its answer's body (decoded JSON)."""

    status: int
    body: dict[str, Any]


class BatchRun:
    """Start one batch, wait for it and read what each operation got."""

    def __init__(self, api: httpx.Client, files: Callable[[], httpx.Client], *,
                 connector: str, secret: str, poll_s: float, timeout_s: float,
                 clock: Callable[[], datetime], sleep: Callable[[float], None]) -> None:
        self.api = api
        #: a plain client for the results file (another host: it must not see the key)
        self._files = files
        self.connector = connector
        self.secret = secret
        self.poll_s = poll_s
        self.timeout_s = timeout_s
        self.clock = clock
        self.sleep = sleep

    def run(self, operations: Sequence[Operation]) -> dict[str, Answer]:
        """Each operation's answer by `operation_id`; raises `BatchUnsettled` when the batch
        gave no results in time (stopped then, so nothing of it runs later)."""
        started = self.api.post("/batches", json={
            "operations": [o.payload() for o in operations]})
        self._raise_for(started, "starting a batch of member updates")
        batch_id = str(started.json()["id"])
        finished = self._wait(batch_id)
        url = str(finished.get("response_body_url") or "")
        if not url:
            raise BatchUnsettled(f"batch {batch_id} finished without a results file")
        return self._results(batch_id, url)

    def _wait(self, batch_id: str) -> dict[str, Any]:
        deadline = self.clock() + timedelta(seconds=self.timeout_s)
        pause = self.poll_s
        while True:
            self.sleep(pause)
            response = self.api.get(f"/batches/{batch_id}", params={"fields": STATUS_FIELDS})
            if response.status_code == 404:
                raise BatchUnsettled(f"batch {batch_id} is gone (stopped in Mailchimp?)")
            self._raise_for(response, "reading a batch's status")
            body = response.json()
            if body.get("status") == "finished":
                return dict(body)
            if self.clock() >= deadline:
                # stopped, so that none of it runs after hub has given up on it
                self.api.delete(f"/batches/{batch_id}")
                raise BatchUnsettled(f"batch {batch_id} was not finished after "
                                     f"{self.timeout_s:.0f} s ({body.get('finished_operations')}"
                                     f" of {body.get('total_operations')} done); stopped it")
            pause = min(pause * 2, MAX_POLL_SECONDS)

    def _results(self, batch_id: str, url: str) -> dict[str, Answer]:
        response = self._files().get(url)
        if response.status_code >= 400:
            raise BatchUnsettled(f"the results file of batch {batch_id} answered "
                                 f"HTTP {response.status_code}")
        try:
            return read_results(response.content)
        except (tarfile.TarError, ValueError, KeyError, TypeError, EOFError, OSError):
            raise BatchUnsettled(f"the results file of batch {batch_id} is not a gzipped tar "
                                 "of JSON results") from None

    def _raise_for(self, response: httpx.Response, doing: str) -> None:
        if response.status_code == 401:
            raise AuthenticationError(f"connector {self.connector!r}: Mailchimp refused the "
                                      f"API key (secret {self.secret!r}) while {doing}")
        if response.status_code == 429 or response.status_code >= 500:
            # 429 here: 500 batches pending for this user (release note of 2021-11-16)
            raise BatchUnsettled(f"Mailchimp answered HTTP {response.status_code} while "
                                 f"{doing}")
        if response.status_code >= 400:
            raise ConnectorError(f"connector {self.connector!r}: Mailchimp refused "
                                 f"{doing}: HTTP {response.status_code} "
                                 f"{_title(response)}")


def read_results(archive: bytes) -> dict[str, Answer]:
    """The answers in a results archive, by operation id (a plain tar if the transport
    already undid the gzip)."""
    answers: dict[str, Answer] = {}
    with tarfile.open(fileobj=io.BytesIO(archive), mode="r:*") as tar:
        for member in tar.getmembers():
            if not member.isfile() or not member.name.endswith(".json"):
                continue
            handle = tar.extractfile(member)
            if handle is None:
                continue
            for item in json.loads(handle.read()):
                text = item.get("response") or ""
                body = json.loads(text) if text.strip() else {}
                answers[str(item["operation_id"])] = Answer(
                    int(item["status_code"]), body if isinstance(body, dict) else {})
    return answers


def _title(response: httpx.Response) -> str:
    try:
        return str(response.json().get("title") or "")
    except ValueError:
        return ""
