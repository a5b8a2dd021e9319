"""Tests for the TCF v2 TC string decoder (personakit.consent._tcf)."""

from __future__ import annotations

import base64
import contextlib
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from attrs import evolve
from hypothesis import given, settings
from hypothesis import strategies as st

from personakit.consent._tcf import (
    PublisherRestriction,
    PublisherTC,
    RestrictionType,
    TCString,
    decode_tc_string,
)
from personakit.exceptions import InvalidInput, Problem

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


# --- A small encoder, for tests only: builds core segments bit by bit --------------------------


def bits_int(value: int, width: int) -> str:
    assert 0 <= value < 1 << width, (value, width)
    return format(value, f"0{width}b")


def bits_flags(ids: frozenset[int] | set[int], width: int) -> str:
    return "".join("1" if i in ids else "0" for i in range(1, width + 1))


def bits_letters(text: str) -> str:
    return "".join(bits_int(ord(letter) - ord("A"), 6) for letter in text)


def runs(ids: frozenset[int] | set[int]) -> list[tuple[int, int]]:
    """Group ids into (start, end) runs of consecutive ids."""
    out: list[tuple[int, int]] = []
    for vendor_id in sorted(ids):
        if out and out[-1][1] == vendor_id - 1:
            out[-1] = (out[-1][0], vendor_id)
        else:
            out.append((vendor_id, vendor_id))
    return out


def bits_range_entries(entries: list[tuple[int, int]]) -> str:
    out = bits_int(len(entries), 12)
    for start, end in entries:
        if start == end:
            out += "0" + bits_int(start, 16)
        else:
            out += "1" + bits_int(start, 16) + bits_int(end, 16)
    return out


def bits_vendor_section(
    ids: frozenset[int] | set[int],
    *,
    use_ranges: bool = False,
    max_vendor_id: int | None = None,
    entries: list[tuple[int, int]] | None = None,
) -> str:
    top = max(ids, default=0) if max_vendor_id is None else max_vendor_id
    if use_ranges:
        return (
            bits_int(top, 16) + "1" + bits_range_entries(runs(ids) if entries is None else entries)
        )
    return bits_int(top, 16) + "0" + bits_flags(ids, top)


def bits_restrictions(restrictions: list[tuple[int, int, list[tuple[int, int]]]]) -> str:
    out = bits_int(len(restrictions), 12)
    for purpose_id, restriction_type, entries in restrictions:
        out += bits_int(purpose_id, 6) + bits_int(restriction_type, 2) + bits_range_entries(entries)
    return out


DEFAULTS: dict[str, Any] = {
    "version": 2,
    "created": 15_000_000_000,
    "last_updated": 15_000_000_123,
    "cmp_id": 300,
    "cmp_version": 4,
    "consent_screen": 2,
    "consent_language": "EN",
    "vendor_list_version": 120,
    "tcf_policy_version": 4,
    "is_service_specific": True,
    "use_non_standard_texts": False,
    "special_feature_optins": frozenset({1}),
    "purpose_consents": frozenset({1, 2, 10}),
    "purpose_legitimate_interests": frozenset({2, 7}),
    "purpose_one_treatment": False,
    "publisher_cc": "DE",
    "vendor_consents": frozenset({1, 2, 755}),
    "vendor_consents_ranges": False,
    "vendor_legitimate_interests": frozenset({8, 9, 10}),
    "vendor_legitimate_interests_ranges": True,
    "publisher_restrictions": [],
}


def core_bits(**overrides: Any) -> str:
    """Encode a core segment as a bit string; ``*_section`` overrides replace whole sections."""
    f = {**DEFAULTS, **overrides}
    header = (
        bits_int(f["version"], 6)
        + bits_int(f["created"], 36)
        + bits_int(f["last_updated"], 36)
        + bits_int(f["cmp_id"], 12)
        + bits_int(f["cmp_version"], 12)
        + bits_int(f["consent_screen"], 6)
        + bits_letters(f["consent_language"])
        + bits_int(f["vendor_list_version"], 12)
        + bits_int(f["tcf_policy_version"], 6)
        + str(int(f["is_service_specific"]))
        + str(int(f["use_non_standard_texts"]))
        + bits_flags(f["special_feature_optins"], 12)
        + bits_flags(f["purpose_consents"], 24)
        + bits_flags(f["purpose_legitimate_interests"], 24)
        + str(int(f["purpose_one_treatment"]))
        + bits_letters(f["publisher_cc"])
    )
    consents = overrides.get("consent_section") or bits_vendor_section(
        f["vendor_consents"], use_ranges=f["vendor_consents_ranges"]
    )
    interests = overrides.get("interest_section") or bits_vendor_section(
        f["vendor_legitimate_interests"], use_ranges=f["vendor_legitimate_interests_ranges"]
    )
    restrictions = overrides.get("restriction_section") or bits_restrictions(
        f["publisher_restrictions"]
    )
    return header + consents + interests + restrictions


