"""Input checks shared by every consent change: subjects, purposes, notices, dates, tokens.

Each check appends a :class:`Problem` for what is wrong and carries on, so one
:class:`InvalidInput` can list every problem of a request; nothing is written before.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import datetime
from typing import Any

from personakit._clock import Clock
from personakit._ids import ACTOR_RE
from personakit._vault import valid_subject_id
from personakit.consent._manifest import Manifest, Notice, Purpose
from personakit.exceptions import InvalidInput, Problem, SubjectNotFound

__all__ = [
    "at",
    "bad_subject",
    "check_notice",
    "check_occurred",
    "check_purposes",
    "check_reference",
    "check_subjects",
    "raise_problems",
]


def bad_subject() -> InvalidInput:
    """The error for a subject that is not a pseudonym."""
    return InvalidInput(
        "invalid subject", [Problem(where="subject", what="not a subject pseudonym (sub_…)")]
    )


def raise_problems(problems: list[Problem]) -> None:
    """Raise :class:`InvalidInput` listing ``problems``, if there are any."""
    if problems:
        raise InvalidInput("invalid consent request", problems)


def check_subjects(
    named: list[tuple[str, str]],
    problems: list[Problem],
    exists: Callable[[str], bool],
) -> None:
    """Raise for ``problems`` and bad pseudonyms, then :class:`SubjectNotFound` if one is gone.

    ``named`` pairs each subject with where it was given (``subject``, ``into_subject``).
    """
    for subject, where in named:
        if not valid_subject_id(subject):
            problems.append(Problem(where=where, what="not a subject pseudonym (sub_…)"))
    raise_problems(problems)
    for subject, _ in named:
        if not exists(subject):
            raise SubjectNotFound("subject")


def check_purposes(
    manifest: Manifest,
    purposes: str | Iterable[str],
    problems: list[Problem],
    *,
    allow_all: bool,
    basis: str,
) -> list[tuple[int | None, Purpose]]:
    """The purposes named, each with its index in the list (None: a single name).

    ``"all"`` (if ``allow_all``) names every purpose of ``basis``; a purpose of another
    lawful basis is a problem.
    """
    if isinstance(purposes, str):
        if allow_all and purposes == "all":
            return [(None, p) for p in manifest.purposes if p.lawful_basis == basis]
        names: list[Any] = [purposes]
        single = True
    else:
        try:
            names = list(purposes)
        except TypeError:
            problems.append(Problem(where="purposes", what="must be a str or an iterable"))
            return []
        single = False
        if not names:
            problems.append(Problem(where="purposes", what="must name at least one purpose"))
    chosen: list[tuple[int | None, Purpose]] = []
    seen: set[str] = set()
    for index, name in enumerate(names):
        where = "purpose" if single else f"purposes[{index}]"
        found = manifest.get_purpose(name) if isinstance(name, str) else None
        if found is None:
            problems.append(Problem(where=where, what="not a purpose in the manifest"))
        elif found.lawful_basis != basis:
            problems.append(Problem(where=where, what=_wrong_basis(found, basis)))
        elif found.id not in seen:
            seen.add(found.id)
            chosen.append((None if single else index, found))
    return chosen


def _wrong_basis(purpose: Purpose, wanted: str) -> str:
    if purpose.objectable:
        return "relies on legitimate interest: use object() / lift_objection()"
    if wanted == "consent":
        return f"needs no consent (lawful basis is {purpose.lawful_basis})"
    return f"does not rely on legitimate interest (lawful basis is {purpose.lawful_basis})"


def check_notice(
    manifest: Manifest,
    problems: list[Problem],
    *,
    notice: Any,
    version: Any,
    language: Any,
    sha256: Any = None,
    covering: Iterable[tuple[int | None, Purpose]] = (),
) -> Notice | None:
    """The notice text shown (None if there is a problem); it must cover ``covering``."""
    shown = _notice(manifest, problems, notice=notice, version=version, language=language)
    if shown is not None and sha256 is not None and sha256 != shown.text_sha256:
        problems.append(
            Problem(where="notice_sha256", what="does not match the manifest's hash of this text")
        )
    for index, purpose in covering:
        if shown is not None and purpose.notice != shown.id:
            problems.append(
                Problem(where=at("purpose", index), what="is not covered by this notice")
            )
    return shown


def _notice(
    manifest: Manifest, problems: list[Problem], *, notice: Any, version: Any, language: Any
) -> Notice | None:
    if not isinstance(notice, str) or not manifest.notice_versions(notice):
        problems.append(Problem(where="notice", what="not a notice in the manifest"))
        return None
    listed = [n for n in manifest.notice_versions(notice) if n.version == version]
    if not listed:
        problems.append(Problem(where="notice_version", what="not a listed version of this notice"))
        return None
    if language is None:
        if len(listed) > 1:
            problems.append(
                Problem(
                    where="language", what="required: this notice version has several languages"
                )
            )
            return None
        found = listed[0]
    else:
        matching = [n for n in listed if n.language == language]
        if not matching:
            problems.append(
                Problem(where="language", what="no text of this notice version in this language")
            )
            return None
        found = matching[0]
    return found


def check_occurred(clock: Clock, occurred_at: Any, problems: list[Problem]) -> datetime | None:
    """``occurred_at`` if it is an aware datetime not in the future (None: now)."""
    if occurred_at is None:
        return None
    if not isinstance(occurred_at, datetime):
        problems.append(Problem(where="occurred_at", what="must be a datetime"))
        return None
    if occurred_at.tzinfo is None or occurred_at.utcoffset() is None:
        problems.append(Problem(where="occurred_at", what="must be timezone-aware"))
        return None
    if occurred_at > clock.now():
        problems.append(Problem(where="occurred_at", what="is in the future"))
        return None
    return occurred_at


def check_reference(reference: object, problems: list[Problem]) -> None:
    """Append a problem unless ``reference`` is None or a short token (``dsr_…``)."""
    if reference is not None and (
        not isinstance(reference, str) or not ACTOR_RE.fullmatch(reference)
    ):
        problems.append(Problem(where="reference", what="must match [a-z][a-z0-9_.:-]{0,63}"))


def at(where: str, index: int | None) -> str:
    """``where`` for a single purpose, else its place in the list (``purposes[2]``)."""
    return where if index is None else f"purposes[{index}]"
