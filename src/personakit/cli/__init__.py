"""The ``personakit`` command, for compliance teams and operators.

Every user error prints one line on standard error and exits non-zero, never a traceback:
exit 2 for a malformed command line, 1 for a failure (bad key, broken audit chain, …).
Machine-readable results go to standard output as JSON. One private module per command group
(``_consent.py`` holds ``personakit consent …``); what they share is in ``_common.py``.
"""

from __future__ import annotations

from personakit.cli._main import build_parser, main

__all__ = ["build_parser", "main"]