def to_base64url(bits: str) -> str:
    """Pad to whole bytes and encode as unpadded base64url, as CMPs do."""
    bits += "0" * (-len(bits) % 8)
    data = int(bits, 2).to_bytes(len(bits) // 8, "big") if bits else b""
    return base64.urlsafe_b64encode(data).decode("ascii").rstrip("=")


def encode(**overrides: Any) -> str:
    return to_base64url(core_bits(**overrides))


def segment(segment_type: int, payload_bits: str = "0" * 21) -> str:
    if segment_type == PUBLISHER_TC and payload_bits == "0" * 21:
        payload_bits = publisher_bits(frozenset(), frozenset(), frozenset(), frozenset(), 0)
    return to_base64url(bits_int(segment_type, 3) + payload_bits)


PUBLISHER_TC = 3


def publisher_bits(
    consents: frozenset[int],
    interests: frozenset[int],
    custom_consents: frozenset[int],
    custom_interests: frozenset[int],
    custom: int,
) -> str:
    """The publisher TC segment after its type: 24 + 24 bits, NumCustomPurposes, 2 x custom."""
    return (
        bits_flags(consents, 24)
        + bits_flags(interests, 24)
        + bits_int(custom, 6)
        + bits_flags(custom_consents, custom)
        + bits_flags(custom_interests, custom)
    )


def at(deciseconds: int) -> datetime:
    return EPOCH + timedelta(milliseconds=100 * deciseconds)


def problems_of(tc_string: object) -> list[str]:
    with pytest.raises(InvalidInput) as caught:
        decode_tc_string(tc_string)  # type: ignore[arg-type]
    for problem in caught.value.problems:
        assert isinstance(problem, Problem)
        assert problem.where == "tc_string"
    return [problem.what for problem in caught.value.problems]


# --- Published examples -----------------------------------------------------------------------


def test_iab_reference_cli_example() -> None:
    """The example in IAB Tech Lab's reference decoder README decodes to its published fields."""
    # Source: InteractiveAdvertisingBureau/iabtcf-es, modules/cli/README.md ("tcstring ..." output).
    # Published: created/lastUpdated "Mon Dec 09 2019 18:01:46 GMT-0800", i.e. 02:01:46 UTC.
    tc = decode_tc_string("COrVd1pOrVd1pACABCENAHCAAAAAAAAAAAiQAAAAAAAA")
    assert tc.version == 2
    assert tc.cmp_id == 2
    assert tc.cmp_version == 1
    assert tc.consent_screen == 2
    assert tc.consent_language == "EN"
    assert tc.created.replace(microsecond=0) == datetime(2019, 12, 10, 2, 1, 46, tzinfo=UTC)
    assert tc.last_updated == tc.created
    assert tc.tcf_policy_version == 2
    assert tc.is_service_specific is False
    assert tc.use_non_standard_texts is False
    assert tc.purpose_one_treatment is False
    assert tc.publisher_cc == "ES"
    assert tc.vendor_list_version == 7
    assert tc.purpose_consents == tc.purpose_legitimate_interests == frozenset()
    assert tc.special_feature_optins == frozenset()
    assert tc.vendor_consents == tc.vendor_legitimate_interests == frozenset()
    assert tc.publisher_restrictions == ()


PERL_BITFIELD = "CLcVDxRMWfGmWAVAHCENAXCkAKDAADnAABRgA5mdfCKZuYJez-NQm0TBMYA4oCAAGQYIAAAAAAEAIAEgAA"


def test_perl_parser_bitfield_example() -> None:
    """A bitfield-encoded string decodes to every value published in the Perl parser's tests."""
    # Source: peczenyj/GDPR-IAB-TCFv2, t/01-parse.t, "valid tcf v2 consent string using bitfield"
    # (created 1228644257 s + 700000000 ns, last_updated 1326215413 s + 400000000 ns, ...).
    tc = decode_tc_string(PERL_BITFIELD)
    assert tc == TCString(
        version=2,
        created=datetime.fromtimestamp(1228644257, UTC) + timedelta(milliseconds=700),
        last_updated=datetime.fromtimestamp(1326215413, UTC) + timedelta(milliseconds=400),
        cmp_id=21,
        cmp_version=7,
        consent_screen=2,
        consent_language="EN",
        vendor_list_version=23,
        tcf_policy_version=2,
        is_service_specific=True,
        use_non_standard_texts=False,
        special_feature_optins=frozenset({2}),
        purpose_consents=frozenset({1, 3, 9, 10}),
        purpose_legitimate_interests=frozenset({3, 4, 5, 8, 9, 10}),
        purpose_one_treatment=False,
        publisher_cc="KM",
        vendor_consents=frozenset(
            {2, 3, 6, 7, 8, 10, 12, 13, 14, 15, 16, 21, 25, 27, 30, 31, 34, 35, 37, 38, 39}
            | {42, 43, 49, 52, 54, 55, 56, 57, 59, 60, 63, 64, 65, 66, 67, 68, 69, 73, 74, 76}
            | {78, 83, 86, 87, 89, 90, 92, 96, 99, 100, 106, 109, 110, 114, 115}
        ),
        vendor_legitimate_interests=frozenset({1, 9, 26, 27, 30, 36, 37, 43, 86, 97, 110, 113}),
        publisher_restrictions=(),
    )


@pytest.mark.parametrize(
    ("publisher_tc", "expected"),
    [
        (
            "argAC0gAAAAAAAAAAAA",
            PublisherTC(
                purpose_consents=frozenset({2, 4, 6, 8, 9, 10}),
                purpose_legitimate_interests=frozenset({2, 4, 5, 7, 10}),
                custom_purpose_consents=frozenset(),
                custom_purpose_legitimate_interests=frozenset(),
            ),
        ),
        (
            "YAAAAAAAAXA",
            PublisherTC(
                purpose_consents=frozenset(),
                purpose_legitimate_interests=frozenset(),
                custom_purpose_consents=frozenset({1, 2}),
                custom_purpose_legitimate_interests=frozenset({1}),
            ),
        ),
    ],
)
def test_perl_parser_publisher_tc_segment(publisher_tc: str, expected: PublisherTC) -> None:
    """A trailing publisher TC segment (type 3) decodes as the Perl parser reads it."""
    # Source: peczenyj/GDPR-IAB-TCFv2, t/01-parse.t, "... bitfield with publisher TC section".
    decoded = decode_tc_string(f"{PERL_BITFIELD}.{publisher_tc}")
    assert decoded.publisher_tc == expected
    assert evolve(decoded, publisher_tc=None) == decode_tc_string(PERL_BITFIELD)


def test_truncated_publisher_tc_segment_is_rejected() -> None:
    """A publisher TC segment that ends inside its custom purposes is a typed error."""
    short = to_base64url(bits_int(PUBLISHER_TC, 3) + "0" * 48 + bits_int(30, 6) + "1" * 10)
    assert problems_of(f"{encode()}.{short}") == [
        "truncated: segment 2 (publisher TC) needs 30 bits, 15 left"
    ]


def test_perl_parser_range_example() -> None:
    """A range-encoded string decodes to every value published in the Perl parser's tests."""
    # Source: peczenyj/GDPR-IAB-TCFv2, t/01-parse.t, "valid tcf v2 consent string using range".
    tc = decode_tc_string(
        "COyfVVoOyfVVoADACHENAwCAAAAAAAAAAAAAE5QBgALgAqgD8AQACSwEygJyAnSAMABgAFkAgQCDASeAmYBOgAA"
    )
    assert tc == TCString(
        version=2,
        created=datetime.fromtimestamp(1587946020, UTC),
        last_updated=datetime.fromtimestamp(1587946020, UTC),
        cmp_id=3,
        cmp_version=2,
        consent_screen=7,
        consent_language="EN",
        vendor_list_version=48,
        tcf_policy_version=2,
        is_service_specific=False,
        use_non_standard_texts=False,
        special_feature_optins=frozenset(),
        purpose_consents=frozenset(),
        purpose_legitimate_interests=frozenset(),
        purpose_one_treatment=False,
        publisher_cc="AA",
        vendor_consents=frozenset({23, 42, 126, 127, 128, 587, 613, 626}),
        vendor_legitimate_interests=frozenset({24, 44, 129, 130, 131, 591, 614, 628}),
        publisher_restrictions=(),
    )


def restricted(tc: TCString, purpose_id: int, restriction_type: int, vendor_id: int) -> bool:
    return any(
        r.purpose_id == purpose_id
        and r.restriction_type == restriction_type
        and vendor_id in r.vendor_ids
        for r in tc.publisher_restrictions
    )


def test_perl_parser_publisher_restriction_examples() -> None:
    """Publisher restrictions match the Perl parser's published (purpose, type, vendor) checks."""
    # Source: peczenyj/GDPR-IAB-TCFv2, t/01-parse.t, "check publisher restriction #1" and "#2".
    first = decode_tc_string("COwAdDhOwAdDhN4ABAENAPCgAAQAAv___wAAAFP_AAp_4AI6ACACAA")
    assert restricted(first, 7, 1, 32)
    assert not restricted(first, 1, 0, 284)
    assert not restricted(first, 7, 1, 7)
    assert not restricted(first, 5, 1, 32)
    assert first.publisher_restrictions == (
        PublisherRestriction(
            purpose_id=7,
            restriction_type=RestrictionType.REQUIRE_CONSENT,
            vendor_ids=frozenset({32}),
        ),
    )

    second = decode_tc_string(
        "COxPe2TOxPe2TALABAENAPCgAAAAAAAAAAAAAFAAAAoAAA4IACACAIABgACAFA4ADACAAIygAGADwAQBIAIAIB0"
        "AEAEBSACACAA"
    )
    assert second.purpose_one_treatment is False
    assert 3 not in second.special_feature_optins
    for purpose_id, restriction_type, vendor_id in [(1, 0, 32), (2, 0, 32), (2, 0, 5)]:
        assert restricted(second, purpose_id, restriction_type, vendor_id)
    for purpose_id, restriction_type, vendor_id in [(2, 0, 11), (2, 1, 32)]:
        assert restricted(second, purpose_id, restriction_type, vendor_id)
    for purpose_id, restriction_type, vendor_id in [(1, 0, 284), (1, 1, 32), (2, 0, 44)]:
        assert not restricted(second, purpose_id, restriction_type, vendor_id)
    for purpose_id, restriction_type, vendor_id in [(2, 0, 500), (2, 1, 42)]:
        assert not restricted(second, purpose_id, restriction_type, vendor_id)


def test_perl_parser_tcf_v23_example_with_policy_version_5() -> None:
    """A TCF v2.3 string (policy version 5) with a publisher TC segment decodes."""
    # Source: peczenyj/GDPR-IAB-TCFv2, t/05-tcf-v23.t, "TCF v2.3 Mandatory segment" ($tc_v23_no_dv),
    # whose published policy_version is 5.
    tc = decode_tc_string(
        "CP188cAQKFpAAAHABBENBSFsAP_gAEPgAAiQKqNX_H__bW9r8X73aft0eY1P9_j77uQxBhfJE-4FzLvW_JwXx2ExN"
        "A36tqIKmRIEu3bBIQNlHJHUTVigaogVryHMak2cpTNKJ6BkiFMRM2dYCF5vm4tj-QKY5_r993dx2D-t_dv83dzyz8"
        "1Hn3f5_2e0eLCdQ5-tDfv9bROb-9IPd_78v4v8_l_rk2_eT1n_tevr7D_-ft8__XW_9_fff_9Pn_-uB_-_3_vf_EF"
        "UwCTDQqIA-wJCQg0DCKBACoKwgIoFAQAAJA0QEAJgwKdgYALrCRACAFAAMEAIAAQZAAgAAAgAQiACQAoEAAEAgUAA"
        "YAEAwEABAwAAgAsBAIAAQHQMUwIIFAsIEjMioUwIQoEggJbKhBICgQVwhCLPAIgERMFAAgAAAVgACAsFgcSSAlQkE"
        "CXUG0AABAAgFEIFQgk9MAAwJmy1B4MG0ZWmAYPmCRDTAMgCIIyEAAAA.f_wACHwAAAAA"
    )
    assert tc.version == 2
    assert tc.tcf_policy_version == 5
    assert 10 in tc.purpose_legitimate_interests


# The published fixture lists every vendor id set; kept here in full so the check is exact.
SEED_B_CONSENTS = frozenset(
    {2, 6, 8, 9, 10, 11, 12, 15, 18, 21, 23, 25, 32, 33, 36, 37, 41, 42, 44, 45, 47, 49, 50, 52}
    | {53, 58, 61, 65, 66, 68, 69, 72, 73, 78, 80, 82, 86, 88, 89, 90, 94, 100, 104, 109, 114}
    | {115, 119, 120, 126, 127, 128, 129, 130, 133, 136, 137, 138, 142, 143, 144, 147, 149, 153}
    | {155, 163, 164, 167, 177, 179, 184, 185, 192, 199, 203, 205, 206, 210, 213, 215, 216, 223}
    | {224, 226, 228, 235, 240, 241, 242, 243, 248, 250, 253, 255, 256, 262, 263, 265, 272, 273}
    | {277, 279, 280, 281, 285, 302, 303, 304, 310, 314, 315, 318, 319, 325, 328, 336, 350, 351}
    | {358, 368, 374, 387, 394, 402, 409, 413, 416, 422, 423, 424, 428, 429, 436, 439, 440, 447}
    | {450, 467, 479, 490, 491, 495, 498, 502, 507, 511, 512, 516, 524, 530, 531, 535, 536, 543}
    | {545, 546, 549, 550, 553, 554, 556, 559, 568, 571, 580, 587, 593, 602, 606, 607, 609, 610}
    | {612, 613, 617, 618, 620, 626, 628, 639, 645, 648, 650, 652, 653, 656, 657, 662, 663, 664}
    | {665, 668, 674, 675, 676, 678, 681, 683, 686, 687, 690, 691, 694, 699, 702, 703, 707, 708}
    | {709, 711, 712, 713, 714, 716, 719, 720, 721, 723, 725, 726, 727, 733, 734, 735, 737, 738}
    | {739, 740, 741, 742, 743, 744, 745, 746, 747, 748, 750}
)
SEED_B_INTERESTS = frozenset(
    {2, 8, 11, 15, 21, 23, 25, 32, 33, 42, 45, 49, 52, 59, 68, 82, 86, 88, 89, 93, 100, 104, 109}
    | {114, 115, 127, 136, 137, 138, 142, 163, 164, 174, 177, 179, 203, 210, 215, 218, 223, 224}
    | {226, 240, 248, 253, 255, 256, 263, 265, 273, 277, 278, 279, 280, 310, 318, 319, 336, 365}
    | {371, 394, 409, 428, 436, 440, 467, 486, 498, 502, 511, 543, 544, 546, 554, 559, 580, 587}
    | {599, 610, 613, 617, 620, 645, 656, 657, 659, 664, 678, 684, 688, 694, 699, 709, 714, 720}
    | {721, 722, 729, 738, 740, 744, 745, 746}
)


def test_python_iab_tcf_seed_b() -> None:
    """A real CMP string decodes to the python iab-tcf package's published seed values."""
    # Source: gguridi/iab-tcf, tests/seed/v2/consent_b.json. Its times are truncated to whole
    # seconds (utcfromtimestamp of int(deciseconds / 10)), hence the replace(microsecond=0).
    tc = decode_tc_string(
        "COxR03kOxR1CqBcABCENAgCMAP_AAH_AAAqIF3EXySoGY2thI2YVFxBEIYwfJxyigMgChgQIsSwNQIeFLBoGLiAAH"
        "BGYJAQAGBAEEACBAQIkHGBMCQAAgAgBiRCMQEGMCzNIBIBAggEbY0FACCVmHkHSmZCY7064O__QLuIJEFQMAkSBAI"
        "ACLECIQwAQDiAAAYAlAAABAhIaAAgIWBQEeAAAACAwAAgAAABBAAACAAQAAICIAAABAAAgAiAQAAAAGgIQAACBABA"
        "CRIAAAEANCAAgiCEAQg4EAo4AAA"
    )
    assert tc.created.replace(microsecond=0) == datetime(2020, 4, 3, 11, 43, 31, tzinfo=UTC)
    assert tc.last_updated.replace(microsecond=0) == datetime(2020, 4, 3, 11, 44, 42, tzinfo=UTC)
    assert (tc.version, tc.cmp_id, tc.cmp_version, tc.consent_screen) == (2, 92, 1, 2)
    assert (tc.consent_language, tc.vendor_list_version, tc.tcf_policy_version) == ("EN", 32, 2)
    assert (tc.is_service_specific, tc.use_non_standard_texts) == (False, False)
    assert tc.special_feature_optins == frozenset({1, 2})
    assert tc.purpose_consents == frozenset(range(1, 11))
    assert tc.purpose_legitimate_interests == frozenset(range(2, 11))
    assert tc.purpose_one_treatment is False
    assert tc.publisher_cc == "FR"
    assert tc.vendor_consents == SEED_B_CONSENTS
    assert tc.vendor_legitimate_interests == SEED_B_INTERESTS
    assert tc.publisher_restrictions == ()


# (vendor, purpose, restriction type) from the fixture's "publisherRestrictions", vendors <= 98;
# its isAllowed=false maps to type 0, isConsentRequired to 1, isLegitimateInterestRequired to 2.
SEED_A_RESTRICTIONS = [
    (1, 4, 0), (2, 2, 2), (6, 4, 0), (8, 2, 0), (10, 2, 0), (11, 8, 0), (14, 3, 2), (18, 3, 0),
    (20, 9, 1), (21, 2, 1), (23, 10, 0), (25, 10, 0), (28, 2, 0), (30, 2, 0), (32, 10, 1),
    (34, 3, 2), (39, 3, 2), (40, 7, 0), (42, 10, 0), (44, 6, 0), (45, 2, 0), (49, 9, 0),
    (50, 2, 0), (52, 10, 1), (59, 2, 0), (60, 7, 1), (62, 4, 0), (65, 8, 0), (66, 9, 0),
    (67, 7, 1), (68, 7, 1), (70, 7, 0), (71, 7, 0), (73, 3, 2), (76, 9, 0), (77, 10, 2),
    (79, 3, 0), (80, 9, 0), (82, 2, 2), (83, 2, 0), (84, 9, 2), (85, 7, 1), (86, 4, 0),
    (88, 7, 0), (91, 4, 2), (92, 10, 0), (98, 4, 2),
]  # fmt: skip


def test_python_iab_tcf_seed_a_publisher_restrictions() -> None:
    """A string with 26 restriction entries and a disclosed-vendors segment matches its seed."""
    # Source: gguridi/iab-tcf, tests/seed/v2/consent_a.json (core fields and the restriction map;
    # the library's get_restriction returns the first entry for a purpose that lists the vendor).
    tc = decode_tc_string(
        "CG6MJgNIvJb0TAUAEBENAzCMAFvAAG7AAAJYGUlUcVlfByPiu55Ad8JQeAgftrYDE6QzDgEJs8wJQB9WxJwQpEMgKB"
        "X4BoIIiRYEsnLAAAYkHAFcDQAAQIkVqSCsYkyMCyFCJJJEghIKM2ZYGG0OkcVQIRAY4wMsHeYAA2OrevzrigZOQCYQ"
        "FYAAkJQwEg0KRQIgQADAgUA4AIKEYUiSQ0JHBDMjAINAAAAEBiAhAgAAgCgBgAAAgAASEBACACAgEAAAAgABACNAQg"
        "AAkAQSAEAQBAAKgIEgBEEEoAgBgMBACgAARIpFBIIDQgAWAAEAAwAPgArAB3AH4AToA8QCEgEtAKSCgBwABABSAFwA"
        "XYAzAB_QFTBAEIACAAFAAcAA8AC0AGQAOwApgBzAD0AIaASoBLACaAGGAMgAewA-AB9gEIAI0AVAA4AB8gEVAI7ATE"
        "AmUBSIC2AF5AL-AYMAwggAJAAWAEEAWIBnADqAK-AW0AuABk4cAUAA4AEQAJwAkgDnAL8AtEBcQDIgGSBgB4AEgAng"
        "CJAHkARgAkwBKwCvAG8AOOAeoBJYCbAFigLoJQCAAKACIAI4AWkAxQBuAEXgJECQAwAKgKwAYeUAIAAXAAyACoALgA"
        "iwBJgCjAFKAVsBJACmwFbALkAXcAxkBkBSAKACAAGgA0gChgLtHAEAAUQBGAEcALAAmABsgDvAJaAdMBQgChwFLgKs"
        "AWyAxIBjEDHAMdGAAQAWEgBYAMQAhABMACgAG0ApoBZwFUgLxAXmAx4dAPAB5AEMARAAqgCEAFIANEAcQA_QCUgFiA"
        "LyAYQA2gC7wGGlQAIATSYAIAKgCmRIAYALYAYgA3gFZANQAusWACADMAjoUAEADwAMoAfIBaBUAEARw0AIAJkAaoA4"
        "AEgjwBgArQBZQDjAOQAdYA8QDbAHtASiAq8BYgCyQF2BoA4AywBqAFLAKuAawBDYCdiEAUAb4BAwC5gHoAU0RADgEu"
        "AJwAV-A_YD-AIiAS8AvYRACAYEAwkA.IGVtd_X9fb2vj-_599_t0eY1f9_63t-wzjheNs-8NyZ_X_J4Xv2MyvB34pq"
        "YKmR4kunbBAQdtHGncTQgBwIlVqTLsYk2MjzNKJ7JEmlsbe2dYGH9Pn8XT_ZKZ70-v___7v3______7oA"
    )
    assert tc.created.replace(microsecond=0) == datetime(1993, 7, 5, 11, 23, 32, tzinfo=UTC)
    assert tc.last_updated.replace(microsecond=0) == datetime(1999, 9, 23, 13, 34, 57, tzinfo=UTC)
    assert (tc.cmp_id, tc.cmp_version, tc.consent_screen, tc.vendor_list_version) == (20, 4, 1, 51)
    assert tc.purpose_consents == frozenset({2, 4, 5, 7, 8, 9, 10})
    assert tc.purpose_legitimate_interests == frozenset({2, 3, 5, 6, 7, 9, 10})
    assert tc.publisher_cc == "BL"
    assert max(tc.vendor_consents) == 809
    assert max(tc.vendor_legitimate_interests) == 807
    assert len(tc.publisher_restrictions) == 26
    for vendor_id, purpose_id, restriction_type in SEED_A_RESTRICTIONS:
        first = next(
            r
            for r in tc.publisher_restrictions
            if r.purpose_id == purpose_id and vendor_id in r.vendor_ids
        )
        assert first.restriction_type == restriction_type, (vendor_id, purpose_id)


def test_spec_example_version_1_string_is_rejected() -> None:
    """The spec's own segment example starts with a version-1 core, which is refused by name."""
    # Source: InteractiveAdvertisingBureau/GDPR-Transparency-and-Consent-Framework,
    # "TCFv2/IAB Tech Lab - Consent string and vendor list formats v2.md", "TC String Format".
    assert problems_of("BObdrPUOevsguAfDqFENCNAAAAAmeAAA.PVAfDObdrA") == [
        "unsupported version 1 (only version 2 is decoded)"
    ]


@pytest.mark.parametrize(
    ("tc_string", "what"),
    [
        (
            "COvcSpYOvcSpYC9AAAENAPCAAAAAAAAAAAAAAFAAAAA",
            "truncated: vendor legitimate interest section needs 1 bit, 0 left",
        ),
        (
            "COvcSpYOvcSpYC9AAAENAPCAAAAAAAAAAAAAAFQBgAAgABAACAAEAAQAAgAA",
            "truncated: vendor legitimate interest section needs 1 bit, 0 left",
        ),
    ],
)
def test_perl_parser_truncated_examples(tc_string: str, what: str) -> None:
    """The Perl parser's crafted truncated strings are reported as truncated, by section."""
    # Source: peczenyj/GDPR-IAB-TCFv2, t/01-parse.t, "invalid tcf consent string candidates"
    # (bitfield and range variants that declare a legitimate interest section without content).
    assert problems_of(tc_string) == [what]


# --- Round trip against the test encoder -------------------------------------------------------


@st.composite
def vendor_sets(draw: st.DrawFn) -> tuple[frozenset[int], bool]:
    ids = draw(
        st.one_of(
            st.frozensets(st.integers(1, 1200), max_size=40),
            st.frozensets(st.integers(1, 80), max_size=80),
            st.builds(
                lambda start, length: frozenset(range(start, start + length)),
                st.integers(1, 60000),
                st.integers(1, 500),
            ),
        )
    )
    return ids, draw(st.booleans())


@st.composite
def tc_fields(draw: st.DrawFn) -> dict[str, Any]:
    letters = st.text(alphabet="ABCDEFGHIJKLMNOPQRSTUVWXYZ", min_size=2, max_size=2)
    consents, consents_ranges = draw(vendor_sets())
    interests, interests_ranges = draw(vendor_sets())
    restriction = st.tuples(
        st.integers(1, 24),
        st.sampled_from(list(RestrictionType)),
        st.frozensets(st.integers(1, 65535), min_size=0, max_size=12),
    )
    return {
        "created": draw(st.integers(0, 2**36 - 1)),
        "last_updated": draw(st.integers(0, 2**36 - 1)),
        "cmp_id": draw(st.integers(0, 4095)),
        "cmp_version": draw(st.integers(0, 4095)),
        "consent_screen": draw(st.integers(0, 63)),
        "consent_language": draw(letters),
        "vendor_list_version": draw(st.integers(0, 4095)),
        "tcf_policy_version": draw(st.integers(0, 63)),
        "is_service_specific": draw(st.booleans()),
        "use_non_standard_texts": draw(st.booleans()),
        "special_feature_optins": draw(st.frozensets(st.integers(1, 12))),
        "purpose_consents": draw(st.frozensets(st.integers(1, 24))),
        "purpose_legitimate_interests": draw(st.frozensets(st.integers(1, 24))),
        "purpose_one_treatment": draw(st.booleans()),
        "publisher_cc": draw(letters),
        "vendor_consents": consents,
        "vendor_consents_ranges": consents_ranges,
        "vendor_legitimate_interests": interests,
        "vendor_legitimate_interests_ranges": interests_ranges,
        "publisher_restrictions": draw(st.lists(restriction, max_size=5)),
    }


@st.composite
def publisher_tcs(draw: st.DrawFn) -> PublisherTC:
    custom = draw(st.integers(0, 63))
    ids = st.frozensets(st.integers(1, 24))
    custom_ids = st.frozensets(st.integers(1, custom)) if custom else st.just(frozenset[int]())
    return PublisherTC(
        purpose_consents=draw(ids),
        purpose_legitimate_interests=draw(ids),
        custom_purpose_consents=draw(custom_ids),
        custom_purpose_legitimate_interests=draw(custom_ids),
    )


@settings(max_examples=150, deadline=None)
@given(tc_fields(), st.lists(st.sampled_from([1, 2, 3]), unique=True), publisher_tcs())
def test_round_trip(
    fields: dict[str, Any], other_segment_types: list[int], publisher: PublisherTC
) -> None:
    """Whatever the encoder writes, in bitfield or range form, the decoder reads back exactly."""
    encoded_restrictions = [
        (purpose_id, int(kind), runs(ids))
        for purpose_id, kind, ids in fields["publisher_restrictions"]
    ]
    custom = max(
        publisher.custom_purpose_consents | publisher.custom_purpose_legitimate_interests,
        default=0,
    )
    publisher_payload = publisher_bits(
        publisher.purpose_consents,
        publisher.purpose_legitimate_interests,
        publisher.custom_purpose_consents,
        publisher.custom_purpose_legitimate_interests,
        custom,
    )
    tc_string = ".".join(
        [encode(**{**fields, "publisher_restrictions": encoded_restrictions})]
        + [
            segment(t, publisher_payload) if t == PUBLISHER_TC else segment(t)
            for t in other_segment_types
        ]
    )
    assert decode_tc_string(tc_string) == TCString(
        version=2,
        created=at(fields["created"]),
        last_updated=at(fields["last_updated"]),
        cmp_id=fields["cmp_id"],
        cmp_version=fields["cmp_version"],
        consent_screen=fields["consent_screen"],
        consent_language=fields["consent_language"],
        vendor_list_version=fields["vendor_list_version"],
        tcf_policy_version=fields["tcf_policy_version"],
        is_service_specific=fields["is_service_specific"],
        use_non_standard_texts=fields["use_non_standard_texts"],
        special_feature_optins=fields["special_feature_optins"],
        purpose_consents=fields["purpose_consents"],
        purpose_legitimate_interests=fields["purpose_legitimate_interests"],
        purpose_one_treatment=fields["purpose_one_treatment"],
        publisher_cc=fields["publisher_cc"],
        vendor_consents=fields["vendor_consents"],
        vendor_legitimate_interests=fields["vendor_legitimate_interests"],
        publisher_restrictions=tuple(
            PublisherRestriction(purpose_id=purpose_id, restriction_type=kind, vendor_ids=ids)
            for purpose_id, kind, ids in fields["publisher_restrictions"]
        ),
        publisher_tc=publisher if PUBLISHER_TC in other_segment_types else None,
    )


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=60))
def test_arbitrary_text_never_raises_untyped(text: str) -> None:
    """Any text either decodes or raises InvalidInput, never IndexError or binascii.Error."""
    with contextlib.suppress(InvalidInput):
        decode_tc_string(text)


