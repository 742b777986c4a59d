"""Signing in and out of the console.

The login form is protected against CSRF too (a forged login would sign the victim into the
attacker's account): a random cookie set with the form, and a token derived from it. Failed
attempts count against both the client's address and the user name, so neither guessing
many passwords for one name nor one password for many names gets far.
"""

from __future__ import annotations

import hmac
import secrets
from math import ceil

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from hub.web import audit
from hub.web.app import COOKIE, LOGIN_COOKIE, console_of, csrf_ok, secure


def _safe_next(target: str | None) -> str:
    """Only a path on this site (no //host, no scheme): no open redirect."""
    if target and target.startswith("/") and not target.startswith("//") and "\\" not in target:
        return target
    return "/"


def login_form(request: Request, *, error: str | None = None, status_code: int = 200,
               name: str = "") -> Response:
    """The sign-in page, with a fresh login cookie and its CSRF token."""
    console = console_of(request)
    if console.directory.proxy_mode:
        return console.render(request, "message.html", 404, title="No sign-in here",
                              message="This console is signed in by the reverse proxy.")
    nonce = secrets.token_urlsafe(24)
    response = console.render(request, "login.html", status_code, error=error, name=name,
                              login_csrf=console.csrf_for(f"login:{nonce}"),
                              next=_safe_next(request.query_params.get("next")))
    response.set_cookie(LOGIN_COOKIE, nonce, httponly=True, samesite="strict",
                        secure=secure(request), path="/login")
    return response


async def login(request: Request) -> Response:
    """GET: the form. POST: check the password, open a session, go where the person was."""
    if request.method == "GET":
        return login_form(request)
    console = console_of(request)
    form = await request.form()
    nonce = request.cookies.get(LOGIN_COOKIE, "")
    sent = str(form.get("csrf") or "")
    if not nonce or not hmac.compare_digest(sent, console.csrf_for(f"login:{nonce}")):
        return login_form(request, error="The form expired; sign in again.", status_code=403)
    name = str(form.get("username") or "").strip()
    password = str(form.get("password") or "")
    client = request.client.host if request.client else "unknown"
    keys = (f"addr:{client}", f"user:{name}")
    wait = console.throttle.wait(*keys)
    if wait is not None:
        response = login_form(request, status_code=429, name=name,
                              error=f"Too many failed sign-ins; try again in "
                                    f"{ceil(wait.total_seconds() / 60)} minutes.")
        response.headers["Retry-After"] = str(ceil(wait.total_seconds()))
        return response
    person = await run_in_threadpool(console.directory.check_password, name, password)

    def write_audit() -> None:
        with console.store.begin() as conn:
            audit.record(conn, actor=name[:128] or "-",
                         action="login" if person else "login_failed", at=console.clock(),
                         remote=client)

    await run_in_threadpool(write_audit)
    if person is None:
        console.throttle.failed(*keys)
        return login_form(request, error="Unknown user name or wrong password.",
                          status_code=401, name=name)
    console.throttle.succeeded(f"user:{name}")
    token = console.sessions.open(person)
    response = RedirectResponse(_safe_next(str(form.get("next") or "")), status_code=303)
    response.set_cookie(COOKIE, token, httponly=True, samesite="strict", secure=secure(request),
                        max_age=int(console.sessions.lifetime.total_seconds()))
    response.delete_cookie(LOGIN_COOKIE, path="/login")
    return response


async def logout(request: Request) -> Response:
    """Sign out (a POST with the CSRF token; viewers may sign out too)."""
    console = console_of(request)
    if not csrf_ok(request, await request.form()):
        return console.render(request, "message.html", 403, title="Refused",
                              message="The form's security token is missing or stale.")
    console.sessions.close(request.cookies.get(COOKIE))
    response = RedirectResponse("/login", status_code=303)
    response.delete_cookie(COOKIE)
    return response


routes = [Route("/login", login, methods=["GET", "POST"]),
          Route("/logout", logout, methods=["POST"])]
