"""Every spelling of one e-mail address or phone number names one subject; others stay apart."""

from __future__ import annotations

import functools
import unicodedata

import idna
import phonenumbers
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from personakit import Personakit, testing
from personakit.exceptions import InvalidInput
from personakit.profiles import Identifier, parse_identifier

# Regions whose national trunk prefix is 0, so "+44 (0)20 …" is a spelling people write.
TRUNK_ZERO_REGIONS = ("GB", "DE", "FR", "NL", "AU", "CH", "AT", "BE", "SE", "NZ")
UNICODE_LABELS = ("bücher", "münchen", "zürich", "tést", "ümlaut", "café")
ASCII_LABELS = ("example", "shop", "mail", "x")


@functools.cache
def shared_kit() -> Personakit:
    """One in-memory kit for every example (subjects of different examples never collide)."""
    kit, _ = testing.memory_kit()
    return kit


def resolve_all(spellings: list[str]) -> set[str]:
    kit = shared_kit()
    first = kit.identity.resolve(spellings[0], create=True)
    return {first} | {kit.identity.resolve(spelling) for spelling in spellings[1:]}


# E-mail addresses.

local_parts = st.from_regex(
    r"[a-z0-9]{1,10}(\.[a-z0-9]{1,8}){0,2}(\+[a-z0-9]{1,6})?", fullmatch=True
)
domains = st.builds(
    lambda labels, tld: ".".join([*labels, tld]),
    st.lists(st.sampled_from(UNICODE_LABELS + ASCII_LABELS), min_size=1, max_size=2),
    st.sampled_from(("de", "com", "org", "ch")),
)


@st.composite
def recased(draw: st.DrawFn, text: str) -> str:
    return "".join(ch.upper() if draw(st.booleans()) else ch for ch in text)


@st.composite
def email_spelling(draw: st.DrawFn, local: str, domain: str) -> str:
    """One way a person or a form writes ``local@domain``."""
    written_local = draw(recased(local))
    form = draw(st.sampled_from(("unicode", "ace", "nfd")))
    if form == "ace":
        written_domain = idna.encode(domain, uts46=True).decode("ascii")
    elif form == "nfd":
        written_domain = unicodedata.normalize("NFD", domain)
    else:
        written_domain = domain
    written_domain = draw(recased(written_domain))
    space = draw(st.sampled_from(("", " ", "  ", "\t", "\n")))
    trailing = draw(st.sampled_from(("", " ", "\t")))
    return f"email:{space}{written_local}@{written_domain}{trailing}"


@settings(max_examples=60, deadline=None)
@given(data=st.data(), local=local_parts, domain=domains)
def test_every_spelling_of_an_email_address_names_one_subject(data, local, domain):
    """Case, IDNA (xn--) or Unicode domain, NFD, and surrounding whitespace: one subject."""
    spellings = [data.draw(email_spelling(local, domain)) for _ in range(4)]
    assert len({parse_identifier(s) for s in spellings}) == 1
    assert len(resolve_all(spellings)) == 1


def test_the_reported_email_spellings_reach_the_same_data(memory_kit: Personakit):
    """Data stored under Alice@Bücher.de is exported when asked for alice@xn--bcher-kva.de."""
    subject = memory_kit.identity.resolve("email:Alice@Bücher.de", create=True)
    assert memory_kit.identity.resolve("email:alice@xn--bcher-kva.de") == subject
    assert memory_kit.identity.subject_of("email: ALICE@BÜCHER.DE ") == subject


# Phone numbers.


@st.composite
def phone_numbers(draw: st.DrawFn) -> phonenumbers.PhoneNumber:
    """A possible number of a trunk-0 region: the region's example with new last digits."""
    region = draw(st.sampled_from(TRUNK_ZERO_REGIONS))
    example = phonenumbers.example_number(region)
    assert example is not None
    national = str(example.national_number)
    tail = draw(st.from_regex(r"[0-9]{3}", fullmatch=True))
    number = phonenumbers.parse(f"+{example.country_code}{national[:-3]}{tail}", None)
    assert phonenumbers.is_possible_number(number)
    return number


@st.composite
def phone_spelling(draw: st.DrawFn, number: phonenumbers.PhoneNumber) -> str:
    """One way a person writes ``number``: separators, (0), 00, parentheses, whitespace."""
    grouped = phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.INTERNATIONAL)
    country, _, rest = grouped.partition(" ")
    groups = rest.split(" ")
    if draw(st.booleans()):
        groups[0] = f"({groups[0]})"
    separator = draw(st.sampled_from((" ", "-", ".", "", " - ")))
    body = separator.join(groups)
    if draw(st.booleans()):
        body = draw(st.sampled_from(("(0)", "(0) ", " (0)"))) + body
    prefix = draw(
        st.sampled_from((country, country + " ", "00" + country[1:], "00 " + country[1:]))
    )
    space = draw(st.sampled_from(("", " ", "\t")))
    return f"phone:{space}{prefix}{body}{space}"


