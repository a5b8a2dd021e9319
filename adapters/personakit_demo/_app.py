"""The bakery as a Flask app on :mod:`personakit_flask`: pages, cart, banner, operator view.

Templates are Jinja2 with autoescape (Flask's default for ``.html``); CSS and the one small
script are served from the package (no external CSS, JS or fonts), under a Content Security
Policy that allows nothing else. The privacy center is the adapter's blueprint under
``/privacy``; this app adds its HTML page around it.
"""

from __future__ import annotations

import hmac
import json
import re
from pathlib import Path
from typing import Any, Final

import flask
import flask.typing

from personakit import Personakit
from personakit.demo._data import CATALOGUE, MARKETING_TEXT, product
from personakit.demo._shop import RECENT_VIEWS, Shop, choices_body
from personakit.exceptions import InvalidInput, PersonakitError
from personakit.profiles import parse_identifier
from personakit.web import BoundSubject, WebFront
from personakit_flask import EXTENSION, PersonakitFlask, login

__all__ = ["create_app"]

# A report page of the audit pack: its own inline style and images, nothing else.
_REPORT_CSP: Final = "default-src 'none'; style-src 'unsafe-inline'; img-src data:"
_CSP: Final = (
    "default-src 'none'; style-src 'self'; script-src 'self'; img-src 'self'; "
    "connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
)
_CART_MAX: Final = 50
_REQUEST_ID: Final = re.compile(r"[A-Za-z0-9_-]{1,80}")


def create_app(
    kit: Personakit,
    directory: Path,
    *,
    seed: bool = True,
    operator_password: str,
    recent_views: int = RECENT_VIEWS,
) -> flask.Flask:
    """The shop app on ``kit`` (its demo files in ``directory``); ``seed`` generates history.

    ``operator_password`` opens the operator page; ``recent_views`` is how many of a visitor's
    latest product views the home page does not recommend back.
    """
    if not isinstance(operator_password, str) or len(operator_password) < 8:  # noqa: PLR2004
        raise ValueError("operator_password: at least 8 characters")
    app = flask.Flask("personakit_demo")
    # The cart and the demo sign-in live in Flask's signed session cookie; its key comes from
    # the keyring (never a constant), so each demo store has its own.
    app.secret_key = kit.keyring.derive("mac/demo/session")
    app.config.update(
        PERSONAKIT_KIT=kit,
        SESSION_COOKIE_SAMESITE="Lax",
        SESSION_COOKIE_HTTPONLY=True,
    )
    # The host's user resolver: the demo's e-mail sign-in (a stand-in for a real shop's login).
    PersonakitFlask(app, user=_signed_in)
    shop = Shop(kit, directory, recent_views=recent_views)
    if seed:
        shop.seed()
    app.extensions["personakit_demo"] = shop
    app.extensions["personakit_demo.operator"] = operator_password.encode("utf-8")
    _routes(app)
    _account_routes(app)
    _operator_routes(app)
    _report_routes(app)
    app.after_request(_headers)
    return app


def _signed_in() -> str | None:
    user = flask.session.get("user")
    return user if isinstance(user, str) and user.startswith("email:") else None


def _shop() -> Shop:
    shop: Shop = flask.current_app.extensions["personakit_demo"]
    return shop


def _bound() -> BoundSubject:
    bound: BoundSubject = flask.g.personakit
    return bound


def _existing() -> str | None:
    return _bound().visit.existing_subject()


def _render(template: str, **values: Any) -> str:
    subject = _existing()
    return flask.render_template(
        template, ask=_shop().needs_choice(subject), cart_count=len(_cart()), **values
    )


def _cart() -> list[str]:
    cart = flask.session.get("cart", [])
    return [item for item in cart if isinstance(item, str) and product(item)][:_CART_MAX]


