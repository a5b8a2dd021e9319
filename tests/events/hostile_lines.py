"""Hypothesis strategies for hostile bulk-ingest lines, shared by the ingest and CLI properties.

A line starts from a valid record of one kind (event, consent, traits, link, or an unknown
kind) and is then bent: fields replaced by arbitrary JSON, dropped, duplicated or added; JSON
that Python's encoder never writes is spliced in as raw text (lone surrogates as escapes and as
the bytes ED A0 80, invalid UTF-8, 1e400, NaN / Infinity, 5,000-digit integers, nesting
thousands deep, lines over the size limit). Load it with :func:`load` (tests are no package).
"""

from __future__ import annotations

import json
from typing import Any

from hypothesis import strategies as st

MIB = 1 << 20

# A node of the JSON text to write: ("raw", bytes) is spliced in verbatim; ("obj", pairs)
# may hold the same key twice; anything else is a Python value json.dumps writes.
_RAW_TOKENS = [
    b"1e400",
    b"-1e400",
    b"NaN",
    b"Infinity",
    b"-Infinity",
    b"9" * 5000,
    b"1" + b"0" * 400,
    b"1e-400",
    b'"\\ud800"',
    b'"\\udfff\\ud800"',
    b'"a\\ud83d"',
    b'"\xed\xa0\x80"',
    b'"\xff\xfe"',
    b'"\xc0\xaf"',
    b'"\\u0000"',
    b'"\\ud83d\\ude00"',
    b"tru",
    b"[1,]",
    b'{"a":1,}',
    b'"unterminated',
    b"01",
    b"[" * 10_000 + b"]" * 10_000,
    b'{"a":' * 3000 + b"1" + b"}" * 3000,
    b"[" * 70 + b"]" * 70,
    b"[" * 60 + b"]" * 60,
]

# Any code point, lone surrogates (excluded by default) and NUL included.
_TEXT = st.text(alphabet=st.one_of(st.characters(), st.characters(categories=["Cs"])), max_size=12)


def _scalars() -> st.SearchStrategy[Any]:
    return st.one_of(
        st.none(),
        st.booleans(),
        st.integers(),
        st.integers(min_value=-(10**30), max_value=10**30),
        st.floats(allow_nan=False, allow_infinity=False),
        _TEXT,
        st.sampled_from(
            [
                "",
                "event",
                "consent",
                "customer:c1",
                "email:a@example.com",
                "2026-01-05T10:00:00Z",
                "x" * 200,
            ]
        ),
        st.sampled_from(_RAW_TOKENS).map(lambda raw: ("raw", raw)),
    )


