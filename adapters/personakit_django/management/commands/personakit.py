"""``manage.py personakit …``: the personakit CLI on the store of ``settings.PERSONAKIT``."""

from __future__ import annotations

import argparse
import os
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from personakit.cli import main
from personakit_django.apps import _settings

__all__ = ["Command"]


class Command(BaseCommand):
    """Pass every argument to the ``personakit`` command (``manage.py personakit --help``)."""

    help = "Run the personakit CLI (consent, subject, dsr, audit, ...) on this site's store."

    def add_arguments(self, parser: CommandParser) -> None:
        """Take everything after ``personakit`` as the CLI's own arguments."""
        parser.add_argument("args", nargs=argparse.REMAINDER)

    def handle(self, *args: Any, **options: Any) -> None:  # noqa: ARG002 (BaseCommand API)
        """Run the CLI; a non-zero exit becomes a :class:`CommandError` with its code."""
        store = _settings().get("STORE")
        given = [str(a) for a in args]
        if store and not any(a == "--store" or a.startswith("--store=") for a in given):
            given = ["--store", os.fspath(store), *given]  # the site's store unless told otherwise
        code = main(given)
        if code:
            raise CommandError(f"personakit exited with {code}", returncode=code)
