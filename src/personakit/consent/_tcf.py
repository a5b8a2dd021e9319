"""Decode IAB TCF v2.2 Transparency & Consent (TC) strings.

A TC string is one to four base64url segments (no padding) joined with dots. The first is
always the *core* segment, which this module decodes completely: metadata (version, timestamps,
CMP, languages, vendor list and policy versions), special feature opt-ins, purpose consents and
legitimate interests, the vendor consent and vendor legitimate interest sections (bitfield or
range encoded) and the publisher restrictions.

The optional segments after it are checked for a 3-bit segment type that the specification
defines and that appears once. The publisher TC segment (type 3: the person's choices for the
publisher itself, its standard and custom purposes) is decoded in full; the disclosed and
allowed vendors segments are not (their contents are ignored). The Google "additional
consent" string is a separate signal and is not handled here.

Only version 2 is accepted; TCF policy versions (v2.0 = 2, v2.2 = 4, ...) are reported as read,
not interpreted. Every malformation raises :class:`~personakit.exceptions.InvalidInput`; its
problems say which field or section is wrong and never repeat the string itself.
"""

from __future__ import annotations

import base64
import binascii
import re
from datetime import UTC, datetime, timedelta
from enum import IntEnum

from attrs import evolve, frozen

from personakit.exceptions import InvalidInput, Problem

__all__ = [
    "PublisherRestriction",
    "PublisherTC",
    "RestrictionType",
    "TCString",
    "decode_tc_string",
]

_WHERE = "tc_string"
_SUMMARY = "invalid TC string"
_BASE64URL = re.compile(r"[A-Za-z0-9_-]+")
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)

_SUPPORTED_VERSION = 2
# Every field from Created to PublisherCC is fixed width: 36+36+12+12+6+12+12+6+1+1+12+24+24+1+12.
_HEADER_BITS_AFTER_VERSION = 207
_MAX_LETTER = 25  # letters are encoded as 6 bits, A=0 .. Z=25
_MAX_PURPOSE_ID = 24  # PurposesConsent is a 24-bit field: the purpose id space

# A range entry of 33 bits can name 65535 vendors, so a few kilobytes of crafted input could
# otherwise make the decoder materialise hundreds of millions of ids. Real strings expand to a
# few thousand (the GVL lists about a thousand vendors); 2**18 leaves ample headroom.
_MAX_EXPANDED_IDS = 1 << 18

_SEGMENT_NAMES = {1: "disclosed vendors", 2: "allowed vendors", 3: "publisher TC"}
_PUBLISHER_TC = 3


class RestrictionType(IntEnum):
    """What a publisher restriction requires of the vendors it lists."""

    NOT_ALLOWED = 0
    """The purpose is flatly not allowed for these vendors."""
    REQUIRE_CONSENT = 1
    """The vendors must rely on consent (if they declared the purpose flexible)."""
    REQUIRE_LEGITIMATE_INTEREST = 2
    """The vendors must rely on legitimate interest (if they declared the purpose flexible)."""


_RESTRICTION_TYPES = frozenset(int(member) for member in RestrictionType)


@frozen(kw_only=True)
class PublisherRestriction:
    """One publisher restriction entry from the core segment.

    Attributes:
        purpose_id: The purpose (1-24) the restriction applies to.
        restriction_type: What the publisher requires for that purpose.
        vendor_ids: The vendors the restriction applies to.
    """

    purpose_id: int
    restriction_type: RestrictionType
    vendor_ids: frozenset[int]


@frozen(kw_only=True)
class PublisherTC:
    """The publisher TC segment: the person's choices for the publisher's own processing.

    Attributes:
        purpose_consents: IDs (1-24) of the standard purposes consented to for the publisher.
        purpose_legitimate_interests: IDs (1-24) of the standard purposes with the publisher's
            legitimate interest established and not objected to.
        custom_purpose_consents: IDs (1-63) of the publisher's custom purposes consented to.
        custom_purpose_legitimate_interests: IDs of the custom purposes on legitimate interest.
    """

    purpose_consents: frozenset[int]
    purpose_legitimate_interests: frozenset[int]
    custom_purpose_consents: frozenset[int]
    custom_purpose_legitimate_interests: frozenset[int]