def _objects(children: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    keys = st.one_of(_TEXT, st.sampled_from(["kind", "subject", "item", "a", "a"]))
    pairs = st.lists(st.tuples(keys, children), max_size=4)
    return pairs.map(lambda p: ("obj", p))


JSON_NODES: st.SearchStrategy[Any] = st.recursive(
    _scalars(),
    lambda children: st.one_of(
        st.lists(children, max_size=4).map(lambda a: ("arr", a)), _objects(children)
    ),
    max_leaves=12,
)


def render(node: Any, *, ascii_only: bool) -> bytes:
    """Write a node as JSON text (UTF-8, lone surrogates as ED A0 80 when not ``ascii_only``)."""
    if isinstance(node, tuple) and node and node[0] == "raw":
        return node[1]
    if isinstance(node, tuple) and node and node[0] == "arr":
        return b"[" + b",".join(render(n, ascii_only=ascii_only) for n in node[1]) + b"]"
    if isinstance(node, tuple) and node and node[0] == "obj":
        members = [
            _string(key, ascii_only=ascii_only) + b":" + render(value, ascii_only=ascii_only)
            for key, value in node[1]
        ]
        return b"{" + b",".join(members) + b"}"
    if isinstance(node, str):
        return _string(node, ascii_only=ascii_only)
    return json.dumps(node).encode()


def _string(text: str, *, ascii_only: bool) -> bytes:
    return json.dumps(text, ensure_ascii=ascii_only).encode("utf-8", "surrogatepass")


_AT = st.sampled_from(
    [
        "2026-01-05T10:00:00Z",
        "2026-01-05T10:00:00+02:00",
        "2026-01-05T10:00:00",
        "0001-01-01T00:00:00+14:00",
        "9999-12-31T23:59:59-14:00",
        "0001-01-01T00:00:00Z",
        "9999-12-31T23:59:59Z",
        "2026-02-30T10:00:00Z",
    ]
)
_SUBJECTS = st.sampled_from(
    ["customer:c1", "customer:c2", "anon:v1", "email:a@example.com", "phone:+4915112345678"]
)


def _valid(kind: str) -> st.SearchStrategy[dict[str, Any]]:
    common = {"kind": st.just(kind), "subject": _SUBJECTS, "at": _AT}
    if kind == "event":
        fields = {
            "name": st.sampled_from(["purchase", "product_view", "search", "teleport"]),
            "channel": st.sampled_from(["web", "store", "fax"]),
            "properties": st.fixed_dictionaries(
                {"item": st.sampled_from(["a", "b"])},
                optional={"value_cents": st.integers(0, 10**6), "extra": st.just([1, {"x": 2}])},
            ),
        }
    elif kind == "consent":
        fields = {
            "purpose": st.sampled_from(["personalization", "marketing.email", "all", "nope"]),
            "status": st.sampled_from(["given", "refused", "withdrawn"]),
            "notice": st.sampled_from(["privacy_notice", "marketing_notice"]),
            "notice_version": st.sampled_from(["2026-01", 3]),
            "source": st.just("web"),
        }
    elif kind == "traits":
        fields = {
            "traits": st.fixed_dictionaries(
                {},
                optional={
                    "email": st.sampled_from(["b@example.com", "nope"]),
                    "city": st.just("Berlin"),
                    "first_name": st.one_of(st.none(), st.just("Ada")),
                },
            ),
            "source": st.just("crm"),
        }
    elif kind == "link":
        fields = {"to": _SUBJECTS}
    else:
        fields = {"name": st.just("purchase")}
    return st.fixed_dictionaries({**common, **fields})


_KINDS = st.one_of(
    st.sampled_from(["event", "consent", "traits", "link"]),
    st.sampled_from(["Event", "", "erase", "__class__"]),
)


@st.composite
def hostile_lines(draw: Any, *, allow_huge: bool = True) -> bytes:
    """One hostile line as UTF-8 bytes (or not quite UTF-8: that is part of the point)."""
    kind = draw(_KINDS)
    record: dict[str, Any] = draw(_valid(kind))
    members: list[tuple[str, Any]] = list(record.items())
    for _ in range(draw(st.integers(0, 3))):
        action = draw(st.sampled_from(["replace", "drop", "duplicate", "add", "nest"]))
        if not members:
            break
        index = draw(st.integers(0, len(members) - 1))
        name, value = members[index]
        if action == "replace":
            members[index] = (name, draw(JSON_NODES))
        elif action == "drop":
            del members[index]
        elif action == "duplicate":
            members.insert(draw(st.integers(0, len(members))), (name, draw(JSON_NODES)))
        elif action == "add":
            members.append((draw(st.sampled_from(["purpouse", "extra", "kind"])), value))
        elif isinstance(value, dict):  # nest: a field's object gets an arbitrary member
            members[index] = (name, ("obj", [*value.items(), (draw(_TEXT), draw(JSON_NODES))]))
    ascii_only = draw(st.booleans())
    line = render(("obj", members), ascii_only=ascii_only)
    if allow_huge and draw(st.integers(0, 30)) == 0:
        # Exactly at, and just over, the line limit (padding inside a string keeps it JSON).
        pad = MIB - len(line) - 10 + draw(st.sampled_from([0, 11]))
        line = line[:-1] + b',"pad":"' + b"p" * max(pad, 0) + b'"}'
    return line


def as_record(line: bytes, form: str) -> Any:
    """The line as ``kit.ingest`` may be given it: bytes, str, or an already-decoded mapping."""
    if form == "bytes":
        return line
    text = line.decode("utf-8", "surrogateescape")
    if form == "str":
        return text
    try:  # Python's own decoder takes duplicates, NaN and 1e400: a caller's mapping may hold them
        return json.loads(line.decode("utf-8", "surrogatepass"))
    except (ValueError, RecursionError):
        return text
