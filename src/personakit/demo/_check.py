"""``personakit demo --check``: a scripted tour of a running shop over HTTP (standard library).

The tour is what a newcomer would click: refuse the banner and see the default banner; accept,
look at two loaves and see the bread banner and the third loaf recommended (not the two just
seen), each with its reason; buy; download the export; read the consent history; delete the
account and find nothing held any more; open the operator page (it asks for its password, and
with the password shows the audit chain and releases a DP figure).
Each step prints one line; the tour stops at the first failure. Cookies are kept by hand: the
subject cookie is ``Secure``, which ``http.cookiejar`` would never send to ``http://127.0.0.1``
(browsers treat localhost as a secure context and do).
"""

from __future__ import annotations

import json
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable
from typing import Any, Final, TextIO

from attrs import define, field

__all__ = ["Client", "TourFailed", "run_tour"]

_TIMEOUT: Final = 30.0
_OFF: Final = "Our favourites: personalization is off"
_BREAD_REASON: Final = "bread"


class TourFailed(Exception):
    """A step of the tour did not see what it expected (the message says what)."""


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *_: Any, **__: Any) -> None:
        return None  # the client follows redirects itself, keeping its cookies


@define
class Client:
    """A minimal browser: one cookie jar for one host, redirects followed by hand."""

    base: str
    cookies: dict[str, str] = field(factory=dict)
    _opener: urllib.request.OpenerDirector = field(
        factory=lambda: urllib.request.build_opener(_NoRedirect), init=False
    )

    def request(
        self, method: str, path: str, *, data: bytes | None = None, content_type: str | None = None
    ) -> tuple[int, dict[str, str], bytes]:
        """Send one request (following 30x with GET); return status, headers and body."""
        for _ in range(5):
            request = urllib.request.Request(self.base + path, data=data, method=method)  # noqa: S310 (the shop's own http URL)
            if self.cookies:
                request.add_header("Cookie", "; ".join(f"{k}={v}" for k, v in self.cookies.items()))
            if content_type is not None:
                request.add_header("Content-Type", content_type)
            try:
                with self._opener.open(request, timeout=_TIMEOUT) as response:
                    status, headers, body = response.status, response.headers, response.read()
            except urllib.error.HTTPError as exc:
                status, headers, body = exc.code, exc.headers, exc.read()
            self._remember(headers.get_all("Set-Cookie") or [])
            if status in {301, 302, 303, 307, 308} and headers.get("Location"):
                path = urllib.parse.urlsplit(headers["Location"]).path or "/"
                method, data, content_type = "GET", None, None
                continue
            return status, dict(headers.items()), body
        raise TourFailed(f"{path}: too many redirects")

    def get(self, path: str) -> tuple[int, str]:
        """GET ``path``: status and text."""
        status, _, body = self.request("GET", path)
        return status, body.decode("utf-8", "replace")

    def form(self, path: str, fields: dict[str, str]) -> tuple[int, str]:
        """POST a form to ``path``: status and text."""
        data = urllib.parse.urlencode(fields).encode("ascii")
        status, _, body = self.request(
            "POST", path, data=data, content_type="application/x-www-form-urlencoded"
        )
        return status, body.decode("utf-8", "replace")

    def _remember(self, headers: list[str]) -> None:
        for header in headers:
            pair = header.split(";", 1)[0]
            name, _, value = pair.partition("=")
            expired = "max-age=0" in header.lower() or "expires=thu, 01 jan 1970" in header.lower()
            if expired or not value:
                self.cookies.pop(name.strip(), None)
            else:
                self.cookies[name.strip()] = value.strip()


def _expect(ok: bool, what: str) -> None:  # noqa: FBT001 (reads as an assertion)
    if not ok:
        raise TourFailed(what)


def _bread_recommended(page: str, viewed: tuple[str, ...]) -> None:
    """The home page's recommendations list bread, with reasons, and none of ``viewed``."""
    panel = page.partition('id="recommended"')[2].partition("</section>")[0]
    _expect("<li" in panel, "no recommendations after browsing bread")
    _expect('data-item="rye"' in panel, "the loaf not seen yet is not recommended")
    _expect(
        not any(f'data-item="{item}"' in panel for item in viewed),
        "an item just viewed is recommended back",
    )
    _expect(
        panel.count('class="why reason">Because you viewed ') == panel.count("<li"),
        "a recommendation without its reason",
    )