def _routes(app: flask.Flask) -> None:  # noqa: C901, PLR0915 (one closure per page)
    @app.get("/")
    def home() -> str:
        decision = _shop().banner(_bound().identifier)
        payload = dict(decision.payload or {})
        featured = [p for p in CATALOGUE if p.category == payload.get("category")][:3]
        recommended = _shop().recommended(_existing())
        return _render(
            "home.html",
            decision=decision,
            payload=payload,
            featured=featured,
            recommended=recommended,
        )

    @app.get("/catalogue")
    def catalogue() -> str:
        category = flask.request.args.get("category", "")
        items = [p for p in CATALOGUE if not category or p.category == category]
        categories = sorted({p.category for p in CATALOGUE})
        return _render("catalogue.html", items=items, categories=categories, current=category)

    @app.get("/product/<item>")
    def product_page(item: str) -> str:
        found = product(item)
        if found is None:
            flask.abort(404)
        # Kept only for the purposes the visitor allowed (the ingestor checks the basis).
        _bound().track(
            "product_view",
            properties={
                "item": found.id,
                "category": found.category,
                "price_cents": found.price_cents,
            },
        )
        panel = _shop().goes_well_with(found.id)
        return _render("product.html", product=found, panel=panel)

    @app.post("/cart/add")
    def cart_add() -> flask.typing.ResponseReturnValue:
        found = product(flask.request.form.get("item", ""))
        if found is None:
            flask.abort(400)
        cart = _cart()
        if len(cart) < _CART_MAX:
            cart.append(found.id)
        flask.session["cart"] = cart
        _bound().track(
            "add_to_cart",
            properties={"item": found.id, "category": found.category, "quantity": 1},
        )
        return flask.redirect(flask.url_for("cart_page"), code=303)

    @app.get("/cart")
    def cart_page() -> str:
        lines = [p for item in _cart() if (p := product(item)) is not None]
        total = sum(p.price_cents for p in lines)
        return _render("cart.html", lines=lines, total=total, note=_shop().journeys_note())

    @app.post("/checkout")
    def checkout() -> str:
        lines = [p for item in _cart() if (p := product(item)) is not None]
        if not lines:
            return _render("cart.html", lines=[], total=0, note=_shop().journeys_note())
        total = sum(p.price_cents for p in lines)
        items = [
            {"item": p.id, "category": p.category, "price_cents": p.price_cents} for p in lines
        ]
        bound = _bound()
        bound.track("checkout_started", properties={"cart_value_cents": total, "items": items})
        bound.track("purchase", properties={"items": items, "value_cents": total})
        flask.session["cart"] = []
        return _render("thanks.html", lines=lines, total=total)

    @app.post("/choices")
    def choices() -> flask.typing.ResponseReturnValue:
        form = flask.request.form
        back = form.get("next", "/")
        back = back if back in {"/", "/privacy-center"} else "/"
        if "choice" in form:  # the banner: accept or refuse everything optional
            body = choices_body(accept=form["choice"] == "accept")
        else:  # the privacy center's form: only the purposes whose box changed
            document = json.loads(choices_body(accept=False))
            subject = _existing()
            now = (
                _shop().kit.consent.allowed_many(subject, list(document["choices"]))
                if subject is not None
                else {}
            )
            document["choices"] = {
                purpose: form.get(purpose) == "yes"
                for purpose in document["choices"]
                if subject is None or now.get(purpose) != (form.get(purpose) == "yes")
            }
            if not document["choices"]:
                return flask.redirect(back, code=303)  # nothing changed: nothing to record
            body = json.dumps(document).encode("utf-8")
        front: WebFront = flask.current_app.extensions[EXTENSION]
        # Through the privacy center's own operation: the same checks and ledger records.
        answer = front.handle(
            "consent",
            _bound().visit,
            method="POST",
            body=body,
            content_type="application/json",
        )
        if answer.status != 200:  # noqa: PLR2004
            flask.abort(answer.status)
        return flask.redirect(back, code=303)

    @app.get("/privacy-center")
    def privacy_center() -> str:
        subject = _existing()
        kit = _shop().kit
        export: dict[str, Any] = {}
        history: list[dict[str, Any]] = []
        allowed: dict[str, bool] = {}
        if subject is not None:
            export = kit.rights.export(subject, actor="privacy-center")
            history = [record.to_json() for record in kit.consent.ledger(subject)]
            allowed = kit.consent.allowed_many(subject, ("personalization", "analytics"))
        return _render(
            "privacy.html",
            events=export.get("events", []),
            traits=export.get("traits", {}),
            history=history,
            allowed=allowed,
        )

    @app.get("/erased")
    def erased() -> flask.typing.ResponseReturnValue:
        request_id = flask.request.args.get("request", "")
        state = "unknown"
        if _REQUEST_ID.fullmatch(request_id):
            try:
                state = _shop().kit.rights.requests.get(request_id).state.value
            except PersonakitError:
                state = "unknown"
        response = flask.make_response(_render("erased.html", state=state))
        cookie = flask.current_app.config["PERSONAKIT_COOKIE_NAME"]
        # The erased visitor's cookie names nobody now: drop it, and the cart with it.
        response.delete_cookie(cookie, secure=True, httponly=True, samesite="Lax")
        flask.session.clear()
        return response

    @app.get("/healthz")
    def healthz() -> flask.typing.ResponseReturnValue:
        return flask.jsonify({"ok": True})

    @app.after_request
    def run_erasure(response: flask.Response) -> flask.Response:
        # The shop's policy: a verified erasure request from the privacy center is run at
        # once (a real shop may queue it for a person to look at within the legal deadline).
        if flask.request.endpoint == "personakit.erasure" and response.status_code == 202:  # noqa: PLR2004
            opened = json.loads(response.get_data())
            rights = _shop().kit.rights
            try:
                done = rights.run_request(opened["request_id"], actor="demo-shop")
            except PersonakitError:  # left verified or in progress: the operator runs it again
                done = rights.requests.get(opened["request_id"])
            response.set_data(json.dumps({**opened, "state": done.state.value}))
        return response