@settings(max_examples=300, deadline=None)
@given(tc_fields(), st.data())
def test_every_prefix_is_handled(fields: dict[str, Any], data: st.DataObject) -> None:
    """Cutting a valid core anywhere decodes or raises InvalidInput, never anything else."""
    fields["publisher_restrictions"] = [
        (purpose_id, int(kind), runs(ids))
        for purpose_id, kind, ids in fields["publisher_restrictions"]
    ]
    bits = core_bits(**fields)
    cut = data.draw(st.integers(0, len(bits) - 1))
    prefix = to_base64url(bits[:cut])
    with contextlib.suppress(InvalidInput):
        decode_tc_string(prefix)


# --- Details the round trip does not pin down --------------------------------------------------


def test_timestamps_are_utc_with_decisecond_precision() -> None:
    """Created and LastUpdated are deciseconds since the epoch, returned as aware UTC datetimes."""
    tc = decode_tc_string(encode(created=1, last_updated=2**36 - 1))
    assert tc.created == datetime(1970, 1, 1, 0, 0, 0, 100_000, tzinfo=UTC)
    assert tc.created.utcoffset() == timedelta(0)
    assert tc.last_updated == EPOCH + timedelta(seconds=(2**36 - 1) / 10)


@pytest.mark.parametrize("use_ranges", [False, True])
def test_highest_vendor_id_decodes_in_both_encodings(use_ranges: bool) -> None:
    """Vendor id 65535, the largest a 16-bit field holds, survives bitfield and range encoding."""
    ids = frozenset({1, 65535})
    tc = decode_tc_string(encode(vendor_consents=ids, vendor_consents_ranges=use_ranges))
    assert tc.vendor_consents == ids


