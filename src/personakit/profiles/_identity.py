"""Host identifiers (``kind:value``) resolve to subject pseudonyms through blind indexes.

An identifier such as ``email:Alice@Example.com`` is normalized (``email:alice@example.com``),
then stored only as an HMAC blind index in the data store key ``i/<kind>/<index>``; the value
points at the subject pseudonym. The identifier itself is kept, encrypted with the subject's key,
among the subject's records (kind ``ident``) so that it can be exported and erased with them.
No e-mail address or phone number ever appears in a storage key or in clear in a value.
"""

from __future__ import annotations

import functools
import re
import unicodedata
from collections.abc import Iterable
from datetime import datetime
from typing import Final

from attrs import frozen

from personakit._clock import Clock
from personakit._codec import canonical_json, loads
from personakit._vault import (
    Vault,
    check_subject,
    names_a_pseudonym,
    new_subject_id,
    valid_subject_id,
)
from personakit.exceptions import InvalidInput, Problem, SubjectNotFound
from personakit.storage import Store

__all__ = ["IDENTIFIER_KINDS", "Identifier", "IdentityIndex", "parse_identifier"]

#: Identifier kinds and whether they are personal (direct identifiers of a person).
IDENTIFIER_KINDS: Final[dict[str, bool]] = {
    "customer": True,
    "email": True,
    "phone": True,
    "anon": False,
    "device": False,
}

_INDEX_PREFIX: Final = "i/"
_META_KIND: Final = "meta"
_IDENT_KIND: Final = "ident"
_MAX_VALUE: Final = 320  # RFC 5321 caps an address at 320 octets; enough for every kind here
_MEMO_KINDS: Final = ("customer:", "anon:", "device:")
_PHONE_RE: Final = re.compile(r"\+[1-9][0-9]{6,14}")
# One leading + or 00, then digits and the separators people write; at most one "(0)".
_PHONE_CHARS_RE: Final = re.compile(r"(?:\+|00)[ ]*[1-9][0-9 ()./-]*", re.ASCII)
_PHONE_PROBLEM: Final = (
    "not an international phone number (+ or 00, the country code, then a number of a length "
    "that country uses; no extension)"
)
_TOKEN_RE: Final = re.compile(r"[A-Za-z0-9_.:@+-]{1,128}")


@frozen(kw_only=True, cache_hash=True)  # dict key of every bulk-ingest cache
class Identifier:
    """A normalized host identifier: ``kind`` and ``value``; ``str()`` gives ``kind:value``."""

    kind: str
    value: str

    def __str__(self) -> str:
        """Render as ``kind:value``."""
        return f"{self.kind}:{self.value}"

    def __repr__(self) -> str:
        """Never print the value: reprs end up in logs."""
        return f"Identifier(kind={self.kind!r}, value=<redacted>)"


def parse_identifier(text: object, *, where: str = "identifier") -> Identifier:
    """Parse and normalize ``kind:value``; :class:`InvalidInput` says what is wrong.

    E-mail: syntax and IDNA by email-validator (no DNS), local part lower-cased, domain in
    Unicode form (``alice@xn--bcher-kva.de`` and ``Alice@Bücher.de`` are one address). Phone:
    E.164 by the phone-number metadata (``+44 (0)20 7946 0018``, ``0044 20 7946-0018`` and
    ``+442079460018`` are one number). Customer, anon and device ids are opaque tokens.
    Changing these rules changes the blind indexes: ``personakit identity reindex`` migrates.
    """
    if isinstance(text, str) and text.startswith(_MEMO_KINDS) and len(text) <= _MAX_VALUE:
        # Bulk ingest parses the same identifiers over and over, so valid ones are memoized;
        # only opaque tokens, never e-mail addresses or phone numbers, which must not linger
        # in process memory after the subject is erased.
        return _parse_cached(text, where)
    return _parse_identifier(text, where=where)


@functools.lru_cache(maxsize=16384)
def _parse_cached(text: str, where: str) -> Identifier:
    return _parse_identifier(text, where=where)