@frozen(kw_only=True)
class TCString:
    """The decoded core segment of a TCF v2 TC string.

    Attributes:
        version: Encoding format version; always 2.
        created: When the string was first created (UTC, decisecond precision).
        last_updated: When the string was last updated (UTC, decisecond precision).
        cmp_id: Registered ID of the CMP that last updated the string.
        cmp_version: That CMP's own version number.
        consent_screen: CMP-internal number of the screen where the user made the choice.
        consent_language: Two-letter upper-case ISO 639-1 code of the CMP UI, e.g. ``"EN"``.
        vendor_list_version: Version of the Global Vendor List used.
        tcf_policy_version: TCF policy version of that list (4 for TCF v2.2).
        is_service_specific: Whether the signals apply to this service (site or app) only.
        use_non_standard_texts: Whether the CMP used non-standard purpose or stack texts.
        special_feature_optins: IDs (1-12) of the special features the user opted in to.
        purpose_consents: IDs (1-24) of the purposes the user consented to.
        purpose_legitimate_interests: IDs (1-24) of the purposes with legitimate interest
            established and not objected to.
        purpose_one_treatment: True when purpose 1 was *not* disclosed (jurisdictions that do
            not require consent for it).
        publisher_cc: ISO 3166-1 alpha-2 country code of the publisher's legislation.
        vendor_consents: IDs of the vendors the user consented to.
        vendor_legitimate_interests: IDs of the vendors with legitimate interest established
            and not objected to.
        publisher_restrictions: Publisher restriction entries, in encoded order.
        publisher_tc: The publisher TC segment, if the string has one.
    """

    version: int
    created: datetime
    last_updated: datetime
    cmp_id: int
    cmp_version: int
    consent_screen: int
    consent_language: str
    vendor_list_version: int
    tcf_policy_version: int
    is_service_specific: bool
    use_non_standard_texts: bool
    special_feature_optins: frozenset[int]
    purpose_consents: frozenset[int]
    purpose_legitimate_interests: frozenset[int]
    purpose_one_treatment: bool
    publisher_cc: str
    vendor_consents: frozenset[int]
    vendor_legitimate_interests: frozenset[int]
    publisher_restrictions: tuple[PublisherRestriction, ...]
    publisher_tc: PublisherTC | None = None


def decode_tc_string(tc_string: str) -> TCString:
    """Decode the core segment of a TCF v2 TC string.

    Args:
        tc_string: The TC string as sent by a CMP (for example the ``euconsent-v2`` cookie or
            ``tcData.tcString``), dot-separated segments of unpadded base64url.

    Returns:
        The decoded core segment, with the publisher TC segment if present. Other segments
        are checked for a known segment type and otherwise ignored.

    Raises:
        InvalidInput: If the input is not a string, is empty, is not base64url, is not
            version 2, ends before a section it announces, or holds impossible values (a range
            ending before it starts, vendor id 0, an id above MaxVendorId, a letter outside
            A-Z, an undefined restriction type, an unknown or repeated segment type). Every
            problem found is listed; none of them repeats the input.
    """
    untyped: object = tc_string  # callers without a type checker can pass anything
    if not isinstance(untyped, str):
        what = f"must be a str, not {type(untyped).__name__}"
        raise InvalidInput(_SUMMARY, [Problem(where=_WHERE, what=what)])
    if not tc_string:
        raise InvalidInput(_SUMMARY, [Problem(where=_WHERE, what="is empty")])

    problems: list[Problem] = []
    core, *others = tc_string.split(".")
    decoded: TCString | None = None
    core_bytes = _decode_segment(core, "core segment", problems)
    if core_bytes is not None:
        decoded = _CoreDecoder(core_bytes, problems).decode()
    publisher = _check_other_segments(others, problems)
    if problems or decoded is None:
        raise InvalidInput(_SUMMARY, problems)
    return decoded if publisher is None else evolve(decoded, publisher_tc=publisher)


def _decode_segment(segment: str, label: str, problems: list[Problem]) -> bytes | None:
    if not segment:
        problems.append(Problem(where=_WHERE, what=f"{label} is empty"))
        return None
    if _BASE64URL.fullmatch(segment) is None:
        what = f"{label} is not base64url (only A-Z, a-z, 0-9, '-' and '_' are allowed)"
        problems.append(Problem(where=_WHERE, what=what))
        return None
    if len(segment) % 4 == 1:
        # No byte sequence encodes to 4n+1 characters; the stdlib would reject it anyway.
        what = f"{label} is not valid base64url ({len(segment)} characters is an impossible length)"
        problems.append(Problem(where=_WHERE, what=what))
        return None
    try:
        return base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4))
    except (binascii.Error, ValueError):
        problems.append(Problem(where=_WHERE, what=f"{label} is not valid base64url"))
        return None