def test_range_entries_may_overlap_and_come_unordered() -> None:
    """Range entries are unioned, in any order, as the reference decoder does."""
    section = bits_vendor_section(
        set(), use_ranges=True, max_vendor_id=20, entries=[(15, 20), (3, 3), (1, 16)]
    )
    tc = decode_tc_string(encode(consent_section=section))
    assert tc.vendor_consents == frozenset(range(1, 21))


def test_max_vendor_id_zero_means_no_vendors() -> None:
    """A MaxVendorId of 0 with a bitfield is an empty vendor set, not an error."""
    tc = decode_tc_string(
        encode(vendor_consents=frozenset(), vendor_legitimate_interests=frozenset())
    )
    assert tc.vendor_consents == tc.vendor_legitimate_interests == frozenset()


def test_length_two_mod_four_without_padding_decodes() -> None:
    """Unpadded base64url of any valid length decodes (padding is added before decoding)."""
    tc_string = encode()
    for extra in ("A", "AA", "AAA"):
        candidate = tc_string + extra
        if len(candidate) % 4 != 1:
            assert decode_tc_string(candidate) == decode_tc_string(tc_string)


# --- Rejections --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "what"),
    [
        (None, "must be a str, not NoneType"),
        (b"COrVd1pOrVd1pACABCENAHCAAAAAAAAAAAiQAAAAAAAA", "must be a str, not bytes"),
        (42, "must be a str, not int"),
        ("", "is empty"),
    ],
)
def test_non_strings_and_empty_are_rejected(value: object, what: str) -> None:
    """Input that is not a non-empty str is refused with a typed problem."""
    assert problems_of(value) == [what]


