"""The lock domains of PostgresStore keys (one per subject, one for the audit chain, one per
other key; a prefix that fixes a domain names the domain of every key under it), and the
pool and timeout options refused before any connection."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from personakit import ConfigurationError
from personakit.storage import PostgresStore
from personakit.storage._postgres_locks import (
    LockIds,
    domain_of,
    domain_of_prefix,
    index_domain,
)

_names = st.text(
    st.characters(blacklist_characters="/\x00", blacklist_categories=("Cs",)),
    min_size=1,
    max_size=12,
)
_tails = st.text(st.characters(blacklist_characters="\x00"), max_size=12)
_keys = st.one_of(
    st.builds(lambda s, t: f"s/{s}/{t}", _names, _tails),
    st.builds(lambda t: f"a/e/{t}", _tails),
    st.just("a/head"),
    st.builds(lambda c, t: f"a/c/{c}/{t}", st.sampled_from(["0001", "0002", "0015"]), _tails),
    st.text(st.characters(blacklist_characters="\x00"), min_size=1, max_size=16),
)


@given(_names, _tails, _tails)
def test_keys_of_one_subject_share_its_domain(subject: str, one: str, two: str) -> None:
    """Every key under s/<subject>/ locks the same domain, and so does the subject's prefix."""
    domain = domain_of(f"s/{subject}/{one}")
    assert domain == domain_of(f"s/{subject}/{two}") == domain_of_prefix(f"s/{subject}/{one}")


@given(_keys, _keys)
def test_keys_share_a_domain_only_when_they_share_a_subject_or_are_the_audit_chain(
    one: str, two: str
) -> None:
    """Two keys share a domain iff they are one key, one subject's, or one audit chain's."""

    def owner(key: str) -> str:
        if key.startswith("s/") and key.find("/", 2) > 2:
            return "s:" + key[2 : key.find("/", 2)]
        if key.startswith("a/c/") and key.find("/", 4) > 4:  # chain <c>: a/c/<c>/...
            return "audit:" + key[4 : key.find("/", 4)]
        return "audit" if key == "a/head" or key.startswith("a/e/") else "k:" + key

    assert (domain_of(one) == domain_of(two)) == (owner(one) == owner(two))


@given(_keys, _keys.filter(lambda k: k != ""))
def test_a_prefix_domain_is_the_domain_of_every_key_under_it(prefix: str, tail: str) -> None:
    """When a prefix fixes a domain, every key extending it is in that domain."""
    domain = domain_of_prefix(prefix)
    if domain is not None:
        assert domain_of(prefix + tail) == domain


@given(_tails, _names)
def test_an_index_entry_locks_its_subject_or_itself_when_absent(tail: str, subject: str) -> None:
    """An index entry pointing at a subject shares the subject's lock; an absent one its own."""
    key = "i/" + tail
    assert index_domain(key, subject.encode()) == domain_of(f"s/{subject}/meta")
    assert index_domain(key, None) == domain_of(key)


@given(st.text(max_size=8), st.text(max_size=8), _keys)
def test_lock_ids_are_signed_64_bit_and_separate_stores(
    table: str, namespace: str, key: str
) -> None:
    """Lock keys fit a bigint, and two namespaces of a table never share one (barring 2**-64)."""
    ids = LockIds(table, namespace)
    value = ids(domain_of(key))
    assert -(2**63) <= value < 2**63
    assert value == ids(domain_of(key))
    assert value != LockIds(table, namespace + "x")(domain_of(key))


_not_a_pool_size = st.one_of(
    st.integers(max_value=0),
    st.integers(min_value=1001),
    st.floats(),
    st.booleans(),
    st.text(max_size=3),
    st.none(),
)
_not_a_timeout = st.one_of(
    st.floats().filter(lambda x: not 0 < x <= 2_147_483),
    st.integers(max_value=0),
    st.booleans(),
    st.text(max_size=3),
    st.none(),
)


@given(pool_size=_not_a_pool_size)
def test_a_bad_pool_size_is_a_configuration_error(pool_size: object) -> None:
    """Any pool_size but an int from 1 to 1000 is refused before connecting."""
    with pytest.raises(ConfigurationError, match="pool_size"):
        PostgresStore("postgresql://nowhere.invalid/x", pool_size=pool_size)  # type: ignore[arg-type]


@given(seconds=_not_a_timeout)
def test_a_bad_statement_timeout_is_a_configuration_error(seconds: object) -> None:
    """Any statement_timeout but a positive number of seconds is refused before connecting."""
    with pytest.raises(ConfigurationError, match="statement_timeout"):
        PostgresStore("postgresql://nowhere.invalid/x", statement_timeout=seconds)  # type: ignore[arg-type]