def _check_other_segments(segments: list[str], problems: list[Problem]) -> PublisherTC | None:
    seen: set[int] = set()
    publisher: PublisherTC | None = None
    for number, segment in enumerate(segments, start=2):
        label = f"segment {number}"
        data = _decode_segment(segment, label, problems)
        if data is None:
            continue
        segment_type = data[0] >> 5
        name = _SEGMENT_NAMES.get(segment_type)
        if segment_type == 0:
            what = f"{label} has type 0 (core), which is only allowed as the first segment"
        elif name is None:
            what = f"{label} has unknown segment type {segment_type} (expected 1, 2 or 3)"
        elif segment_type in seen:
            what = f"{label} repeats the {name} segment (type {segment_type})"
        else:
            seen.add(segment_type)
            if segment_type == _PUBLISHER_TC:
                publisher = _decode_publisher_tc(data, label, problems)
            continue
        problems.append(Problem(where=_WHERE, what=what))
    return publisher


def _decode_publisher_tc(data: bytes, label: str, problems: list[Problem]) -> PublisherTC | None:
    bits = _Bits(data)
    section = f"{label} (publisher TC)"
    try:
        bits.take(3, section)  # the segment type, checked by the caller
        consents = bits.read_flags(24, section)
        interests = bits.read_flags(24, section)
        custom = bits.read_int(6, section)
        custom_consents = bits.read_flags(custom, section)
        custom_interests = bits.read_flags(custom, section)
    except _AbortError as abort:
        problems.append(Problem(where=_WHERE, what=abort.what))
        return None
    return PublisherTC(
        purpose_consents=consents,
        purpose_legitimate_interests=interests,
        custom_purpose_consents=custom_consents,
        custom_purpose_legitimate_interests=custom_interests,
    )


class _AbortError(Exception):
    """Decoding cannot go on; ``what`` is the problem to report."""

    def __init__(self, what: str) -> None:
        super().__init__(what)
        self.what = what


class _Bits:
    """A big-endian bit cursor over a decoded segment."""

    __slots__ = ("_bits", "_pos")

    def __init__(self, data: bytes) -> None:
        self._bits = "".join(f"{byte:08b}" for byte in data)
        self._pos = 0

    def require(self, count: int, section: str) -> None:
        left = len(self._bits) - self._pos
        if count > left:
            unit = "bit" if count == 1 else "bits"
            raise _AbortError(f"truncated: {section} needs {count} {unit}, {left} left")

    def take(self, count: int, section: str) -> str:
        self.require(count, section)
        chunk = self._bits[self._pos : self._pos + count]
        self._pos += count
        return chunk

    def read_int(self, count: int, section: str) -> int:
        return int(self.take(count, section), 2)

    def read_bool(self, section: str) -> bool:
        return self.take(1, section) == "1"

    def read_flags(self, count: int, section: str) -> frozenset[int]:
        chunk = self.take(count, section)
        return frozenset(index for index, bit in enumerate(chunk, start=1) if bit == "1")


