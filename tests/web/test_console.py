"""The console's security and pages through Starlette's TestClient (no browser needed)."""

from __future__ import annotations

import re
import warnings
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import select

from hub.runtime import Runtime
from hub.store.schema import audit_log, contacts, dead_letters
from hub.web import console_app
from tests.web.conftest import PASSWORD, Clock, example_runtime, web_config

with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    from starlette.testclient import TestClient

PAGES = ["/", "/runs", "/runs/1", "/funnel", "/contacts", "/contacts?q=a", "/duplicates",
         "/dead-letters", "/consent", "/consent?verify=1", "/audit"]


@pytest.fixture(scope="module")
def synced(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Runtime]:
    runtime = example_runtime(tmp_path_factory.mktemp("console") / "example")
    yield runtime
    runtime.store.close()


@pytest.fixture
def fresh(tmp_path: Path, clock: Clock) -> Iterator[Runtime]:
    """An unsynced example with its own store, for tests that change or count things."""
    runtime = example_runtime(tmp_path / "example", clock=clock)
    yield runtime
    runtime.store.close()


def csrf_of(html: str, action: str = "") -> str:
    """The CSRF token of the page's first form (posting to `action`, when given)."""
    found = re.search(rf'action="{action}[^"]*"[^>]*>\s*<input type="hidden" name="csrf" '
                      r'value="([^"]*)"', html)
    assert found, "the page has no CSRF field"
    return found.group(1)


def sign_in(client: TestClient, name: str, password: str = PASSWORD, *,
            next_page: str = "/") -> object:
    form = client.get("/login")
    return client.post("/login", data={"csrf": csrf_of(form.text), "username": name,
                                       "password": password, "next": next_page},
                       follow_redirects=False)


def first_address(runtime: Runtime) -> tuple[int, str]:
    with runtime.store.begin() as conn:
        row = conn.execute(select(contacts.c.id, contacts.c.email)
                           .where(contacts.c.status == "active", contacts.c.email.is_not(None))
                           .order_by(contacts.c.id)).first()
    assert row is not None
    return row.id, row.email


def test_every_page_but_healthz_and_login_needs_a_sign_in(synced: Runtime) -> None:
    client = TestClient(console_app(synced))
    assert client.get("/healthz").json() == {"status": "ok"}
    assert client.get("/login").status_code == 200
    for page in PAGES:
        answer = client.get(page, follow_redirects=False)
        assert answer.status_code == 303, page
        assert answer.headers["location"].startswith("/login?next=")
    refused = client.post("/dead-letters/retry", data={}, follow_redirects=False)
    assert refused.status_code == 403


def test_an_operator_signs_in_and_sees_every_page(synced: Runtime) -> None:
    client = TestClient(console_app(synced))
    answer = sign_in(client, "olga", next_page="/funnel")
    assert answer.status_code == 303 and answer.headers["location"] == "/funnel"
    cookie = answer.headers["set-cookie"]
    assert "HttpOnly" in cookie and "SameSite=strict" in cookie and "Secure" not in cookie
    for page in PAGES:
        shown = client.get(page)
        assert shown.status_code == 200, page
        assert "olga (operator)" in shown.text
    _, address = first_address(synced)
    assert address in client.get(f"/contacts?q={address}").text


def test_cookies_are_secure_over_tls(synced: Runtime) -> None:
    client = TestClient(console_app(synced), base_url="https://testserver")
    assert "Secure" in sign_in(client, "olga").headers["set-cookie"]  # type: ignore[attr-defined]


def test_the_next_page_after_sign_in_stays_on_this_site(synced: Runtime) -> None:
    client = TestClient(console_app(synced))
    answer = sign_in(client, "olga", next_page="//evil.example/")
    assert answer.headers["location"] == "/"  # type: ignore[attr-defined]


def test_a_wrong_password_or_unknown_user_is_refused_and_audited(fresh: Runtime) -> None:
    client = TestClient(console_app(fresh))
    assert sign_in(client, "olga", "wrong").status_code == 401  # type: ignore[attr-defined]
    assert sign_in(client, "mallory").status_code == 401  # type: ignore[attr-defined]
    assert client.get("/", follow_redirects=False).status_code == 303
    with fresh.store.begin() as conn:
        rows = conn.execute(select(audit_log.c.actor, audit_log.c.action)).all()
    assert sorted(rows) == [("mallory", "login_failed"), ("olga", "login_failed")]


