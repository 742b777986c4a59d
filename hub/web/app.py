"""The console's ASGI app: the sign-in gate, security headers, CSRF and the page routes.

Every response carries a Content-Security-Policy that allows no script at all and styles
only from hub's own /static, so an injected tag can neither run nor restyle a page. Every
page but /healthz, /login and /static needs a signed-in person; every POST needs the
session's CSRF token and (but for signing in and out) the operator role.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from collections.abc import Awaitable, Callable
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from jinja2 import pass_context
from jinja2.runtime import Context
from sqlalchemy import text
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.middleware.base import BaseHTTPMiddleware, RequestResponseEndpoint
from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles
from starlette.templating import Jinja2Templates

from hub.config import parse_duration
from hub.web import audit
from hub.web.auth import Directory, Person
from hub.web.privacy import mask_deep, mask_email
from hub.web.sessions import Sessions, Throttle

if TYPE_CHECKING:
    from hub.runtime import Runtime

HERE = Path(__file__).resolve().parent
COOKIE = "hub_session"
LOGIN_COOKIE = "hub_login"
CSP = ("default-src 'none'; style-src 'self'; img-src 'self'; form-action 'self'; "
       "frame-ancestors 'none'; base-uri 'none'")
OPEN_PATHS = ("/healthz", "/login", "/static/")


class Console:
    """What every page shares: the runtime, who may sign in, the sessions, the templates."""

    def __init__(self, runtime: Runtime, clock: Callable[[], datetime]) -> None:
        section = runtime.config.config.web
        self.runtime = runtime
        self.clock = clock
        self.directory = Directory(section)
        self.sessions = Sessions(parse_duration(section.session_lifetime), clock)
        self.throttle = Throttle(section.login_attempts, parse_duration(section.login_window),
                                 clock)
        self.key = secrets.token_bytes(32)
        self.templates = Jinja2Templates(directory=str(HERE / "templates"))
        env = self.templates.env
        env.filters["email"] = _email_filter
        env.filters["masked"] = _masked_filter
        env.globals["nav"] = NAV

    @property
    def store(self) -> Any:
        """The runtime's store (opened on first use)."""
        return self.runtime.store

    def csrf_for(self, subject: str) -> str:
        """The CSRF token bound to a session (or a proxy-named person, or a login form)."""
        return hmac.new(self.key, subject.encode(), hashlib.sha256).hexdigest()

    def render(self, request: Request, template: str, status_code: int = 200,
               **context: Any) -> Response:
        """A page, with the person, their CSRF token and the navigation."""
        return self.templates.TemplateResponse(
            request, template, {"person": getattr(request.state, "person", None),
                                "csrf": getattr(request.state, "csrf", ""), **context},
            status_code=status_code)


NAV = (("/", "Overview"), ("/runs", "Runs"), ("/funnel", "Funnel"), ("/contacts", "Contacts"),
       ("/duplicates", "Duplicates"), ("/dead-letters", "Dead letters"),
       ("/consent", "Consent"), ("/audit", "Audit log"))


def _viewer(context: Context) -> bool:
    person = context.get("person")
    return not (isinstance(person, Person) and person.may_act)


@pass_context
def _email_filter(context: Context, value: Any) -> Any:
    """Addresses in a string, masked for viewers."""
    return mask_email(value) if _viewer(context) else value


@pass_context
def _masked_filter(context: Context, value: Any) -> Any:
    """Nested data (payloads, evidence) with addresses masked for viewers."""
    return mask_deep(value) if _viewer(context) else value


def console_of(request: Request) -> Console:
    """The `Console` serving this request."""
    console: Console = request.app.state.console
    return console


def audited(request: Request, conn: Any, action: str, *, subject: str | None = None,
            detail: dict[str, Any] | None = None) -> None:
    """Record `action` by the signed-in person in the audit log (in `conn`'s transaction)."""
    audit.record(conn, actor=request.state.person.name, action=action,
                 at=console_of(request).clock(), subject=subject, detail=detail,
                 remote=request.client.host if request.client else None)


