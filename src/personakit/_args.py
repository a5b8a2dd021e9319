"""Type checks for the arguments of public entry points, shared so each reads as one line.

Every public method checks its arguments before it touches a store: a wrong type becomes a
:class:`~personakit.exceptions.Problem` (never another exception half-way through a write).
Each check appends to ``problems`` so a caller can report every problem at once; messages name
the argument, never its value.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any

from personakit.exceptions import InvalidInput, Problem

__all__ = ["check_callable", "check_flag", "check_moment", "check_str_items", "raise_problems"]


def check_moment(value: object, where: str, problems: list[Problem]) -> datetime | None:
    """``value`` if it is a timezone-aware datetime, None (with a problem) otherwise."""
    if not isinstance(value, datetime):
        problems.append(Problem(where=where, what="must be a datetime"))
        return None
    if value.tzinfo is None or value.utcoffset() is None:
        problems.append(Problem(where=where, what="must be timezone-aware"))
        return None
    return value


def check_callable(value: object, where: str, problems: list[Problem]) -> None:
    """Append a problem unless ``value`` is None or callable."""
    if value is not None and not callable(value):
        problems.append(Problem(where=where, what="must be callable"))


def check_flag(value: object, where: str, problems: list[Problem]) -> None:
    """Append a problem unless ``value`` is a bool."""
    if not isinstance(value, bool):
        problems.append(Problem(where=where, what="must be True or False"))


def check_str_items(value: object, where: str, problems: list[Problem]) -> list[str]:
    """The items of ``value``, an iterable of str that is not itself a str (else a problem)."""
    if isinstance(value, (str, bytes)) or not isinstance(value, Iterable):
        problems.append(Problem(where=where, what="must be a list of names"))
        return []
    items: list[Any] = list(value)
    if not all(isinstance(item, str) for item in items):
        problems.append(Problem(where=where, what="must hold only names (str)"))
        return []
    return items


def raise_problems(summary: str, problems: list[Problem]) -> None:
    """Raise :class:`InvalidInput` with ``summary`` if there is any problem."""
    if problems:
        raise InvalidInput(summary, problems)
