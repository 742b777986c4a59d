"""Looking someone up: search, and one contact's whole story on one page.

The story is what `hub contacts explain` and `hub consent show` print (hub.contacts,
hub.lifecycle.evaluation, hub.consent.ledger): golden fields with where each came from,
the source records, the score rule by rule, the stage history and the consent trail with
its evidence, each ledger entry checked against the seal the chain keeps of it.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from hub import contacts
from hub.consent import ledger
from hub.lifecycle import evaluation
from hub.pipeline.engine import lifecycle_of
from hub.pipeline.merge import Survivorship
from hub.store.schema import consent_ledger
from hub.store.schema import contacts as contact_rows
from hub.web import search
from hub.web.app import console_of

GOLDEN = ("email", "first_name", "last_name", "phone", "company", "job_title", "street", "zip",
          "city", "region", "country", "birthday", "language")


def contact_search(request: Request) -> Response:
    """Search by e-mail (or its start), name or phone."""
    console = console_of(request)
    query = request.query_params.get("q", "").strip()[:200]
    hits: list[search.Hit] = []
    if query:
        region = console.runtime.config.config.hub.default_region
        with console.store.begin() as conn:
            hits = search.search(conn, query, default_region=region)
    return console.render(request, "contacts.html", title="Contacts", query=query, hits=hits)


def sealed(conn: Any, trail: list[dict[str, Any]]) -> dict[int, str]:
    """Per ledger entry: "intact", "erased" or "changed" (its personal part against its seal)."""
    ids = [e["id"] for e in trail]
    result: dict[int, str] = {}
    for row in conn.execute(select(consent_ledger).where(consent_ledger.c.id.in_(ids))):
        if row.erased_at is not None:
            result[row.id] = "erased"
        else:
            intact = ledger.subject_hash(dict(row._mapping)) == row.subject_hash
            result[row.id] = "intact" if intact else "changed"
    return result


def contact_detail(request: Request) -> Response:
    """One contact: fields and provenance, records, score, stage history, consent trail."""
    console = console_of(request)
    runtime = console.runtime
    contact_id = request.path_params["contact_id"]
    with console.store.begin() as conn:
        row = conn.execute(select(contact_rows.c.status, contact_rows.c.merged_into)
                           .where(contact_rows.c.id == contact_id)).first()
        if row is None:
            return console.render(request, "message.html", 404, title="No such contact",
                                  message=f"There is no contact {contact_id} (it may have "
                                          "been erased).")
        if row.status == "merged" and row.merged_into is not None:
            return RedirectResponse(f"/contacts/{row.merged_into}", status_code=303)
        story = contacts.explain(conn, contact_id, Survivorship(runtime.config.config.merge))
        lead = evaluation.explain(conn, contact_id, lifecycle_of(runtime), console.clock())
        trail = ledger.trail(conn, contact_id)
        seals = sealed(conn, trail)
    view = story["contact"]
    golden = [(f, view.get(f), view["provenance"].get(f)) for f in GOLDEN if view.get(f)]
    return console.render(request, "contact.html", title=f"Contact {contact_id}",
                          view=view, golden=golden, story=story, lead=lead, trail=trail,
                          seals=seals)


routes = [Route("/contacts", contact_search),
          Route("/contacts/{contact_id:int}", contact_detail)]
