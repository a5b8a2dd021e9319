"""The audit pack in headless Chromium: every page shows its tables and charts, and loads
nothing from anywhere (every request the page makes is intercepted and counted).

Debian's ``/usr/bin/chromium`` is driven by Playwright; no browser is ever downloaded. CI
installs Chromium (``.ci/run``); elsewhere the test is skipped when it is absent. Screenshots
go to ``tmp/artifacts/report-pack/`` for a human to look at.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from personakit.reporting import KINDS

from ._scenario import apply_consents, dsr_requests, open_kit, releases

CHROMIUM = Path("/usr/bin/chromium")
ARTIFACTS = Path(__file__).parents[2] / "tmp" / "artifacts" / "report-pack"
FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
#: The reports whose HTML must hold an inline SVG chart drawn from data.
CHARTED = {"consent": "given_rate", "dsr": "timeliness", "budget": "use"}

pytestmark = pytest.mark.skipif(
    not CHROMIUM.exists(), reason="/usr/bin/chromium is absent (CI installs it: see .ci/run)"
)


def test_every_pack_page_renders_offline_with_its_tables_and_charts(tmp_path: Path) -> None:
    """Tables and charts are in every page; the only request is the page's own file."""
    sync_api = pytest.importorskip("playwright.sync_api")
    from personakit import FixedClock  # noqa: PLC0415 - with the scenario only

    from ._scenario import NOW  # noqa: PLC0415

    clock = FixedClock(NOW)
    with open_kit(clock=clock) as kit:
        apply_consents(kit, [("grant", True)] * 6 + [("withdraw", False)] * 6)
        dsr_requests(kit, clock)
        list(releases(kit))
        kit.reports.pack(tmp_path / "pack")
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    pages = ["index", *KINDS]
    outside: list[str] = []
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=FLAGS)
        try:
            page = browser.new_page()

            def guard(route: Any) -> None:
                url = route.request.url
                if url.startswith("file://") and url.endswith(".html"):
                    route.continue_()
                else:
                    outside.append(url)
                    route.abort()

            page.route("**/*", guard)
            requests: list[str] = []
            page.on("request", lambda request: requests.append(request.url))
            # The guard works: a page that asks for something outside is caught.
            probe = tmp_path / "probe.html"
            probe.write_text('<img src="https://example.invalid/x.png"><p>probe</p>')
            page.goto(probe.as_uri())
            page.wait_for_load_state("load")
            assert outside == ["https://example.invalid/x.png"]
            outside.clear()
            for name in pages:
                requests.clear()
                page.goto((tmp_path / "pack" / f"{name}.html").as_uri())
                expected = (
                    json.loads((tmp_path / "pack" / f"{name}.json").read_text())["tables"]
                    if name != "index"
                    else [{"id": "reports"}]
                )
                shown = page.eval_on_selector_all(
                    "table[data-table]", "ts => ts.map(t => t.dataset.table)"
                )
                assert shown == [t["id"] for t in expected], name
                if name in CHARTED:
                    figure = page.locator(f'figure[data-chart="{CHARTED[name]}"] svg')
                    assert figure.count() == 1, name
                    marks = page.locator(
                        f'figure[data-chart="{CHARTED[name]}"] svg :is(rect, polyline, circle)'
                    )
                    assert marks.count() > 0, name
                page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)
                assert requests == [(tmp_path / "pack" / f"{name}.html").as_uri()], name
        finally:
            browser.close()
    assert outside == []