class _CoreDecoder:
    """Reads the core segment field by field, collecting problems as it goes."""

    def __init__(self, data: bytes, problems: list[Problem]) -> None:
        self._bits = _Bits(data)
        self._problems = problems
        self._expanded = 0

    def decode(self) -> TCString | None:
        try:
            return self._decode()
        except _AbortError as abort:
            self._problems.append(Problem(where=_WHERE, what=abort.what))
            return None

    def _problem(self, what: str) -> None:
        self._problems.append(Problem(where=_WHERE, what=what))

    def _decode(self) -> TCString | None:
        bits = self._bits
        version = bits.read_int(6, "version")
        if version != _SUPPORTED_VERSION:
            self._problem(f"unsupported version {version} (only version 2 is decoded)")
            return None
        header = "core header"
        bits.require(_HEADER_BITS_AFTER_VERSION, header)
        created = _from_deciseconds(bits.read_int(36, header))
        last_updated = _from_deciseconds(bits.read_int(36, header))
        cmp_id = bits.read_int(12, header)
        cmp_version = bits.read_int(12, header)
        consent_screen = bits.read_int(6, header)
        consent_language = self._letters("consent language")
        vendor_list_version = bits.read_int(12, header)
        tcf_policy_version = bits.read_int(6, header)
        is_service_specific = bits.read_bool(header)
        use_non_standard_texts = bits.read_bool(header)
        special_feature_optins = bits.read_flags(12, header)
        purpose_consents = bits.read_flags(24, header)
        purpose_legitimate_interests = bits.read_flags(24, header)
        purpose_one_treatment = bits.read_bool(header)
        publisher_cc = self._letters("publisher country code")
        vendor_consents = self._vendor_section("vendor consent section")
        vendor_legitimate_interests = self._vendor_section("vendor legitimate interest section")
        publisher_restrictions = self._publisher_restrictions()
        return TCString(
            version=version,
            created=created,
            last_updated=last_updated,
            cmp_id=cmp_id,
            cmp_version=cmp_version,
            consent_screen=consent_screen,
            consent_language=consent_language,
            vendor_list_version=vendor_list_version,
            tcf_policy_version=tcf_policy_version,
            is_service_specific=is_service_specific,
            use_non_standard_texts=use_non_standard_texts,
            special_feature_optins=special_feature_optins,
            purpose_consents=purpose_consents,
            purpose_legitimate_interests=purpose_legitimate_interests,
            purpose_one_treatment=purpose_one_treatment,
            publisher_cc=publisher_cc,
            vendor_consents=vendor_consents,
            vendor_legitimate_interests=vendor_legitimate_interests,
            publisher_restrictions=publisher_restrictions,
        )

    def _letters(self, field: str) -> str:
        codes = [self._bits.read_int(6, field), self._bits.read_int(6, field)]
        bad = [code for code in codes if code > _MAX_LETTER]
        if bad:
            self._problem(f"{field} has letter code {bad[0]}, outside A-Z (0-25)")
            return ""
        return "".join(chr(ord("A") + code) for code in codes)

    def _vendor_section(self, section: str) -> frozenset[int]:
        max_vendor_id = self._bits.read_int(16, section)
        if self._bits.read_bool(section):
            return self._ranges(section, max_vendor_id)
        return self._bits.read_flags(max_vendor_id, section)

    def _ranges(self, section: str, max_vendor_id: int | None) -> frozenset[int]:
        count = self._bits.read_int(12, section)
        ids: set[int] = set()
        for number in range(1, count + 1):
            entry = f"{section} range entry {number}"
            is_range = self._bits.read_bool(entry)
            start = self._bits.read_int(16, entry)
            end = self._bits.read_int(16, entry) if is_range else start
            if start == 0:
                self._problem(f"{entry} has vendor id 0 (ids start at 1)")
            elif end < start:
                self._problem(f"{entry} ends at {end}, before its start {start}")
            elif max_vendor_id is not None and end > max_vendor_id:
                self._problem(f"{entry} has vendor id {end}, above MaxVendorId {max_vendor_id}")
            else:
                self._expanded += end - start + 1
                if self._expanded > _MAX_EXPANDED_IDS:
                    limit = _MAX_EXPANDED_IDS
                    raise _AbortError(f"range entries expand to more than {limit} vendor ids")
                ids.update(range(start, end + 1))
        return frozenset(ids)

    def _publisher_restrictions(self) -> tuple[PublisherRestriction, ...]:
        section = "publisher restrictions section"
        count = self._bits.read_int(12, section)
        restrictions: list[PublisherRestriction] = []
        for number in range(1, count + 1):
            entry = f"publisher restriction {number}"
            purpose_id = self._bits.read_int(6, entry)
            raw_type = self._bits.read_int(2, entry)
            # The entries carry no MaxVendorId of their own, so ids are bounded only by 16 bits.
            vendor_ids = self._ranges(entry, None)
            if not 1 <= purpose_id <= _MAX_PURPOSE_ID:
                self._problem(f"{entry} has purpose id {purpose_id}, outside 1-{_MAX_PURPOSE_ID}")
            elif raw_type not in _RESTRICTION_TYPES:
                self._problem(f"{entry} has undefined restriction type {raw_type}")
            else:
                restrictions.append(
                    PublisherRestriction(
                        purpose_id=purpose_id,
                        restriction_type=RestrictionType(raw_type),
                        vendor_ids=vendor_ids,
                    )
                )
        return tuple(restrictions)


def _from_deciseconds(deciseconds: int) -> datetime:
    return _EPOCH + timedelta(milliseconds=100 * deciseconds)