def _parse_identifier(text: object, *, where: str) -> Identifier:
    if not isinstance(text, str):
        raise InvalidInput("invalid identifier", [Problem(where=where, what="not a string")])
    kind, sep, raw = text.partition(":")
    kind = kind.strip().lower()
    if not sep or kind not in IDENTIFIER_KINDS:
        raise InvalidInput(
            "invalid identifier",
            [
                Problem(
                    where=where,
                    what="expected kind:value with kind one of " + ", ".join(IDENTIFIER_KINDS),
                )
            ],
        )
    value = unicodedata.normalize("NFC", raw.strip())
    problem: str | None = None
    if not value or len(value) > _MAX_VALUE:
        problem = f"value must be 1 to {_MAX_VALUE} characters"
    elif kind == "email":
        value, problem = _normalize_email(value)
    elif kind == "phone":
        value, problem = _normalize_phone(value)
    elif not _TOKEN_RE.fullmatch(value):
        problem = "not a token of letters, digits and _.:@+- (at most 128)"
    if problem is not None:
        raise InvalidInput("invalid identifier", [Problem(where=where, what=f"{kind}: {problem}")])
    return Identifier(kind=kind, value=value)


def _normalize_email(value: str) -> tuple[str, str | None]:
    """``local@domain`` with the local part lower-cased and the domain as Unicode (U-labels).

    The syntax and IDNA rules are email-validator's, without DNS (an identifier is not a
    deliverability check). Lower-casing the local part is a choice: RFC 5321 lets a mail server
    tell ``Alice`` from ``alice``, but no common one does, and two people told apart only by the
    case of their address are far rarer than one person typing it two ways. The domain's form
    follows IDNA (UTS 46), so ``xn--bcher-kva.de``, ``Bücher.de`` and ``BÜCHER.DE`` are one.
    """
    from email_validator import EmailNotValidError, validate_email  # noqa: PLC0415 - lazily

    try:
        valid = validate_email(value, check_deliverability=False)
    except (EmailNotValidError, ValueError):  # IDNA errors are UnicodeErrors, so ValueErrors
        return value, "not an e-mail address"
    return f"{valid.local_part.lower()}@{valid.domain.lower()}", None


def _normalize_phone(value: str) -> tuple[str, str | None]:
    """E.164 (``+`` and digits) from an international spelling, by the phone-number metadata.

    ``+`` or ``00`` must lead (without a country there is no way to read a national number),
    then digits, spaces, dots, dashes, slashes and parentheses; a national trunk prefix written
    after the country code (``+44 (0)20 …``) is dropped where the country's numbering plan has
    one. The number must have a length the country's plan allows (``is_possible_number``; not
    ``is_valid_number``, whose ranges change with every metadata release and would make stored
    identifiers unreadable). Extensions and letters are refused.
    """
    if not _PHONE_CHARS_RE.fullmatch(value):
        return value, _PHONE_PROBLEM
    import phonenumbers  # noqa: PLC0415 - lazily: its metadata is only loaded when needed

    international = "+" + value[2:] if value.startswith("00") else value
    try:
        number = phonenumbers.parse(international, None)
    except phonenumbers.NumberParseException:
        return value, _PHONE_PROBLEM
    if number.extension or not phonenumbers.is_possible_number(number):
        return value, _PHONE_PROBLEM
    e164 = phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)
    if not _PHONE_RE.fullmatch(e164):
        return value, _PHONE_PROBLEM
    return e164, None