def test_sign_ins_are_rate_limited_then_forgiven(fresh: Runtime, clock: Clock) -> None:
    client = TestClient(console_app(fresh, clock=clock))
    for _ in range(3):
        assert sign_in(client, "olga", "guess").status_code == 401  # type: ignore[attr-defined]
    blocked = sign_in(client, "olga")  # even the right password waits
    assert blocked.status_code == 429  # type: ignore[attr-defined]
    assert int(blocked.headers["retry-after"]) > 0  # type: ignore[attr-defined]
    # another user from the same address is throttled too: the address counts
    assert sign_in(client, "vera").status_code == 429  # type: ignore[attr-defined]
    clock.advance(timedelta(minutes=11))
    assert sign_in(client, "olga").status_code == 303  # type: ignore[attr-defined]


def test_a_session_ends_after_its_lifetime(fresh: Runtime, clock: Clock) -> None:
    client = TestClient(console_app(fresh, clock=clock))
    sign_in(client, "olga")
    assert client.get("/", follow_redirects=False).status_code == 200
    clock.advance(timedelta(hours=8, seconds=1))
    assert client.get("/", follow_redirects=False).status_code == 303


def test_signing_out_needs_the_token_and_ends_the_session(synced: Runtime) -> None:
    client = TestClient(console_app(synced))
    sign_in(client, "olga")
    assert client.post("/logout", data={}).status_code == 403
    token = csrf_of(client.get("/").text)
    client.post("/logout", data={"csrf": token})
    assert client.get("/", follow_redirects=False).status_code == 303


def test_every_post_needs_the_csrf_token(fresh: Runtime) -> None:
    app = console_app(fresh)
    client = TestClient(app)
    sign_in(client, "olga")
    posts = [re.sub(r"\{[^}]+\}", "1", r.path) for r in app.routes
             if "POST" in (getattr(r, "methods", None) or ())]
    assert {"/dead-letters/retry", "/consent/erase", "/consent/export", "/logout",
            "/duplicates/1/accept", "/duplicates/1/reject", "/contacts/1/split"} <= set(posts)
    pairs = open_pairs(fresh)
    for path in posts:
        if path == "/login":
            continue
        assert client.post(path, data={}).status_code == 403, path
        assert client.post(path, data={"csrf": "forged"}).status_code == 403, path
    with fresh.store.begin() as conn:  # nothing happened
        assert conn.execute(select(dead_letters.c.id).where(
            dead_letters.c.resolved_at.is_not(None))).all() == []
    assert open_pairs(fresh) == pairs
    login = client.post("/login", data={"username": "olga", "password": PASSWORD})
    assert login.status_code == 403


def test_a_viewer_sees_addresses_masked_and_cannot_act(fresh: Runtime) -> None:
    client = TestClient(console_app(fresh))
    sign_in(client, "vera")
    contact_id, address = first_address(fresh)
    page = client.get(f"/contacts/{contact_id}").text
    local, domain = address.split("@")
    assert address not in page and f"{local[0]}…@{domain}" in page
    for path in ("/", "/funnel", "/dead-letters", "/runs/1", "/consent"):
        assert address not in client.get(path).text, path
    found = client.get(f"/contacts?q={address}").text  # only the viewer's own query echoes it
    assert found.count(address) == 1 and f"{local[0]}…@{domain}" in found
    token = csrf_of(page)
    assert client.post("/dead-letters/retry", data={"csrf": token}).status_code == 403
    refused = client.post("/consent/erase", data={"csrf": token, "email": address,
                                                  "confirm": address})
    assert refused.status_code == 403
    assert client.post("/consent/export", data={"csrf": token}).status_code == 403
    pairs = open_pairs(fresh)
    assert "Accept pair" not in client.get("/duplicates").text
    assert client.post(f"/duplicates/{pairs[0]}/accept", data={"csrf": token}).status_code == 403
    assert first_address(fresh) == (contact_id, address) and open_pairs(fresh) == pairs


