"""Consent: how many people stand in each state, the export, the ledger check, erasure.

Erasure is the one action that cannot be undone, so the form asks for the address twice,
typed (not pasted from a link): the two must agree before hub.consent.erasure runs, exactly
as `hub consent forget` would. The export and the erasure are operators' and audited; the
audit row names no address, only what was done.
"""

from __future__ import annotations

import io
from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from hub.consent import erasure, export, ledger, states
from hub.errors import HubError
from hub.web.app import action, audited, console_of


def consent_page(request: Request, *, outcome: dict[str, Any] | None = None,
                 error: str | None = None, status_code: int = 200) -> Response:
    """Counts per state, the chain check on request, export and erasure forms."""
    console = console_of(request)
    check = request.query_params.get("verify") == "1"
    with console.store.begin() as conn:
        counts = states.counts(conn)
        verification = ledger.verify(conn) if check else None
    return console.render(request, "consent.html", status_code, title="Consent",
                          counts=counts, verification=verification, outcome=outcome,
                          error=error)


def consent_index(request: Request) -> Response:
    """GET /consent."""
    return consent_page(request)


async def consent_export(request: Request, form: Any) -> Response:
    """The data-protection export as a download (CSV, or JSON with the chain's check)."""
    console = console_of(request)
    fmt = "json" if form.get("format") == "json" else "csv"

    def build() -> str:
        buffer = io.StringIO()
        with console.store.begin() as conn:
            count = export.write(conn, buffer, fmt=fmt, now=console.clock())
            audited(request, conn, "consent_export", detail={"format": fmt, "contacts": count})
        return buffer.getvalue()

    body = await run_in_threadpool(build)
    stamp = console.clock().strftime("%Y%m%d-%H%M%S")
    media = "application/json" if fmt == "json" else "text/csv; charset=utf-8"
    return Response(body, media_type=media, headers={
        "Content-Disposition": f'attachment; filename="hub-consent-{stamp}.{fmt}"'})


async def consent_erase(request: Request, form: Any) -> Response:
    """Erase a person everywhere, after the address was typed twice and both agree."""
    console = console_of(request)
    typed = str(form.get("email") or "").strip()
    confirmation = str(form.get("confirm") or "").strip()
    if not typed or typed != confirmation:
        return consent_page(request, status_code=400,
                            error="The two addresses differ: type the address to erase "
                                  "twice, exactly the same. Nothing was erased.")
    try:
        address = erasure.address_of(typed)
    except HubError:
        return consent_page(request, status_code=400,
                            error="That is not an e-mail address. Nothing was erased.")
    runtime = console.runtime

    def erase() -> dict[str, Any]:
        now = console.clock()
        deletable = erasure.deletable(runtime)
        with console.store.begin() as conn:
            done = erasure.forget(conn, address, deletable=deletable, now=now)
            audited(request, conn, "erasure", detail=done.as_dict())
        sent = erasure.propagate(runtime, sorted(done.queued), now=now)
        return {**done.as_dict(), "systems": sent}

    try:
        outcome = await run_in_threadpool(erase)
    except HubError as exc:
        return consent_page(request, status_code=500, error=f"Erasure failed: {exc}")
    return consent_page(request, outcome=outcome)


routes = [Route("/consent", consent_index),
          Route("/consent/export", action(consent_export), methods=["POST"]),
          Route("/consent/erase", action(consent_erase), methods=["POST"])]