class IdentityIndex:
    """Resolve identifiers to subjects, create subjects, list and drop a subject's identifiers."""

    def __init__(self, store: Store, vault: Vault, clock: Clock) -> None:
        """Bind to the data store, the vault and the clock."""
        self.store = store
        self.vault = vault
        self.clock = clock

    def __repr__(self) -> str:
        """Render with the store."""
        return f"IdentityIndex({self.store!r})"

    def index_key(self, ident: Identifier) -> str:
        """The data-store key of an identifier's index entry (``i/<kind>/<blind index>``)."""
        return (
            f"{_INDEX_PREFIX}{ident.kind}/{self.vault.keyring.blind_index(ident.kind, ident.value)}"
        )

    def lookup(self, identifier: str | Identifier) -> str | None:
        """The subject an identifier (or a pseudonym ``sub_…``) resolves to, or None."""
        if names_a_pseudonym(identifier):
            return identifier if valid_subject_id(identifier) and self.exists(identifier) else None
        ident = identifier if isinstance(identifier, Identifier) else parse_identifier(identifier)
        raw = self.store.get(self.index_key(ident))
        return None if raw is None else raw.decode("ascii")

    def lookup_many(self, identifiers: Iterable[Identifier]) -> dict[Identifier, str]:
        """The subjects of several identifiers, in one store read (unknown ones are absent).

        ``identifiers`` are parsed :class:`Identifier` objects (bulk ingest's); anything else
        is :class:`InvalidInput`.
        """
        given: object = identifiers  # callers without a type checker can pass anything
        listed = list(given) if isinstance(given, (list, tuple, set, frozenset)) else None
        if listed is None or not all(isinstance(ident, Identifier) for ident in listed):
            raise InvalidInput(
                "invalid identifiers",
                [Problem(where="identifiers", what="must be a collection of parsed Identifiers")],
            )
        keys = {self.index_key(ident): ident for ident in listed}
        return {
            keys[key]: raw.decode("ascii") for key, raw in self.store.get_many(list(keys)).items()
        }

    def resolve(
        self, identifier: str | Identifier, *, create: bool = False, new_subject: str | None = None
    ) -> str:
        """The subject for ``identifier``; with ``create``, a new subject if there is none.

        ``new_subject`` is the pseudonym to give a created subject (default: a fresh one); bulk
        ingest passes the one a rolled-back attempt already used, so its data key is reused.
        Raises :class:`SubjectNotFound` (naming the identifier *kind* only) otherwise.
        """
        if new_subject is not None:
            check_subject(new_subject, where="new_subject")
        subject = self.lookup(identifier)
        if subject is not None:
            return subject
        if names_a_pseudonym(identifier):
            raise SubjectNotFound("subject")
        ident = identifier if isinstance(identifier, Identifier) else parse_identifier(identifier)
        if not create:
            raise SubjectNotFound(f"{ident.kind} identifier")
        with self.store.transaction():
            # Re-check under the write lock: another process may have created it meanwhile.
            existing = self.store.get(self.index_key(ident))
            if existing is not None:
                return existing.decode("ascii")
            subject = new_subject if new_subject is not None else new_subject_id()
            self.vault.put_json(
                subject, _META_KIND, "subject", {"created_at": self.clock.now().isoformat()}
            )
            self.attach(subject, ident)
            return subject

    def create_many(self, pairs: Iterable[tuple[Identifier, str]]) -> dict[Identifier, str]:
        """Create subjects for several identifiers at once: ``(identifier, new pseudonym)``.

        What :meth:`resolve` with ``create`` and ``new_subject`` does for one identifier, for
        many, with one data-store read and two writes (the index entries; the sealed ``meta``
        and ``ident`` records) instead of four round trips each: bulk ingest creates a batch's
        new subjects with it. An identifier that already names a subject keeps it. Returns the
        subject of every identifier. Raises :class:`InvalidInput` unless ``pairs`` is a list
        or tuple of (parsed :class:`Identifier`, pseudonym) pairs with distinct identifiers
        and pseudonyms.
        """
        given: object = pairs  # callers without a type checker can pass anything
        listed = list(given) if isinstance(given, (list, tuple)) else None
        if (
            listed is None
            or not all(
                isinstance(pair, tuple)
                and len(pair) == 2  # noqa: PLR2004 (a pair)
                and isinstance(pair[0], Identifier)
                and valid_subject_id(pair[1])
                for pair in listed
            )
            or len({pair[0] for pair in listed}) != len(listed)
            or len({pair[1] for pair in listed}) != len(listed)
        ):
            raise InvalidInput(
                "invalid identifiers",
                [
                    Problem(
                        where="pairs",
                        what="must be (parsed Identifier, new pseudonym) pairs, each once",
                    )
                ],
            )
        keys = {self.index_key(ident): (ident, subject) for ident, subject in listed}
        with self.store.transaction():
            # Re-check under the write lock, as resolve does: another process may have
            # created some of them meanwhile.
            existing = self.store.get_many(list(keys))
            made = {key: pair for key, pair in keys.items() if key not in existing}
            now = self.clock.now().isoformat()
            created = {"created_at": now}
            records: list[tuple[str, str, str, bytes]] = []
            for ident, subject in made.values():
                index = self.vault.keyring.blind_index(ident.kind, ident.value)
                records.append((subject, _META_KIND, "subject", canonical_json(created)))
                ident_doc = {"kind": ident.kind, "value": ident.value, "at": now}
                records.append((subject, _IDENT_KIND, index, canonical_json(ident_doc)))
            self.vault.put_many(records)
            self.store.put_many(
                [(key, subject.encode("ascii")) for key, (_, subject) in made.items()]
            )
        found = {keys[key][0]: raw.decode("ascii") for key, raw in existing.items()}
        return {ident: found.get(ident, subject) for ident, subject in listed}

    def subject_of(self, text: str, *, where: str = "subject") -> str:
        """The live subject ``text`` names: a pseudonym (``sub_…``) or a host identifier.

        Raises :class:`InvalidInput` for a malformed pseudonym or identifier, and
        :class:`SubjectNotFound` (``subject``, or the identifier *kind* only) when it names no
        live subject. Never creates one.
        """
        if names_a_pseudonym(text):
            if not valid_subject_id(text):
                raise InvalidInput(
                    "invalid subject", [Problem(where=where, what="not a subject pseudonym")]
                )
            if not self.exists(text):
                raise SubjectNotFound("subject")
            return text
        return self.resolve(parse_identifier(text, where=where))

    def attach(self, subject: str, identifier: str | Identifier) -> None:
        """Point ``identifier`` at ``subject`` (a subject may hold several of one kind)."""
        check_subject(subject)
        ident = identifier if isinstance(identifier, Identifier) else parse_identifier(identifier)
        with self.store.transaction():
            self.store.put(self.index_key(ident), subject.encode("ascii"))
            self.vault.put_json(
                subject,
                _IDENT_KIND,
                self.vault.keyring.blind_index(ident.kind, ident.value),
                {"kind": ident.kind, "value": ident.value, "at": self.clock.now().isoformat()},
            )

    def detach(self, subject: str, identifier: str | Identifier) -> bool:
        """Remove one identifier from a subject; return whether it was attached to it."""
        check_subject(subject)
        ident = identifier if isinstance(identifier, Identifier) else parse_identifier(identifier)
        key = self.index_key(ident)
        with self.store.transaction():
            raw = self.store.get(key)
            if raw is None or raw.decode("ascii") != subject:
                return False
            self.store.delete(key)
            self.vault.delete(
                subject, _IDENT_KIND, self.vault.keyring.blind_index(ident.kind, ident.value)
            )
            return True

    def retire(self, subject: str, stored: Identifier) -> None:
        """Drop one stored spelling: its ``ident`` record, and its index entry if it is ours.

        ``stored`` is taken as it was stored, never re-normalized: this is how ``personakit
        identity reindex`` drops a spelling that the current rules write differently.
        """
        key = self.index_key(stored)
        with self.store.transaction():
            raw = self.store.get(key)
            if raw is not None and raw.decode("ascii") == subject:
                self.store.delete(key)
            self.vault.delete(
                subject, _IDENT_KIND, self.vault.keyring.blind_index(stored.kind, stored.value)
            )

    def identifiers(self, subject: str) -> list[Identifier]:
        """The identifiers attached to a subject, sorted by kind and value."""
        check_subject(subject)
        found = [
            Identifier(kind=doc["kind"], value=doc["value"])
            for doc in (_json(raw) for _, _, raw in self.vault.scan(subject, _IDENT_KIND))
        ]
        return sorted(found, key=lambda ident: (ident.kind, ident.value))

    def exists(self, subject: str) -> bool:
        """Whether the subject exists (has its meta record); False for a non-pseudonym."""
        if not valid_subject_id(subject):
            return False
        return self.store.get(self.meta_key(subject)) is not None

    @staticmethod
    def meta_key(subject: str) -> str:
        """The store key whose presence is :meth:`exists` (to read it with others at once)."""
        return Vault.key(subject, _META_KIND, "subject")

    def created_at(self, subject: str) -> datetime:
        """When the subject was created."""
        check_subject(subject)
        meta = self.vault.get_json(subject, _META_KIND, "subject")
        if meta is None:
            raise SubjectNotFound
        return datetime.fromisoformat(meta["created_at"])

    def drop_all(self, subject: str) -> int:
        """Delete every index entry pointing at ``subject``; return how many.

        Reads the subject's own ``ident`` records to find them, so it costs O(subject).
        """
        check_subject(subject)
        count = 0
        with self.store.transaction():
            for ident in self.identifiers(subject):
                key = self.index_key(ident)
                raw = self.store.get(key)
                if raw is not None and raw.decode("ascii") == subject:
                    self.store.delete(key)
                    count += 1
        return count


def _json(raw: bytes) -> dict[str, str]:
    doc = loads(raw)
    if not isinstance(doc, dict):
        msg = "identifier record is not an object"
        raise TypeError(msg)
    return doc
