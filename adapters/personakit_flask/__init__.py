"""personakit for Flask: an extension, a privacy-center blueprint and ``flask personakit``.

::

    from personakit_flask import PersonakitFlask

    pk = PersonakitFlask(app, user=lambda: f"customer:{current_user.id}" if ... else None)
    # config: PERSONAKIT_STORE (a directory), the master key in $PERSONAKIT_MASTER_KEY
    # per request: g.personakit (the kit bound to the visitor), routes under /privacy

The extension only translates: subject resolution, signals and the privacy center are
:mod:`personakit.web`'s.
"""

from __future__ import annotations

try:
    import click
    import flask
    from flask.cli import with_appcontext
except ImportError:  # pragma: no cover (exercised by the packaging test with Flask absent)
    raise ImportError("personakit_flask needs Flask: pip install 'personakit[flask]'") from None

from collections.abc import Callable
from typing import Any, Final

from personakit import Personakit
from personakit.crypto import LocalKeyProvider
from personakit.web import ROUTES, BoundSubject, Login, WebConfig, WebFront, WebResponse

__all__ = ["EXTENSION", "PersonakitFlask", "login", "personakit_command"]

#: The key of the extension's state in ``app.extensions``.
EXTENSION: Final = "personakit"
_DEFAULTS: Final = {
    "PERSONAKIT_STORE": None,
    "PERSONAKIT_MASTER_KEY": None,
    "PERSONAKIT_KIT": None,
    "PERSONAKIT_URL_PREFIX": "/privacy",
    "PERSONAKIT_COOKIE_NAME": "pk_subject",
    "PERSONAKIT_TCF_COOKIE": "euconsent-v2",
    "PERSONAKIT_JURISDICTION": "gdpr",
}


class PersonakitFlask:
    """The Flask extension: ``PersonakitFlask(app)`` or ``ext.init_app(app)`` in a factory.

    ``user`` is the host's resolver: called in each request, it returns the logged-in user's
    identifier (``customer:42``) or None. ``may_act_for(user_identifier, asked)`` is the
    host's check that a logged-in user may use the privacy center for someone else.
    """

    def __init__(
        self,
        app: flask.Flask | None = None,
        *,
        user: Callable[[], str | None] | None = None,
        may_act_for: Callable[[str, str], bool] | None = None,
    ) -> None:
        """Keep the host's hooks; with ``app``, initialise it at once."""
        self.user = user
        self.may_act_for = may_act_for
        if app is not None:
            self.init_app(app)

    def init_app(self, app: flask.Flask) -> None:
        """Open the kit from ``PERSONAKIT_*`` config, hook requests, mount the blueprint."""
        for key, value in _DEFAULTS.items():
            app.config.setdefault(key, value)
        config = WebConfig(
            cookie_name=app.config["PERSONAKIT_COOKIE_NAME"],
            tcf_cookie=app.config["PERSONAKIT_TCF_COOKIE"],
            jurisdiction=app.config["PERSONAKIT_JURISDICTION"],
            may_act_for=self.may_act_for,
        )
        app.extensions[EXTENSION] = WebFront(_open_kit(app.config), config)
        app.before_request(self._before)
        app.after_request(_after)
        app.register_blueprint(_blueprint(), url_prefix=app.config["PERSONAKIT_URL_PREFIX"])
        app.cli.add_command(personakit_command)

    def _before(self) -> None:
        front: WebFront = flask.current_app.extensions[EXTENSION]
        request = flask.request
        visit = front.visit(
            user=self.user() if self.user is not None else None,
            cookies=request.cookies,
            sec_gpc=request.headers.get("Sec-GPC"),
        )
        flask.g.personakit = front.bind(visit)


def login(user: str) -> Login:
    """Link this request's anonymous visitor to the account ``user``, after the host's login.

    ``g.personakit`` is bound to the account from here on, and the response carries a fresh
    subject cookie (the old value names nobody any more); see :meth:`WebFront.login`.
    """
    bound: BoundSubject = flask.g.personakit
    flask.g.personakit, done = bound.login(user)
    return done


def _open_kit(config: Any) -> Personakit:
    kit = config["PERSONAKIT_KIT"]
    if isinstance(kit, Personakit):
        return kit
    store = config["PERSONAKIT_STORE"]
    if not store:
        raise RuntimeError("personakit_flask: set PERSONAKIT_STORE (or PERSONAKIT_KIT)")
    key = config["PERSONAKIT_MASTER_KEY"]
    return Personakit.open(store, keys=LocalKeyProvider(key) if key else None)


def _after(response: flask.Response) -> flask.Response:
    bound: BoundSubject | None = flask.g.get("personakit")
    if bound is not None and bound.visit.set_cookie is not None:
        response.headers.add("Set-Cookie", bound.visit.set_cookie.header())
    return response


def _to_flask(answer: WebResponse) -> flask.Response:
    response = flask.Response(answer.body, status=answer.status, content_type=answer.content_type)
    for name, value in answer.headers:
        response.headers[name] = value
    return response


def _blueprint() -> flask.Blueprint:
    """The privacy center: one view per :data:`personakit.web.ROUTES` entry."""
    blueprint = flask.Blueprint("personakit", __name__)

    def view(operation: str) -> Callable[[], flask.Response]:
        def run() -> flask.Response:
            front: WebFront = flask.current_app.extensions[EXTENSION]
            request = flask.request
            answer = front.handle(
                operation,
                flask.g.personakit.visit,
                method=request.method,
                query=request.args.to_dict(),
                body=request.get_data(cache=True),
                content_type=request.content_type,
            )
            return _to_flask(answer)

        return run

    for route in ROUTES:
        blueprint.add_url_rule(
            f"/{route.path}",
            endpoint=route.operation,
            view_func=view(route.operation),
            methods=list(route.methods),
        )
    return blueprint


@click.command(
    "personakit",
    context_settings={"ignore_unknown_options": True, "help_option_names": []},
    add_help_option=False,
)
@click.argument("args", nargs=-1, type=click.UNPROCESSED)
@with_appcontext
def personakit_command(args: tuple[str, ...]) -> None:
    """Run the personakit CLI (``flask personakit consent show …``) on this app's store."""
    from personakit.cli import main  # noqa: PLC0415 (argparse and the commands load on demand)

    store = flask.current_app.config.get("PERSONAKIT_STORE")
    given = list(args)
    if store and not any(a == "--store" or a.startswith("--store=") for a in given):
        given = ["--store", str(store), *given]  # the app's store unless told otherwise
    raise SystemExit(main(given))
