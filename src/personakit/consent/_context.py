"""Who and how, common to every record of one consent change: :class:`ConsentContext`."""

from __future__ import annotations

import re
from typing import Final

from attrs import frozen

from personakit._ids import check_actor
from personakit.consent._records import SOURCES
from personakit.exceptions import Problem

__all__ = ["ConsentContext", "check_context"]

_METHOD_RE: Final = re.compile(r"[a-z][a-z0-9_.-]{0,31}")
_JURISDICTION_RE: Final = re.compile(r"[A-Z]{2,3}(-[A-Z0-9]{1,3})?")

# The defaults of the keyword arguments that a context replaces.
_METHOD: Final = "explicit"
_ACTOR: Final = "system"
# Stands in for a field of the wrong type; a problem for it is always recorded too.
_INVALID: Final = "invalid"


@frozen(kw_only=True)
class ConsentContext:
    """Who recorded a consent change and how, passed as ``context=`` to grant, refuse, ….

    Equivalent to the ``source`` / ``method`` / ``jurisdiction`` / ``actor`` keyword
    arguments, with the same defaults; build it once per channel and pass it along. Checked
    when used, like those arguments: a bad field raises :class:`InvalidInput` then.

    With ``context``, leave those keyword arguments out: one that is given a value other
    than its default and the context's raises :class:`InvalidInput`.

    Attributes:
        source: Where the decision was made (one of :data:`SOURCES`: ``web``, ``api``, …).
        method: How it was made (``explicit``, ``banner``, …: ``[a-z][a-z0-9_.-]{0,31}``).
        jurisdiction: The region code whose law applies (``EU``, ``GB``, ``US-CA``), or None.
        actor: Who recorded it, audited in the clear (``system``, ``ops:jane``).
    """

    source: str
    method: str = _METHOD
    jurisdiction: str | None = None
    actor: str = _ACTOR


def check_context(
    context: object,
    source: object,
    method: object = _METHOD,
    jurisdiction: object = None,
    actor: object = _ACTOR,
    *,
    problems: list[Problem],
) -> ConsentContext:
    """The context of a change, from ``context`` or the keyword arguments.

    Appends a problem for every bad field, and for every keyword argument that disagrees
    with ``context``.
    """
    if context is not None:
        if not isinstance(context, ConsentContext):
            problems.append(Problem(where="context", what="must be a ConsentContext"))
            # A placeholder: the problem is raised before the context is used. Never str() a
            # bad value: its __str__ may fail or be arbitrarily costly (a deeply nested dict).
            return ConsentContext(source=_INVALID, method=_METHOD, actor=_ACTOR)
        given = {"source": source, "method": method, "jurisdiction": jurisdiction, "actor": actor}
        defaults = {"source": None, "method": _METHOD, "jurisdiction": None, "actor": _ACTOR}
        for where, value in given.items():
            if value != defaults[where] and value != getattr(context, where):
                problems.append(Problem(where=where, what="disagrees with context: pass one"))
        source, method = context.source, context.method
        jurisdiction, actor = context.jurisdiction, context.actor
    if source not in SOURCES:
        problems.append(Problem(where="source", what="must be one of: " + ", ".join(SOURCES)))
    if not isinstance(method, str) or not _METHOD_RE.fullmatch(method):
        problems.append(Problem(where="method", what="must match [a-z][a-z0-9_.-]{0,31}"))
    if jurisdiction is not None and (
        not isinstance(jurisdiction, str) or not _JURISDICTION_RE.fullmatch(jurisdiction)
    ):
        problems.append(
            Problem(where="jurisdiction", what="must be a region code like EU, GB or US-CA")
        )
    check_actor(actor, problems)
    return ConsentContext(
        source=source if isinstance(source, str) else _INVALID,
        method=method if isinstance(method, str) else _INVALID,
        jurisdiction=jurisdiction if isinstance(jurisdiction, str) else None,
        actor=actor if isinstance(actor, str) else _INVALID,
    )