@settings(max_examples=60, deadline=None)
@given(data=st.data(), number=phone_numbers())
def test_every_spelling_of_a_phone_number_names_one_subject(data, number):
    """Spaces, dashes, dots, parentheses, a (0) trunk prefix and 00 for +: one subject."""
    spellings = [data.draw(phone_spelling(number)) for _ in range(4)]
    e164 = phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)
    assert {parse_identifier(s) for s in spellings} == {Identifier(kind="phone", value=e164)}
    assert len(resolve_all(spellings)) == 1


def test_the_reported_phone_spellings_name_one_subject(memory_kit: Personakit):
    """+44 (0)20 7946 0018 and +44 20 7946 0018 are one number."""
    subject = memory_kit.identity.resolve("phone:+44 (0)20 7946 0018", create=True)
    assert memory_kit.identity.resolve("phone:+44 20 7946 0018") == subject
    assert memory_kit.identity.resolve("phone:0044 20 7946-0018") == subject


@settings(max_examples=40, deadline=None)
@given(first=phone_numbers(), second=phone_numbers())
def test_distinct_phone_numbers_stay_distinct_subjects(first, second):
    """Two different numbers never resolve to one subject."""
    spellings = [
        phonenumbers.format_number(n, phonenumbers.PhoneNumberFormat.E164) for n in (first, second)
    ]
    kit = shared_kit()
    subjects = {kit.identity.resolve(f"phone:{s}", create=True) for s in spellings}
    assert len(subjects) == len(set(spellings))


@settings(max_examples=40, deadline=None)
@given(first=local_parts, second=local_parts, domain=domains)
def test_distinct_email_addresses_stay_distinct_subjects(first, second, domain):
    """Two addresses that differ other than in case name two subjects."""
    kit = shared_kit()
    subjects = {
        kit.identity.resolve(f"email:{local}@{domain}", create=True) for local in (first, second)
    }
    assert len(subjects) == len({first, second})


# Malformed values.

phone_junk = st.one_of(
    st.text(max_size=40),
    st.text(alphabet="+0123456789 ()-./xext#*", max_size=30),
    st.from_regex(r"(\+|00)?[0-9 ()-]{0,25}", fullmatch=True),
)
email_junk = st.one_of(
    st.text(max_size=60),
    st.text(alphabet='aZü@.-_+ "\\()<>[]:;,xn-', max_size=40),
    st.builds(lambda a, b: f"{a}@{b}", st.text(max_size=70), st.text(max_size=260)),
)


def _refusal(text: str) -> str:
    with pytest.raises(InvalidInput) as caught:
        parse_identifier(text)
    return str(caught.value)


REFUSALS = {
    _refusal(f"{kind}:{value}") for kind in ("phone", "email") for value in ("", "x", "x" * 400)
}


@settings(max_examples=300, deadline=None)
@given(
    kind=st.sampled_from(("phone", "email", "PHONE", " email ")),
    value=st.one_of(phone_junk, email_junk),
)
def test_any_value_is_parsed_or_refused_with_invalid_input(kind, value):
    """Whatever the value, the parser returns an identifier or raises InvalidInput, nothing else."""
    try:
        ident = parse_identifier(f"{kind}:{value}")
    except InvalidInput as exc:
        message = str(exc)
    else:
        # What it accepts is already canonical: parsing it again gives itself.
        assert parse_identifier(str(ident)) == ident
        return
    assert message in REFUSALS  # one fixed message per problem: it never echoes the value


@pytest.mark.parametrize(
    "text",
    [
        "phone:+44 20 7946 0018 ext 12",
        "phone:+1234567",
        "phone:020 7946 0018",
        "phone:++44 20 7946 0018",
        "phone:+44 20 FLOWERS",
        "email:not-an-address",
        "email:a@b",
        "email:a..b@example.com",
    ],
)
def test_malformed_identifiers_get_invalid_input(text):
    """Extensions, impossible lengths, no country, letters, bad e-mail syntax: InvalidInput."""
    with pytest.raises(InvalidInput):
        parse_identifier(text)


def test_import_personakit_loads_no_phone_or_email_library():
    """The field libraries are imported when the first phone or e-mail is parsed, not before."""
    import subprocess  # noqa: PLC0415
    import sys  # noqa: PLC0415

    code = (
        "import sys, personakit; "
        "print(sorted(m for m in ('phonenumbers', 'email_validator', 'idna') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
