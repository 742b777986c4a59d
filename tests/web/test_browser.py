"""The console in a real browser: Debian's chromium driven by Playwright.

One browser for the session, one console server for the module (hub's CSV example, synced,
with one refused write). Every page is screenshotted into the test's temporary folder; with
HUB_SCREENSHOTS=docs/screenshots two of them are copied there for the README.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import expect
from sqlalchemy import select

from hub.ops.serving import ServedApp, serve_in_thread
from hub.runtime import Runtime
from hub.store.schema import contacts, dead_letters
from hub.web import console_app
from tests.web.conftest import PASSWORD, example_runtime

CHROMIUM = Path("/usr/bin/chromium")
FLAGS = ["--no-sandbox", "--headless", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync"]
PAGES = {"overview": "/", "runs": "/runs", "run": "/runs/1", "funnel": "/funnel",
         "contacts": "/contacts?q=m", "contact": "/contacts/1", "duplicates": "/duplicates",
         "dead-letters": "/dead-letters", "consent": "/consent", "audit": "/audit"}
#: The two screenshots the README shows.
FOR_README = ("overview", "duplicates")


@pytest.fixture(scope="session")
def browser() -> Iterator[Any]:
    if not CHROMIUM.exists():
        reason = f"{CHROMIUM} is missing: bin/setup --dev installs Debian's chromium"
        if os.environ.get("CI"):
            pytest.fail(reason)
        pytest.skip(reason)
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=str(CHROMIUM), args=FLAGS)
        yield chromium
        chromium.close()


@pytest.fixture(scope="module")
def console(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[ServedApp, Runtime]]:
    runtime = example_runtime(tmp_path_factory.mktemp("browser") / "example")
    served = serve_in_thread(console_app(runtime))
    yield served, runtime
    served.stop()
    runtime.store.close()


def signed_in(browser: Any, base_url: str, name: str) -> Any:
    """A fresh browser context (own cookies) with `name` signed in, on the overview."""
    context = browser.new_context(base_url=base_url, viewport={"width": 1280, "height": 860})
    page = context.new_page()
    page.goto("/")
    assert page.url.endswith("/login?next=%2F")
    page.fill("#username", name)
    page.fill("#password", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(re.compile(r"/$"))
    return page


def test_sign_in_and_every_page(browser: Any, console: tuple[ServedApp, Runtime],
                                tmp_path_factory: pytest.TempPathFactory) -> None:
    served, _ = console
    page = signed_in(browser, served.base_url, "olga")
    errors: list[str] = []
    page.on("console", lambda message: errors.append(message.text)
            if message.type == "error" else None)
    shots = tmp_path_factory.mktemp("screenshots")
    for name, path in PAGES.items():
        answer = page.goto(path)
        assert answer is not None and answer.status == 200, path
        assert page.locator("h1").count() == 1
        expect(page.get_by_text("olga (operator)")).to_be_visible()
        page.screenshot(path=str(shots / f"{name}.png"), full_page=True)
    assert errors == []  # no CSP violation, no missing asset
    page.goto("/")
    assert page.locator("svg.chart").count() == 2
    target = os.environ.get("HUB_SCREENSHOTS")
    if target:
        folder = Path(target)
        folder.mkdir(parents=True, exist_ok=True)
        for name in FOR_README:
            page.goto(PAGES[name])
            page.screenshot(path=str(folder / f"console-{name}.png"))
    assert sorted(p.stem for p in shots.iterdir()) == sorted(PAGES)
    page.context.close()


def test_retry_a_dead_letter(browser: Any, console: tuple[ServedApp, Runtime]) -> None:
    served, runtime = console
    page = signed_in(browser, served.base_url, "olga")
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Dead letters").click()
    expect(page.get_by_text("the export rule refuses this contact")).to_be_visible()
    page.get_by_role("button", name="Retry export").click()
    expect(page.get_by_text("1 refused writes go out again at the next run")).to_be_visible()
    expect(page.get_by_text("the export rule refuses this contact")).to_have_count(0)
    with runtime.store.begin() as conn:
        assert conn.execute(select(dead_letters.c.resolved_at).where(
            dead_letters.c.connector == "export")).scalar_one() is not None
    page.context.close()


def test_accept_and_reject_a_duplicate(browser: Any,
                                       console: tuple[ServedApp, Runtime]) -> None:
    from hub.matching import review

    served, runtime = console
    first, second = [c.id for c in review.candidates(runtime.store)][:2]
    page = signed_in(browser, served.base_url, "olga")
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Duplicates").click()
    pair = page.get_by_role("article", name=re.compile(f"^Pair {first}:"))
    expect(pair.get_by_role("rowheader", name="first_name")).to_be_visible()
    page.get_by_role("button", name=f"Accept pair {first}: merge").click()
    expect(page.get_by_text(re.compile(f"Pair {first} accepted: the two are now contact \\d+"))
           ).to_be_visible()
    page.get_by_role("button", name=f"Reject pair {second}: keep apart").click()
    expect(page.get_by_text(f"Pair {second} rejected")).to_be_visible()
    expect(page.get_by_role("article", name=re.compile(f"^Pair ({first}|{second}):"))
           ).to_have_count(0)
    page.get_by_role("link", name="rejected").click()
    expect(page.get_by_role("article", name=re.compile(f"^Pair {second}:"))).to_be_visible()
    assert {c.id for c in review.candidates(runtime.store, status="accepted")} >= {first}
    page.context.close()


def test_erase_a_person(browser: Any, console: tuple[ServedApp, Runtime]) -> None:
    served, runtime = console
    with runtime.store.begin() as conn:
        contact_id, address = conn.execute(select(contacts.c.id, contacts.c.email).where(
            contacts.c.status == "active", contacts.c.id > 1).order_by(contacts.c.id)).first()
    page = signed_in(browser, served.base_url, "olga")
    page.goto("/consent")
    page.get_by_label("Address to erase").fill(address)
    page.get_by_label("Type the address again to confirm").fill(address.upper())
    page.get_by_role("button", name="Erase for good").click()
    expect(page.get_by_text("The two addresses differ")).to_be_visible()
    page.get_by_label("Address to erase").fill(address)
    page.get_by_label("Type the address again to confirm").fill(address)
    page.get_by_role("button", name="Erase for good").click()
    expect(page.get_by_role("heading", name="Erased")).to_be_visible()
    assert page.goto(f"/contacts/{contact_id}").status == 404
    page.goto("/audit")
    expect(page.get_by_role("cell", name="erasure")).to_be_visible()
    page.context.close()


def test_a_post_without_the_csrf_token_is_refused(browser: Any,
                                                  console: tuple[ServedApp, Runtime]) -> None:
    served, _ = console
    page = signed_in(browser, served.base_url, "olga")
    refused = page.request.post("/dead-letters/retry", form={"connector": "export"})
    assert refused.status == 403
    assert "security token" in refused.text()
    page.context.close()


def test_a_viewer_sees_masked_addresses_and_cannot_act(
        browser: Any, console: tuple[ServedApp, Runtime]) -> None:
    served, runtime = console
    with runtime.store.begin() as conn:
        address = conn.execute(select(contacts.c.email).where(contacts.c.id == 1)).scalar_one()
    page = signed_in(browser, served.base_url, "vera")
    page.goto("/contacts/1")
    text = page.locator("main").inner_text()
    local, domain = address.split("@")
    assert address not in text and f"{local[0]}…@{domain}" in text
    page.goto("/dead-letters")
    assert page.get_by_role("button").filter(has_text="Retry").count() == 0
    page.goto("/duplicates")
    expect(page.get_by_role("heading", name="Duplicates")).to_be_visible()
    assert page.get_by_role("button").filter(has_text="Accept").count() == 0
    page.goto("/consent")
    assert page.get_by_role("button", name="Erase for good").count() == 0
    token = page.locator("input[name=csrf]").first.get_attribute("value")
    refused = page.request.post("/dead-letters/retry", form={"csrf": token})
    assert refused.status == 403
    assert page.request.post("/duplicates/1/reject", form={"csrf": token}).status == 403
    page.context.close()


def test_keyboard_only_through_the_main_pages(browser: Any,
                                              console: tuple[ServedApp, Runtime]) -> None:
    served, _ = console
    context = browser.new_context(base_url=served.base_url)
    page = context.new_page()
    page.goto("/")
    keyboard = page.keyboard
    # the browser applies autofocus after the load event: wait for it, then type
    page.wait_for_function("document.activeElement && document.activeElement.id === 'username'")
    keyboard.type("olga")  # the user name field has the focus
    keyboard.press("Tab")
    keyboard.type(PASSWORD)
    keyboard.press("Enter")
    page.wait_for_url(re.compile(r"/$"))

    def tab_to(label: str) -> None:
        for _ in range(40):
            keyboard.press("Tab")
            focused = page.evaluate("document.activeElement.textContent.trim()")
            if focused == label:
                return
        raise AssertionError(f"Tab never reached {label!r}")

    keyboard.press("Tab")
    assert page.evaluate("document.activeElement.textContent") == "Skip to content"
    keyboard.press("Enter")
    assert page.evaluate("document.activeElement.id") == "main"
    for label, heading in (("Runs", "Runs"), ("Funnel", "Funnel"),
                           ("Dead letters", "Dead letters"), ("Consent", "Consent"),
                           ("Contacts", "Contacts")):
        tab_to(label)
        keyboard.press("Enter")
        page.wait_for_load_state()
        assert page.locator("h1").inner_text() == heading
        assert page.locator("nav a[aria-current=page]").inner_text() == label
    page.wait_for_function("document.activeElement && document.activeElement.id === 'q'")
    keyboard.type("m")  # the search field has the focus
    keyboard.press("Enter")
    page.wait_for_url(re.compile(r"q=m"))
    tab_to("#1")
    keyboard.press("Enter")
    page.wait_for_url(re.compile(r"/contacts/1$"))
    assert page.locator("h1").inner_text() == "Contact 1"
    context.close()