def _account_routes(app: flask.Flask) -> None:
    @app.get("/account")
    def account() -> str:
        return _render("account.html", user=_signed_in(), text=MARKETING_TEXT, problem=None)

    @app.post("/account/sign-in")
    def sign_in() -> flask.typing.ResponseReturnValue:
        form = flask.request.form
        address = form.get("email", "").strip()
        try:
            identifier = parse_identifier(f"email:{address}", where="email")
        except InvalidInput:
            page = _render("account.html", user=None, text=MARKETING_TEXT, problem="email")
            return page, 422
        user = f"email:{identifier.value}"
        # The demo trusts the address as typed (a real shop verifies it, or uses its login):
        # the visitor's anonymous cookie subject joins the account, and the cookie is reissued.
        login(user)
        flask.session["user"] = user
        if form.get("marketing") == "yes":  # an explicit tick of the unticked box, nothing else
            _shop().subscribe(_bound().subject, identifier.value)
        return flask.redirect(flask.url_for("account"), code=303)

    @app.post("/account/sign-out")
    def sign_out() -> flask.typing.ResponseReturnValue:
        flask.session.pop("user", None)
        return flask.redirect("/", code=303)


def _operator_tag() -> str:
    # The session key is the keyring's, so it outlives a run; the password may not (a random
    # one per run). The session holds a MAC of the password under that key: a session opened
    # with an earlier run's password opens nothing, and the readable cookie does not reveal it.
    expected: bytes = flask.current_app.extensions["personakit_demo.operator"]
    key = flask.current_app.secret_key
    assert isinstance(key, bytes)
    return hmac.new(key, b"operator|" + expected, "sha256").hexdigest()


def _operator_allowed() -> bool:
    held = flask.session.get("operator")
    return isinstance(held, str) and hmac.compare_digest(held, _operator_tag())


def _operator_routes(app: flask.Flask) -> None:
    allowed = _operator_allowed

    @app.get("/operator")
    def operator() -> flask.typing.ResponseReturnValue:
        if not allowed():
            return _render("operator_login.html", failed=False), 401
        return _render("operator.html", view=_shop().operator())

    @app.post("/operator/login")
    def operator_login() -> flask.typing.ResponseReturnValue:
        given = flask.request.form.get("password", "").encode("utf-8")
        expected: bytes = flask.current_app.extensions["personakit_demo.operator"]
        if not hmac.compare_digest(given, expected):  # constant time in the password's content
            return _render("operator_login.html", failed=True), 401
        flask.session["operator"] = _operator_tag()
        return flask.redirect(flask.url_for("operator"), code=303)

    @app.post("/operator/logout")
    def operator_logout() -> flask.typing.ResponseReturnValue:
        flask.session.pop("operator", None)
        return flask.redirect("/", code=303)

    @app.post("/operator/release")
    def operator_release() -> flask.typing.ResponseReturnValue:
        # The one write the operator page makes, on purpose: a DP release spends budget.
        if not allowed():
            return _render("operator_login.html", failed=False), 401
        _shop().release()
        return flask.redirect(flask.url_for("operator"), code=303)


def _report_routes(app: flask.Flask) -> None:
    @app.get("/operator/reports/<kind>")
    def operator_report(kind: str) -> flask.typing.ResponseReturnValue:
        if not _operator_allowed():
            return _render("operator_login.html", failed=False), 401
        page = _shop().report(kind)
        if page is None:
            flask.abort(404)
        response = flask.make_response(page)
        # The report is one self-contained page: inline CSS and SVG, nothing fetched.
        response.headers["Content-Security-Policy"] = _REPORT_CSP
        return response


def _headers(response: flask.Response) -> flask.Response:
    response.headers.setdefault("Content-Security-Policy", _CSP)
    response.headers.setdefault("X-Content-Type-Options", "nosniff")
    response.headers.setdefault("Referrer-Policy", "same-origin")
    return response
