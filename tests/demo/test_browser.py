"""The demo shop in a real browser: Debian's chromium, driven by Playwright (no download).

One shop is served on a free port for the module; each test has its own browser context (its
own cookies), so each is a new visitor. Screenshots go to ``$PERSONAKIT_TEST_ARTIFACTS``
(default ``test-artifacts/demo`` in the repository), kept as the run's artifacts.
"""

from __future__ import annotations

import json
import os
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

pytest.importorskip("flask")
playwright_api = pytest.importorskip("playwright.sync_api")

from personakit import FixedClock, SubjectNotFound  # noqa: E402 (after the importorskips)
from personakit.web import SubjectCookies  # noqa: E402
from personakit_demo import running_shop  # noqa: E402

CHROMIUM = Path("/usr/bin/chromium")
FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
ARTIFACTS = (
    Path(
        os.environ.get(
            "PERSONAKIT_TEST_ARTIFACTS", Path(__file__).resolve().parents[2] / "test-artifacts"
        )
    )
    / "demo"
)

if not CHROMIUM.exists():
    if os.environ.get("CI"):
        pytest.fail("CI must install Debian's chromium (.ci/run does)", pytrace=False)
    pytest.skip("needs Debian's chromium: apt-get install chromium", allow_module_level=True)


PASSWORD = "operator-browser-password"
# Today at 09:00 UTC: the steps that move it 5 hours stay out of the quiet hours at any time of day.
CLOCK = FixedClock(datetime.now(UTC).replace(hour=9, minute=0, second=0, microsecond=0))


@pytest.fixture(scope="module")
def shop(tmp_path_factory):
    # A fixed clock the cart test moves on, and a scheduler that runs every 50 ms.
    with running_shop(
        tmp_path_factory.mktemp("demo"), clock=CLOCK, interval=0.05, password=PASSWORD
    ) as running:
        yield running


@pytest.fixture(scope="module")
def browser():
    os.environ["PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD"] = "1"
    with playwright_api.sync_playwright() as driver:
        launched = driver.chromium.launch(executable_path=str(CHROMIUM), args=FLAGS)
        yield launched
        launched.close()


@pytest.fixture
def page(browser, request):
    context = browser.new_context(accept_downloads=True, viewport={"width": 1100, "height": 800})
    opened = context.new_page()
    yield opened
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    opened.screenshot(path=str(ARTIFACTS / f"{request.node.name}-end.png"), full_page=True)
    context.close()


def shot(page, name: str) -> None:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)


def test_refusing_shows_non_personalized_content(shop, page):
    page.goto(shop.url + "/")
    shot(page, "01-banner")
    page.click("#consent-refuse")
    page.wait_for_url(shop.url + "/")
    assert page.locator("#consent-banner").count() == 0
    assert page.inner_text("#banner-reason") == "Our favourites: personalization is off"
    # Browsing bread without consent changes nothing: nothing was kept for personalization.
    for item in ("sourdough", "baguette", "rye"):
        page.goto(f"{shop.url}/product/{item}")
    page.goto(shop.url + "/")
    assert page.get_attribute("#home-banner", "data-rule") == ""
    assert page.inner_text("#banner-reason") == "Our favourites: personalization is off"
    shot(page, "02-refused")
    operator_login(page, shop)
    page.click("#dp-release")  # the page itself spends nothing: a release is a button
    page.wait_for_selector("#dp-orders")
    assert int(page.inner_text("#dp-orders")) >= 0  # a DP release under the demo's cap
    assert "verifies" in page.inner_text("#audit")
    shot(page, "09-operator")


def operator_login(page, shop) -> None:
    page.goto(shop.url + "/operator")
    assert page.locator("#operator-login").count() == 1  # no password, no page
    page.fill("#password", PASSWORD)
    page.click("#operator-submit")
    page.wait_for_selector("#journeys")