def test_retry_and_export_are_audited_with_the_user(fresh: Runtime) -> None:
    client = TestClient(console_app(fresh))
    sign_in(client, "olga")
    token = csrf_of(client.get("/dead-letters").text, "/dead-letters/retry")
    answer = client.post("/dead-letters/retry", data={"csrf": token})
    assert answer.status_code == 200
    assert "1 refused writes go out again at the next run" in answer.text
    assert "2 records that could not be read" in answer.text  # they return when they change
    export = client.post("/consent/export", data={"csrf": token, "format": "csv"})
    assert export.headers["content-disposition"].startswith("attachment;")
    assert export.text.splitlines()[0].startswith("contact_id,email,state")
    with fresh.store.begin() as conn:
        actions = conn.execute(select(audit_log.c.actor, audit_log.c.action)
                               .order_by(audit_log.c.id)).all()
    assert actions == [("olga", "login"), ("olga", "dead_letter_retry"),
                       ("olga", "consent_export")]


def test_erasure_needs_the_address_typed_twice(fresh: Runtime) -> None:
    client = TestClient(console_app(fresh))
    sign_in(client, "olga")
    contact_id, address = first_address(fresh)
    token = csrf_of(client.get("/consent").text, "/consent/erase")
    differ = client.post("/consent/erase", data={"csrf": token, "email": address,
                                                 "confirm": "x" + address})
    assert differ.status_code == 400 and "Nothing was erased" in differ.text
    assert client.get(f"/contacts/{contact_id}").status_code == 200
    done = client.post("/consent/erase", data={"csrf": token, "email": address,
                                               "confirm": address})
    assert done.status_code == 200 and "Erased" in done.text
    assert client.get(f"/contacts/{contact_id}").status_code == 404
    with fresh.store.begin() as conn:
        entry = conn.execute(select(audit_log).where(audit_log.c.action == "erasure")).one()
    assert entry.actor == "olga" and address not in str(entry.detail)


def test_every_response_has_a_strict_csp_and_no_inline_code(synced: Runtime) -> None:
    client = TestClient(console_app(synced))
    sign_in(client, "olga")
    for page in [*PAGES, "/login", "/static/console.css", "/contacts/1"]:
        answer = client.get(page)
        csp = answer.headers["content-security-policy"]
        assert "default-src 'none'" in csp and "style-src 'self'" in csp
        assert "unsafe-inline" not in csp and "script-src" not in csp
        assert answer.headers["x-frame-options"] == "DENY"
        if answer.headers["content-type"].startswith("text/html"):
            assert "<script" not in answer.text and " style=" not in answer.text, page


def test_search_finds_by_address_name_and_phone(synced: Runtime) -> None:
    from hub.web.search import search

    with synced.store.begin() as conn:
        rows = conn.execute(select(contacts.c.id, contacts.c.email, contacts.c.fields)
                            .where(contacts.c.status == "active")).all()
        person = next(r for r in rows if r.fields.get("last_name") and r.fields.get("phone")
                      and r.fields.get("first_name"))
        fields = person.fields
        assert person.id in [h.id for h in search(conn, person.email[:5])]
        assert person.id in [h.id for h in search(conn, fields["last_name"].upper())]
        assert person.id in [h.id for h in search(
            conn, f"{fields['first_name']} {fields['last_name']}")]
        assert person.id in [h.id for h in search(conn, fields["phone"][:8])]
        national = "0" + fields["phone"][3:] if fields["phone"].startswith("+49") else None
        if national:
            assert person.id in [h.id for h in search(conn, national)]
        assert search(conn, "zzzznobody") == []


def test_proxy_mode_trusts_the_header_only_from_the_proxy(tmp_path: Path) -> None:
    web = web_config('proxy_header = "X-Remote-User"\ntrusted_proxies = ["testclient"]\n')
    runtime = example_runtime(tmp_path / "example", web=web, synced=False)
    client = TestClient(console_app(runtime))
    assert client.get("/", headers={"X-Remote-User": "olga"}).status_code == 200
    assert client.get("/", headers={"X-Remote-User": "stranger"}).status_code == 403
    assert client.get("/").status_code == 403
    untrusted = example_runtime(tmp_path / "other", synced=False, web=web_config(
        'proxy_header = "X-Remote-User"\n'))
    assert TestClient(console_app(untrusted)).get(
        "/", headers={"X-Remote-User": "olga"}).status_code == 403


def test_users_need_a_password_hash_unless_a_proxy_signs_in(tmp_path: Path) -> None:
    from hub.errors import ConfigError

    with pytest.raises(ConfigError, match="hash-password"):
        example_runtime(tmp_path / "a", synced=False,
                        web='\n[web.users.olga]\nrole = "operator"\n')
    with pytest.raises(ConfigError, match="argon2"):
        example_runtime(tmp_path / "b", synced=False,
                        web='\n[web.users.olga]\npassword_hash = "secret"\n')


