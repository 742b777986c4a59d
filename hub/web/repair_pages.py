"""Repairing: dead letters (why a record was refused, what it held, send it again) and the
duplicates held for review.

Retrying is `hub dead-letters --retry` (hub.ops.dead_letters.retry), for one connector or
all: refused writes go out again at the next run, unless a newer change replaced them.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from hub import contacts
from hub.ops.dead_letters import open_counts, open_letters, retry
from hub.store.schema import dead_letters
from hub.web import audit
from hub.web.app import action, console_of


def dead_letter_page(request: Request, *, outcome: dict[str, Any] | None = None) -> Response:
    """Unresolved dead letters, newest first, with reason and payload."""
    console = console_of(request)
    connector = request.query_params.get("connector") or None
    with console.store.begin() as conn:
        letters = open_letters(conn, limit=500)
        if connector:
            letters = [letter for letter in letters if letter["connector"] == connector]
        letters = letters[:200]
        payloads = dict(conn.execute(select(dead_letters.c.id, dead_letters.c.payload).where(
            dead_letters.c.id.in_([letter["id"] for letter in letters]))).all())
        counts = open_counts(conn)
    for letter in letters:
        letter["payload"] = payloads.get(letter["id"])
    return console.render(request, "dead_letters.html", title="Dead letters", letters=letters,
                          counts=counts, connector=connector, outcome=outcome)


def dead_letter_index(request: Request) -> Response:
    """GET /dead-letters."""
    return dead_letter_page(request)


async def dead_letter_retry(request: Request, form: Any) -> Response:
    """Requeue refused writes (one connector's, or all) for the next run."""
    console = console_of(request)
    connector = str(form.get("connector") or "") or None

    def run() -> dict[str, Any]:
        now = console.clock()
        with console.store.begin() as conn:
            done = retry(conn, now=now, connector=connector)
            result = {"connector": connector, "requeued": done.requeued,
                      "superseded": done.superseded, "read_rejections": done.read_rejections}
            audit.record(conn, actor=request.state.person.name, action="dead_letter_retry",
                         at=now, subject=connector or "all", detail=result,
                         remote=request.client.host if request.client else None)
        return result

    return dead_letter_page(request, outcome=await run_in_threadpool(run))


def duplicates_page(request: Request) -> Response:
    """Merges held for review (a key shared by more records than one person has)."""
    console = console_of(request)
    with console.store.begin() as conn:
        held = contacts.held_merges(conn)
    return console.render(request, "duplicates.html", title="Duplicates", held=held)


routes = [Route("/dead-letters", dead_letter_index),
          Route("/dead-letters/retry", action(dead_letter_retry), methods=["POST"]),
          Route("/duplicates", duplicates_page)]