@pytest.mark.parametrize(
    ("tc_string", "what"),
    [
        ("COrVd1pOrVd1p ACABCENAHC", "core segment is not base64url"),
        ("COrVd1pOrVd1pACABCENAHCAAAAAAAAAAAiQAAAAAAAA==", "core segment is not base64url"),
        ("COrVd1pOrVd1pACABCENAHCAAAAAAAAAAAiQ+/AAAAAA", "core segment is not base64url"),
        ("COrVd1pOrVd1pACABCENAHCAAAAAAAAAAAiQAAAAAAAAA", "core segment is not valid base64url"),
        (".YAAAAAAAAXA", "core segment is empty"),
        ("COrVd1pOrVd1pACABCENAHCAAAAAAAAAAAiQAAAAAAAA.", "segment 2 is empty"),
        ("COrVd1pOrVd1pACABCENAHCAAAAAAAAAAAiQAAAAAAAA.Y%AA", "segment 2 is not base64url"),
    ],
)
def test_bad_base64url_is_rejected(tc_string: str, what: str) -> None:
    """Characters outside base64url, padding, impossible lengths and empty segments are named."""
    [problem] = problems_of(tc_string)
    assert problem.startswith(what)


def test_wrong_version_is_rejected() -> None:
    """A core segment whose version is not 2 is refused with the version it has."""
    assert problems_of(encode(version=3)) == ["unsupported version 3 (only version 2 is decoded)"]


