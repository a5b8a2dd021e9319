"""DiskStore.foreign_rows: every row DiskStore would refuse is counted, without reading it."""

from __future__ import annotations

import pickle
import sqlite3
import tempfile
from pathlib import Path

import diskcache
from hypothesis import given, settings
from hypothesis import strategies as st

from personakit.storage import DiskStore


class _Payload:
    """Unpickling this creates a file: proof that code ran."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self) -> tuple[object, tuple[Path, str]]:
        return (Path.write_text, (self.marker, "pwned"))


_ROWS = st.lists(
    st.fixed_dictionaries(
        {
            "key": st.sampled_from(["text", "pickle", "int", "null"]),
            "prefix": st.sampled_from(["s/", "a/", "ab/", "", "long/", "/"]),
            "raw": st.sampled_from([1, 0, None]),
            "mode": st.sampled_from([0, 1, 2, 3, 4, 7, None]),
            "filename": st.sampled_from([None, "x.val", "../../outside"]),
            "value": st.sampled_from(["bytes", "pickle", "text", "int", "null"]),
        }
    ),
    max_size=8,
)


@settings(max_examples=40, deadline=None)
@given(rows=_ROWS)
def test_foreign_rows_counts_exactly_the_rows_diskstore_refuses(
    rows: list[dict[str, object]],
) -> None:
    """Planted rows of any shape: counted iff DiskStore would refuse them; no code runs; the
    store's own rows stay readable."""
    with tempfile.TemporaryDirectory() as directory:
        root = Path(directory)
        marker = root / "marker"
        payload = pickle.dumps(_Payload(marker))
        store = DiskStore(root / "s")
        store.put("s/own/record", b"ours")
        expected = 0
        with sqlite3.connect(root / "s" / "cache.db") as con:
            for number, row in enumerate(rows):
                key: object = {
                    "text": f"{row['prefix']}planted-{number}",
                    "pickle": payload + bytes([number]),
                    "int": 10_000 + number,
                    "null": None,
                }[str(row["key"])]
                value: object = {
                    "bytes": b"v",
                    "pickle": payload,
                    "text": "v",
                    "int": 7,
                    "null": None,
                }[str(row["value"])]
                con.execute(
                    "INSERT INTO Cache (key, raw, store_time, access_time, mode, filename, value)"
                    " VALUES (?, ?, 0, 0, ?, ?, ?)",
                    (key, row["raw"], row["mode"], row["filename"], value),
                )
                well_formed = (
                    row["key"] == "text"
                    and row["raw"] == 1
                    and row["mode"] == diskcache.core.MODE_RAW
                    and row["filename"] is None
                    # A pickle payload in a BLOB is plain bytes in raw mode: never unpickled.
                    and row["value"] in ("bytes", "pickle")
                )
                expected += not well_formed
        report = store.foreign_rows()
        assert report["count"] == expected
        assert sum(report["prefixes"].values()) == expected
        assert all(len(prefix) <= 3 or prefix.startswith("(") for prefix in report["prefixes"])
        assert not any("planted" in prefix for prefix in report["prefixes"])
        assert store.get("s/own/record") == b"ours"
        store.close()
        assert not marker.exists()