def test_hash_password_prints_a_hash_that_verifies() -> None:
    from argon2 import PasswordHasher
    from typer.testing import CliRunner

    from hub.cli import app

    runner = CliRunner()
    done = runner.invoke(app, ["web", "hash-password"], input=f"{PASSWORD}\n{PASSWORD}\n")
    assert done.exit_code == 0, done.output
    digest = done.output.strip().splitlines()[-1]
    assert PasswordHasher().verify(digest, PASSWORD)
    short = runner.invoke(app, ["web", "hash-password"], input="short\nshort\n")
    assert short.exit_code == 2


def open_pairs(runtime: Runtime) -> list[int]:
    from hub.matching import review

    return [c.id for c in review.candidates(runtime.store)]


def test_duplicates_show_evidence_and_are_accepted_or_rejected(fresh: Runtime) -> None:
    from hub.store.schema import match_pairs

    client = TestClient(console_app(fresh))
    sign_in(client, "olga")
    pairs = open_pairs(fresh)
    assert len(pairs) >= 2
    page = client.get("/duplicates").text
    assert all(f"Pair {p}:" in page for p in pairs) and "first_name" in page
    first, second = pairs[0], pairs[1]
    token = csrf_of(page, f"/duplicates/{first}/accept")
    accepted = client.post(f"/duplicates/{first}/accept", data={"csrf": token})
    assert accepted.status_code == 200 and f"Pair {first} accepted" in accepted.text
    rejected = client.post(f"/duplicates/{second}/reject", data={"csrf": token})
    assert f"Pair {second} rejected" in rejected.text
    assert first not in open_pairs(fresh) and second not in open_pairs(fresh)
    with fresh.store.begin() as conn:
        decided = dict(conn.execute(select(match_pairs.c.id, match_pairs.c.actor)
                                    .where(match_pairs.c.id.in_([first, second]))).all())
        actions = conn.execute(select(audit_log.c.action, audit_log.c.subject)
                               .where(audit_log.c.action.like("duplicate_%"))
                               .order_by(audit_log.c.id)).all()
    assert decided == {first: "olga", second: "olga"}
    assert actions == [("duplicate_accept", f"pair {first}"),
                       ("duplicate_reject", f"pair {second}")]
    assert f"Pair {first}:" in client.get("/duplicates?status=accepted").text
    again = client.post(f"/duplicates/{first}/reject", data={"csrf": token})
    assert again.status_code == 400  # already merged: undone by a split, not a reject


def test_a_merged_contact_is_split_from_its_page(fresh: Runtime) -> None:
    client = TestClient(console_app(fresh))
    sign_in(client, "olga")
    pair = open_pairs(fresh)[0]
    token = csrf_of(client.get("/duplicates").text, f"/duplicates/{pair}/accept")
    answer = client.post(f"/duplicates/{pair}/accept", data={"csrf": token})
    survivor = int(re.search(r"the two are now contact (\d+)", answer.text).group(1))  # type: ignore[union-attr]
    page = client.get(f"/contacts/{survivor}").text
    keys = re.findall(r'name="record" value="([^"]+)"', page)
    fair = [k for k in keys if k.startswith("fair:")]
    assert fair and len(keys) > len(fair)
    split = client.post(f"/contacts/{survivor}/split",
                        data={"csrf": csrf_of(page, f"/contacts/{survivor}/split"),
                              "record": fair}, follow_redirects=False)
    assert split.status_code == 303
    moved = client.get(split.headers["location"]).text
    assert all(f"split off fair record {k.split(':', 1)[1]}" not in moved for k in fair)
    assert fair[0].split(":", 1)[1] in moved
    assert "fair:" not in "".join(re.findall(r'name="record" value="([^"]+)"',
                                             client.get(f"/contacts/{survivor}").text))


def test_hub_web_refuses_to_start_when_nobody_could_sign_in(tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from hub.cli import app

    example_runtime(tmp_path / "example", web="", synced=False)
    done = CliRunner().invoke(app, ["web", "--config", str(tmp_path / "example" / "config.toml"),
                                    "--port", "0"])
    assert done.exit_code == 2 and "hash-password" in done.output