def test_truncated_header_is_rejected() -> None:
    """A core that stops inside the fixed-width header says how many bits it lacks."""
    assert problems_of("CAAAAA") == ["truncated: core header needs 207 bits, 26 left"]


def test_truncated_bitfield_names_the_section() -> None:
    """A bitfield shorter than MaxVendorId says which section and by how much."""
    bits = core_bits()[:213] + bits_int(120, 16) + "0" + "1" * 34
    assert problems_of(to_base64url(bits)) == [
        "truncated: vendor consent section needs 120 bits, 34 left"
    ]


def test_truncated_range_entry_names_the_entry() -> None:
    """A range entry cut short names the section and the entry number."""
    bits = core_bits()[:213] + bits_int(10, 16) + "1" + bits_int(2, 12) + "0" + bits_int(5, 16)
    bits += "1" + bits_int(6, 12)
    assert problems_of(to_base64url(bits)) == [
        "truncated: vendor consent section range entry 2 needs 16 bits, 12 left"
    ]


def test_bad_range_entries_are_all_reported() -> None:
    """Vendor id 0, an end before its start and an id above MaxVendorId are each reported."""
    section = bits_vendor_section(
        set(), use_ranges=True, max_vendor_id=50, entries=[(0, 0), (9, 4), (40, 51), (7, 7)]
    )
    assert problems_of(encode(consent_section=section)) == [
        "vendor consent section range entry 1 has vendor id 0 (ids start at 1)",
        "vendor consent section range entry 2 ends at 4, before its start 9",
        "vendor consent section range entry 3 has vendor id 51, above MaxVendorId 50",
    ]