def secure(request: Request) -> bool:
    """Served over TLS (directly, or by a proxy uvicorn trusts): cookies get Secure."""
    return request.url.scheme == "https"


async def _gate(request: Request, call_next: RequestResponseEndpoint) -> Response:
    console = console_of(request)
    path = request.url.path
    request.state.person = None
    request.state.csrf = ""
    if not path.startswith(OPEN_PATHS):
        person, subject = _who(console, request)
        if person is None:
            if console.directory.proxy_mode:
                return Response("the reverse proxy did not name a known user", status_code=403,
                                media_type="text/plain")
            if request.method != "GET":
                return Response("sign in first", status_code=403, media_type="text/plain")
            target = path + (f"?{request.url.query}" if request.url.query else "")
            return RedirectResponse(f"/login?next={quote(target, safe='')}", status_code=303)
        request.state.person = person
        request.state.csrf = console.csrf_for(subject)
    response = await call_next(request)
    response.headers["Content-Security-Policy"] = CSP
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["X-Frame-Options"] = "DENY"
    response.headers["Referrer-Policy"] = "same-origin"
    if not path.startswith("/static/"):
        response.headers["Cache-Control"] = "no-store"
    return response


def _who(console: Console, request: Request) -> tuple[Person | None, str]:
    directory = console.directory
    if directory.proxy_mode:
        header = directory.section.proxy_header or ""
        client = request.client.host if request.client else None
        person = directory.from_proxy(client, request.headers.get(header))
        return person, f"proxy:{person.name}" if person else ""
    token = request.cookies.get(COOKIE)
    session = console.sessions.get(token)
    if session is None:
        return None, ""
    return session.person, f"session:{token}"


def csrf_ok(request: Request, form: Any) -> bool:
    """The form sent back the CSRF token of the session it was served in."""
    sent = str(form.get("csrf") or "")
    return bool(sent) and hmac.compare_digest(sent, request.state.csrf)


Handler = Callable[[Request, Any], Awaitable[Response]]


def action(handler: Handler) -> Callable[[Request], Awaitable[Response]]:
    """A POST that changes something: CSRF token checked, operator role required."""

    async def checked(request: Request) -> Response:
        form = await request.form()
        console = console_of(request)
        if not csrf_ok(request, form):
            return console.render(request, "message.html", 403, title="Refused",
                                  message="The form's security token is missing or stale; "
                                          "reload the page and try again.")
        person: Person = request.state.person
        if not person.may_act:
            return console.render(request, "message.html", 403, title="Not allowed",
                                  message="Viewers can look but not change anything; ask an "
                                          "operator.")
        return await handler(request, form)

    checked.__name__ = handler.__name__
    checked.__doc__ = handler.__doc__
    return checked


def healthz(request: Request) -> JSONResponse:
    """Open to the orchestrator: can the store be read?"""
    try:
        with console_of(request).store.begin() as conn:
            conn.execute(text("SELECT 1"))
    except Exception as exc:
        return JSONResponse({"status": "unhealthy",
                             "reason": f"the store cannot be read: {type(exc).__name__}"},
                            status_code=503)
    return JSONResponse({"status": "ok"})


def console_app(runtime: Runtime, *, clock: Callable[[], datetime] | None = None) -> Starlette:
    """The console for `runtime`; `clock` drives sessions and the sign-in throttle."""
    from hub.web import consent_pages, contact_pages, login, ops_pages, repair_pages

    console = Console(runtime, clock or runtime.clock)
    routes = [Route("/healthz", healthz),
              *login.routes, *ops_pages.routes, *contact_pages.routes, *consent_pages.routes,
              *repair_pages.routes,
              Mount("/static", StaticFiles(directory=str(HERE / "static")), name="static")]
    app = Starlette(routes=routes,
                    middleware=[Middleware(BaseHTTPMiddleware, dispatch=_gate)])
    app.state.console = console
    return app