def test_accept_browse_bread_export_and_delete(shop, page):
    page.goto(shop.url + "/")
    page.click("#consent-accept")
    page.wait_for_url(shop.url + "/")
    page.goto(shop.url + "/catalogue?category=bread")
    shot(page, "03-catalogue-bread")
    for item in ("sourdough", "baguette"):
        page.click(f'a[href="/product/{item}"]')
        page.wait_for_selector("#product-name")
        if item == "sourdough":
            # kit.recommend.similar_items: pairs supported by enough consenting customers.
            goes = page.locator("#goes-well-with li")
            assert goes.count() >= 1
            for n in range(goes.count()):
                assert goes.nth(n).locator(".reason").inner_text() == (
                    "Often chosen with Sourdough loaf"
                )
            shot(page, "04-product")
        page.go_back()
    page.goto(shop.url + "/")
    assert page.get_attribute("#home-banner", "data-rule") == "bread-lovers"
    assert page.inner_text("#banner-reason") == "Because you often buy bread"
    # kit.recommend for this visitor: bread first, each with its reason from the answer.
    recommended = page.locator("#recommended li")
    assert recommended.count() >= 1
    items = [recommended.nth(n).get_attribute("data-item") for n in range(recommended.count())]
    assert "rye" in items  # the loaf not seen yet; the two just viewed are not shown back
    assert not set(items) & {"sourdough", "baguette"}
    viewed = {"Because you viewed " + name for name in ("Sourdough loaf", "Baguette")}
    for n in range(recommended.count()):
        assert recommended.nth(n).locator(".reason").inner_text() in viewed
    shot(page, "05-bread-personalized")

    page.goto(shop.url + "/privacy-center")
    with page.expect_download() as waiting:
        page.click("#download-export")
    download = waiting.value
    assert download.suggested_filename == "personakit-export.json"
    exported = json.loads(Path(download.path()).read_text(encoding="utf-8"))
    # One instant on the fixed clock: the export orders same-time events by their ids.
    assert sorted(e["properties"]["item"] for e in exported["events"]) == ["baguette", "sourdough"]
    assert page.locator("#consent-history li").count() == 2  # personalization, analytics
    shot(page, "06-privacy-center")

    # Change choices: untick personalization; the banner falls back and says why.
    page.uncheck('#my-choices input[name="personalization"]')
    page.click("#save-choices")
    page.wait_for_url(shop.url + "/privacy-center")
    assert page.locator("#consent-history li").count() == 3
    page.goto(shop.url + "/")
    assert page.inner_text("#banner-reason") == "Our favourites: personalization is off"
    page.goto(shop.url + "/privacy-center")

    identifier = "anon:" + _subject_token(page, shop)
    subject = shop.kit.identity.resolve(identifier)
    page.click("#erase")
    page.wait_for_url("**/erased?request=*")
    assert page.inner_text("#erasure-state") == "completed"
    shot(page, "07-erased")
    with pytest.raises(SubjectNotFound):
        shop.kit.identity.resolve(identifier)
    assert not shop.kit.keyring.has_subject_key(subject)
    page.goto(shop.url + "/privacy-center")
    assert page.inner_text("#event-count") == "0"


def test_a_visitor_who_leaves_a_cart_and_signs_up_gets_the_reminder(shop, page, browser):
    page.goto(shop.url + "/")
    page.click("#consent-accept")
    page.wait_for_url(shop.url + "/")
    page.goto(shop.url + "/product/croissant")
    page.click("#add-to-cart")
    page.wait_for_url(shop.url + "/cart")
    anonymous = "anon:" + _subject_token(page, shop)
    page.click("#nav-account")
    page.wait_for_selector("#sign-in-form")
    assert not page.is_checked("#marketing")  # unticked until the visitor ticks it
    assert "one-click unsubscribe" in page.inner_text("#marketing-text")
    page.fill("#email", "browser.cart@example.com")
    page.check("#marketing")
    shot(page, "10-sign-in")
    page.click("#sign-in-submit")
    page.wait_for_selector("#account-email")
    # Linked at login: the cart's subject is the account now, the old cookie names nobody.
    assert shop.kit.identity.lookup(anonymous) is None
    assert "anon:" + _subject_token(page, shop) != anonymous
    subject = shop.kit.identity.lookup("email:browser.cart@example.com")
    assert subject is not None
    assert shop.kit.consent.allowed(subject, "marketing.email")
    page.context.clear_cookies()  # the visitor leaves ...
    CLOCK.advance(timedelta(hours=5))  # ... and five hours pass: the scheduler runs the journey
    assert shop.scheduler.wait_for(shop.scheduler.ticks + 2, timeout=30)
    operator = browser.new_context().new_page()
    try:
        operator_login(operator, shop)
        assert "cart_abandonment/reminder by email" in operator.inner_text("#journeys")
        assert "browser.cart@example.com" not in operator.content()
        shot(operator, "11-operator-outbox")
    finally:
        operator.context.close()


def _subject_token(page, shop) -> str:
    # The browser's own cookie, read back through the same MAC check the shop uses.
    cookie = next(c for c in page.context.cookies(shop.url) if c["name"] == "pk_subject")
    token = SubjectCookies(shop.kit.keyring).token(cookie["value"])
    assert token is not None
    return token


def test_banner_choices_have_the_same_size_and_prominence(shop, page):
    page.goto(shop.url + "/")
    measured = {}
    for name in ("accept", "refuse"):
        button = page.locator(f"#consent-{name}")
        box = button.bounding_box()
        style = button.evaluate(
            """e => { const s = getComputedStyle(e); return {
                font: s.fontSize, weight: s.fontWeight, family: s.fontFamily, color: s.color,
                background: s.backgroundColor, border: s.borderTopColor + ' ' + s.borderTopWidth,
                tag: e.tagName, parent: e.parentElement.id + e.parentElement.className,
                checked: e.checked === true, y: e.getBoundingClientRect().top } }"""
        )
        measured[name] = {"width": box["width"], "height": box["height"], **style}
    accept, refuse = measured["accept"], measured["refuse"]
    assert accept["width"] == refuse["width"] > 0
    assert accept["height"] == refuse["height"] > 0
    for key in ("font", "weight", "family", "color", "background", "border", "tag", "parent", "y"):
        assert accept[key] == refuse[key], key
    # Same level: both in the first layer, no pre-ticked box anywhere in the banner.
    assert page.locator("#consent-banner input[type=checkbox]:checked").count() == 0
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    (ARTIFACTS / "banner-measurements.json").write_text(json.dumps(measured, indent=2))
    page.locator("#consent-banner").screenshot(path=str(ARTIFACTS / "08-banner-close-up.png"))