def _steps(  # noqa: C901, PLR0915 (one closure per step)
    shop: Client, operator_password: str | None
) -> list[tuple[str, Callable[[], None]]]:
    state: dict[str, Any] = {}

    def banner_asks() -> None:
        status, page = shop.get("/")
        _expect(status == 200 and 'id="consent-banner"' in page, "no consent banner on first visit")  # noqa: PLR2004
        _expect('id="consent-accept"' in page and 'id="consent-refuse"' in page, "a choice missing")

    def refuse() -> None:
        status, page = shop.form("/choices", {"choice": "refuse", "next": "/"})
        _expect(status == 200, f"refusing answered {status}")  # noqa: PLR2004
        _expect('id="consent-banner"' not in page, "banner still shown after refusing")
        _expect(_OFF in page, "refusing did not give the non-personalized banner")

    def accept_and_browse() -> None:
        status, page = shop.form("/choices", {"choice": "accept", "next": "/"})
        _expect(status == 200, f"accepting answered {status}")  # noqa: PLR2004
        viewed = ("sourdough", "baguette")
        for item in viewed:
            status, _ = shop.get(f"/product/{item}")
            _expect(status == 200, f"/product/{item} answered {status}")  # noqa: PLR2004
        status, page = shop.get("/")
        _expect('data-rule="bread-lovers"' in page, "no bread banner after browsing bread")
        _expect(
            f"you often buy {_BREAD_REASON}" in page.lower(), "the bread banner gives no reason"
        )
        _bread_recommended(page, viewed)

    def buy() -> None:
        shop.form("/cart/add", {"item": "croissant"})
        status, page = shop.form("/checkout", {})
        _expect(status == 200 and 'id="thanks"' in page, "checkout did not thank")  # noqa: PLR2004

    def export() -> None:
        status, headers, body = shop.request("GET", "/privacy/export?format=json")
        _expect(status == 200, f"export answered {status}")  # noqa: PLR2004
        _expect("attachment" in headers.get("Content-Disposition", ""), "export is no download")
        document = json.loads(body)
        kinds = {event["kind"] for event in document.get("events", [])}
        _expect({"product_view", "purchase"} <= kinds, f"export misses events: {sorted(kinds)}")

    def history() -> None:
        status, text = shop.get("/privacy/consent")
        _expect(status == 200, f"consent history answered {status}")  # noqa: PLR2004
        records = json.loads(text)["history"]
        _expect(len(records) >= 4, f"consent history has {len(records)} records")  # noqa: PLR2004

    def erase() -> None:
        status, _, body = shop.request(
            "POST", "/privacy/erasure", data=b"{}", content_type="application/json"
        )
        _expect(status == 202, f"erasure answered {status}")  # noqa: PLR2004
        state["request"] = json.loads(body)["request_id"]
        status, page = shop.get(f"/erased?request={state['request']}")
        _expect('id="erasure-state">completed<' in page, "the erasure request did not complete")

    def gone() -> None:
        _expect("pk_subject" not in shop.cookies, "the erased visitor's cookie was kept")
        status, text = shop.get("/privacy/data")
        document = json.loads(text)
        _expect(status == 200 and document.get("events") == [], "data still held after erasure")  # noqa: PLR2004

    def operator() -> None:
        status, page = shop.get("/operator")
        _expect(status == 401 and 'id="operator-login"' in page, "the operator page is open")  # noqa: PLR2004
        if operator_password is None:
            return  # a shop started elsewhere: its password was printed there
        status, page = shop.form("/operator/login", {"password": operator_password})
        _expect(status == 200 and "verifies" in page, "the audit chain does not verify")  # noqa: PLR2004
        status, page = shop.form("/operator/release", {})
        _expect(status == 200 and 'id="dp-orders"' in page, "no DP figure on the operator page")  # noqa: PLR2004

    return [
        ("the banner asks on the first visit", banner_asks),
        ("refuse: the default banner, personalization off", refuse),
        ("accept, browse bread: bread banner, recommendations with reasons", accept_and_browse),
        ("add to cart and check out", buy),
        ("download my data (JSON)", export),
        ("consent history", history),
        ("delete me: the erasure request completes", erase),
        ("the subject is gone", gone),
        ("operator page: password, the audit chain, a DP release", operator),
    ]


def run_tour(base: str, *, out: TextIO, operator: str | None = None) -> bool:
    """Run the tour against ``base`` (``http://host:port``); print each step; True if all pass.

    ``operator``: the operator page's password (without it, the tour only checks that the
    page asks for one).
    """
    shop = Client(base.rstrip("/"))
    for name, step in _steps(shop, operator):
        try:
            step()
        except (TourFailed, OSError, ValueError, KeyError) as exc:
            print(f"FAIL {name}: {exc}", file=out)
            return False
        print(f"ok   {name}", file=out)
    return True