def test_bad_publisher_restrictions_are_reported() -> None:
    """Undefined restriction type 3, purpose id 0 or 25, and vendor id 0 are each reported."""
    restrictions = bits_restrictions(
        [(2, 3, [(1, 1)]), (0, 0, [(1, 1)]), (25, 1, [(1, 1)]), (4, 2, [(0, 3)])]
    )
    assert problems_of(encode(restriction_section=restrictions)) == [
        "publisher restriction 1 has undefined restriction type 3",
        "publisher restriction 2 has purpose id 0, outside 1-24",
        "publisher restriction 3 has purpose id 25, outside 1-24",
        "publisher restriction 4 range entry 1 has vendor id 0 (ids start at 1)",
    ]


def test_letters_outside_a_to_z_are_rejected() -> None:
    """A language or country letter code above 25 is refused by field name."""
    bits = core_bits()
    bits = bits[:108] + bits_int(26, 6) + bits[114:]
    assert problems_of(to_base64url(bits)) == [
        "consent language has letter code 26, outside A-Z (0-25)"
    ]


def test_range_expansion_is_capped() -> None:
    """Ranges that would expand to hundreds of thousands of ids are refused, not materialised."""
    whole = [(1, 65535)] * 5
    restrictions = bits_restrictions([(1, 0, whole)])
    assert problems_of(encode(restriction_section=restrictions)) == [
        "range entries expand to more than 262144 vendor ids"
    ]


