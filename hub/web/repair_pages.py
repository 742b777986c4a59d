"""Repairing: dead letters (why a record was refused, what it held, send it again), the
duplicates to review (accept, reject), and splitting a contact that should not be one.

Every action is the CLI's: retrying is `hub dead-letters --retry`
(hub.ops.dead_letters.retry), reviewing and splitting are hub.matching.review's `accept`,
`reject` and `split`, which keep their own audit trail (the pair's decision and who made it,
the merge and split rows) next to the console's audit log.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from hub import contacts
from hub.matching import review
from hub.ops.dead_letters import open_counts, open_letters, retry
from hub.store.schema import contacts as contact_rows
from hub.store.schema import dead_letters
from hub.web.app import Handler, action, audited, console_of
from hub.web.search import full_name


def dead_letter_page(request: Request, *, outcome: dict[str, Any] | None = None) -> Response:
    """Unresolved dead letters, newest first, with reason and payload."""
    console = console_of(request)
    connector = request.query_params.get("connector") or None
    with console.store.begin() as conn:
        letters = open_letters(conn, limit=200, connector=connector)
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
            audited(request, conn, "dead_letter_retry", subject=connector or "all",
                    detail=result)
        return result

    return dead_letter_page(request, outcome=await run_in_threadpool(run))


REVIEW_STATUSES = ("open", "accepted", "rejected")
PAGE = 25


def _people(conn: Any, ids: set[int]) -> dict[int, dict[str, Any]]:
    """Each contact's address and name, for the two sides of a pair."""
    people = {}
    for row in conn.execute(select(contact_rows.c.id, contact_rows.c.email,
                                   contact_rows.c.fields).where(contact_rows.c.id.in_(ids))):
        people[row.id] = {"email": row.email, "name": full_name(row.fields or {})}
    return people


def duplicates_page(request: Request, *, done: str | None = None) -> Response:
    """Scored pairs to review with per-field evidence, and merges held for review."""
    console = console_of(request)
    status = request.query_params.get("status", "open")
    status = status if status in REVIEW_STATUSES else "open"
    try:
        page = max(0, int(request.query_params.get("page") or 0))
    except ValueError:
        page = 0
    pairs = review.candidates(console.store, status=status, limit=PAGE + 1, offset=page * PAGE)
    with console.store.begin() as conn:
        held = contacts.held_merges(conn)
        people = _people(conn, {c.left for c in pairs} | {c.right for c in pairs})
    return console.render(request, "duplicates.html", title="Duplicates", pairs=pairs[:PAGE],
                          more=len(pairs) > PAGE, page=page, status=status,
                          statuses=REVIEW_STATUSES, people=people, held=held, done=done)


def duplicates_index(request: Request) -> Response:
    """GET /duplicates."""
    return duplicates_page(request)


def not_possible(request: Request, error: review.ReviewError) -> Response:
    """A review action refused as asked: the reason (it names ids only), and a 400."""
    return console_of(request).render(request, "message.html", 400, title="Not possible",
                                      message=str(error))


def _review(decision: str) -> Handler:
    async def decide(request: Request, form: Any) -> Response:
        console = console_of(request)
        pair_id = request.path_params["pair_id"]
        actor = request.state.person.name

        def run() -> str:
            if decision == "accept":
                survivor = review.accept(console.store, pair_id, actor=actor)
                message = f"Pair {pair_id} accepted: the two are now contact {survivor}."
            else:
                review.reject(console.store, pair_id, actor=actor)
                message = f"Pair {pair_id} rejected: they stay apart, in every later run too."
            with console.store.begin() as conn:
                audited(request, conn, f"duplicate_{decision}", subject=f"pair {pair_id}")
            return message

        try:
            message = await run_in_threadpool(run)
        except review.ReviewError as exc:
            return not_possible(request, exc)
        return duplicates_page(request, done=message)

    decide.__name__ = f"duplicate_{decision}"
    decide.__doc__ = f"{decision.capitalize()} a scored pair (hub.matching.review.{decision})."
    return decide


async def contact_split(request: Request, form: Any) -> Response:
    """Move the ticked source records of a contact to a new contact of their own."""
    console = console_of(request)
    contact_id = request.path_params["contact_id"]
    keys = [str(k) for k in form.getlist("record")]
    actor = request.state.person.name

    def run() -> int:
        new_id = review.split(console.store, contact_id, keys, actor=actor)
        with console.store.begin() as conn:
            audited(request, conn, "contact_split", subject=f"contact {contact_id}",
                    detail={"records": len(keys), "new_contact": new_id})
        return new_id

    try:
        new_id = await run_in_threadpool(run)
    except review.ReviewError as exc:
        return not_possible(request, exc)
    return RedirectResponse(f"/contacts/{new_id}", status_code=303)


routes = [Route("/dead-letters", dead_letter_index),
          Route("/dead-letters/retry", action(dead_letter_retry), methods=["POST"]),
          Route("/duplicates", duplicates_index),
          Route("/duplicates/{pair_id:int}/accept", action(_review("accept")),
                methods=["POST"]),
          Route("/duplicates/{pair_id:int}/reject", action(_review("reject")),
                methods=["POST"]),
          Route("/contacts/{contact_id:int}/split", action(contact_split), methods=["POST"])]
