"""The Django app: builds the web front from ``settings.PERSONAKIT`` on first use.

``settings.PERSONAKIT`` keys: ``STORE`` (a directory or database URL) or ``KIT`` (a
:class:`~personakit.Personakit` already open), ``MASTER_KEY`` (else ``$PERSONAKIT_MASTER_KEY``
or ``$PERSONAKIT_MASTER_KEY_FILE``), ``USER`` (the host's resolver: ``request -> identifier or
None``; default: ``customer:<pk>`` of an authenticated ``request.user``), ``MAY_ACT_FOR``
(``(user identifier, asked) -> bool``), ``COOKIE_NAME``, ``TCF_COOKIE``, ``JURISDICTION``.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Mapping
from typing import Any, Final

from django.apps import AppConfig, apps
from django.conf import settings
from django.core.checks import CheckMessage, Error, register
from django.core.exceptions import ImproperlyConfigured
from django.core.signals import setting_changed
from django.http import HttpRequest

from personakit import Personakit
from personakit.crypto import LocalKeyProvider
from personakit.web import WebConfig, WebFront

__all__ = ["PersonakitConfig", "check_settings", "front", "user_of"]

_KEY_ENVS: Final = ("PERSONAKIT_MASTER_KEY", "PERSONAKIT_MASTER_KEY_FILE")


def _settings() -> Mapping[str, Any]:
    value = getattr(settings, "PERSONAKIT", None)
    return value if isinstance(value, Mapping) else {}


def user_of(request: HttpRequest) -> str | None:
    """The default user resolver: ``customer:<pk>`` of an authenticated ``request.user``."""
    user = getattr(request, "user", None)
    if user is None or not getattr(user, "is_authenticated", False):
        return None
    return f"customer:{user.pk}"


class PersonakitConfig(AppConfig):
    """The ``personakit_django`` app; the web front is built lazily (checks run first)."""

    name = "personakit_django"
    label = "personakit"
    verbose_name = "personakit"
    default_auto_field = "django.db.models.AutoField"

    def ready(self) -> None:
        """Rebuild the front when tests override ``settings.PERSONAKIT``."""
        self._front: WebFront | None = None
        self._lock = threading.Lock()
        setting_changed.connect(self._forget, dispatch_uid="personakit_django.settings")

    def _forget(self, *, setting: str, **_: object) -> None:
        if setting == "PERSONAKIT":
            self._front = None

    def front(self) -> WebFront:
        """The application's :class:`WebFront` (built once, shared by every thread)."""
        with self._lock:
            if self._front is None:
                self._front = _build(_settings())
            return self._front

    def user_resolver(self) -> Callable[[HttpRequest], str | None]:
        """The host's user resolver (``PERSONAKIT["USER"]``) or :func:`user_of`."""
        found = _settings().get("USER")
        return found if callable(found) else user_of


def _build(conf: Mapping[str, Any]) -> WebFront:
    kit = conf.get("KIT")
    if not isinstance(kit, Personakit):
        if not conf.get("STORE"):
            raise ImproperlyConfigured("settings.PERSONAKIT needs STORE (or KIT)")
        key = conf.get("MASTER_KEY")
        kit = Personakit.open(conf["STORE"], keys=LocalKeyProvider(key) if key else None)
    return WebFront(
        kit,
        WebConfig(
            cookie_name=conf.get("COOKIE_NAME", "pk_subject"),
            tcf_cookie=conf.get("TCF_COOKIE", "euconsent-v2"),
            jurisdiction=conf.get("JURISDICTION", "gdpr"),
            may_act_for=conf.get("MAY_ACT_FOR"),
        ),
    )


def front() -> WebFront:
    """The installed app's web front."""
    config = apps.get_app_config("personakit")
    assert isinstance(config, PersonakitConfig)
    return config.front()


@register("personakit")
def check_settings(app_configs: object = None, **_: object) -> list[CheckMessage]:  # noqa: ARG001 (Django passes it)
    """System checks: ``settings.PERSONAKIT`` names a store (or kit) and a master key exists."""
    conf = _settings()
    if isinstance(conf.get("KIT"), Personakit):
        return []
    errors: list[CheckMessage] = []
    if not conf.get("STORE"):
        errors.append(
            Error(
                "settings.PERSONAKIT has no STORE",
                hint='Set PERSONAKIT = {"STORE": "/path/to/store"} (or a postgresql:// URL).',
                id="personakit.E001",
            )
        )
    if not conf.get("MASTER_KEY") and not any(os.environ.get(name) for name in _KEY_ENVS):
        errors.append(
            Error(
                "no personakit master key",
                hint="Set $PERSONAKIT_MASTER_KEY (or $PERSONAKIT_MASTER_KEY_FILE); "
                "never derive it from SECRET_KEY.",
                id="personakit.E002",
            )
        )
    return errors