@pytest.mark.parametrize(
    ("segment_types", "what"),
    [
        ([0], "segment 2 has type 0 (core), which is only allowed as the first segment"),
        ([5], "segment 2 has unknown segment type 5 (expected 1, 2 or 3)"),
        ([1, 3, 1], "segment 4 repeats the disclosed vendors segment (type 1)"),
    ],
)
def test_bad_other_segments_are_rejected(segment_types: list[int], what: str) -> None:
    """Other segments must carry a defined type (1-3), each at most once."""
    tc_string = ".".join([encode()] + [segment(t) for t in segment_types])
    assert problems_of(tc_string) == [what]


def test_problems_from_core_and_other_segments_are_collected() -> None:
    """One error lists problems from the core and from later segments together."""
    tc_string = ".".join([encode(version=1), "!", segment(7)])
    assert problems_of(tc_string) == [
        "unsupported version 1 (only version 2 is decoded)",
        "segment 2 is not base64url (only A-Z, a-z, 0-9, '-' and '_' are allowed)",
        "segment 3 has unknown segment type 7 (expected 1, 2 or 3)",
    ]


def test_messages_never_echo_the_input() -> None:
    """No problem message contains the submitted string or any of its segments."""
    core = encode(
        consent_section=bits_vendor_section(
            set(), use_ranges=True, max_vendor_id=3, entries=[(9, 2)]
        )
    )
    for tc_string in [core, core[:-8], f"{core}.{segment(6)}", f"{core}.!{core}", core + "="]:
        with pytest.raises(InvalidInput) as caught:
            decode_tc_string(tc_string)
        message = str(caught.value)
        for part in tc_string.split("."):
            assert len(part) < 8 or part not in message
