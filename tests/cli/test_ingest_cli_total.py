"""`personakit ingest` on hostile input: exit 0 or 1 and a JSON summary, never a traceback."""

from __future__ import annotations

import contextlib
import io
import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from _shared import WEB_EVENT, hostile
from personakit import generate_master_key
from personakit.cli import main

EVENT = {**WEB_EVENT, "at": "2026-01-05T08:00:00Z"}
# The five kinds of line that crashed the command with a traceback.
CRASHERS = [
    json.dumps({**EVENT, "kind": ["event"]}),
    json.dumps({**EVENT, "name": ["purchase"]}),
    json.dumps({**EVENT, "properties": {"item": "a", "x": 1}})[:-2]
    + "[" * 10_000
    + "]" * 10_000
    + "}}",
    json.dumps({**EVENT, "at": "9999-12-31T23:59:59-14:00"}),
    json.dumps({**EVENT, "properties": {"item": "a"}})[:-2] + ', "x": 1e400}}',
]


@pytest.fixture(scope="module")
def workdir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("cli-total")
    (path / "key").write_text(generate_master_key())
    (path / "key").chmod(0o600)  # a key file others may read is (rightly) warned about
    return path


def _main(workdir: Path, *args: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main(["--store", "memory:", "--key-file", str(workdir / "key"), *args])
    return code, out.getvalue(), err.getvalue()


def _check_summary(code: int, out: str, err: str, lines: int) -> None:
    assert "Traceback" not in err
    assert code in {0, 1}, err
    summary = json.loads(out)
    counted = summary["accepted"] + summary["rejected"] + summary["dropped_no_basis"]
    assert counted == lines
    assert code == (1 if summary["rejected"] else 0)


def test_the_lines_that_crashed_the_command_are_rejected_in_the_summary(workdir: Path) -> None:
    """Each of the five crashing kinds of line is one rejected line; the run goes on."""
    path = workdir / "crashers.jsonl"
    path.write_text("\n".join([*CRASHERS, json.dumps(EVENT)]) + "\n")
    code, out, err = _main(workdir, "ingest", str(path))
    _check_summary(code, out, err, len(CRASHERS) + 1)
    summary = json.loads(out)
    assert (summary["accepted"], summary["rejected"]) == (1, len(CRASHERS))


@settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(lines=st.lists(hostile.hostile_lines(), min_size=1, max_size=4), strict=st.booleans())
def test_any_file_of_hostile_lines_ends_in_a_summary(
    workdir: Path, lines: list[bytes], strict: bool
) -> None:
    """In-process `personakit ingest`: exit 0 or 1 and a JSON summary on stdout, always."""
    lines = [line.replace(b"\n", b" ").replace(b"\r", b" ") for line in lines]
    path = workdir / "hostile.jsonl"
    path.write_bytes(b"\n".join(lines) + b"\n")
    code, out, err = _main(workdir, "ingest", str(path), *(["--strict"] if strict else []))
    assert "Traceback" not in err
    assert code in {0, 1}, err
    summary = json.loads(out)
    if summary.get("stopped_at_line") is None:
        _check_summary(code, out, err, len([line for line in lines if line.strip()]))


def _subprocess(workdir: Path, *args: str, stdin: bytes) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run(
        [sys.executable, "-m", "personakit.cli", "--store", "memory:", *args],
        input=stdin,
        capture_output=True,
        env={"PERSONAKIT_MASTER_KEY": (workdir / "key").read_text(), "PATH": os.defpath},
        check=False,
    )


def test_a_real_process_prints_a_summary_for_hostile_input(workdir: Path) -> None:
    """Through a real process and standard input: the crashers, raw bad bytes, a long line."""
    hostile_bytes = [
        *(line.encode() for line in CRASHERS),
        json.dumps(EVENT).replace('"a"', '"\\ud800"').encode(),
        json.dumps(EVENT).encode().replace(b'"a"', b'"\xed\xa0\x80"'),
        json.dumps(EVENT).replace('"subject"', '"subject": "customer:c2", "subject"').encode(),
        b'{"kind": "event", "pad": "' + b"p" * (3 << 20) + b'"}',
    ]
    proc = _subprocess(workdir, "ingest", "-", stdin=b"\n".join([*hostile_bytes, b"{}"]) + b"\n")
    assert b"Traceback" not in proc.stderr
    assert proc.returncode == 1, proc.stderr
    summary = json.loads(proc.stdout)
    assert (summary["accepted"], summary["rejected"]) == (0, len(hostile_bytes) + 1)
    assert "line longer than 1 MiB" in summary["errors"][-2]["error"]


def test_a_line_far_over_the_limit_is_rejected_and_the_next_line_still_read(
    workdir: Path,
) -> None:
    """A 5 MiB line is refused as too long (not read whole); the lines after it are applied."""
    path = workdir / "long.jsonl"
    with path.open("wb") as handle:
        handle.write(json.dumps(EVENT).encode() + b"\n")
        handle.write(b'{"pad": "' + b"p" * (5 << 20) + b'"}\r\n')
        handle.write(json.dumps(EVENT).encode())  # no final newline
    code, out, err = _main(workdir, "ingest", str(path))
    _check_summary(code, out, err, 3)
    summary = json.loads(out)
    assert summary["errors"] == [
        {"line": 2, "error": "invalid record (1 problem(s)): $: line longer than 1 MiB"}
    ]


@contextlib.contextmanager
def _closed_stdout() -> Iterator[None]:
    stream = io.StringIO()
    stream.close()  # a real stream that fails on write, as a closed pipe does
    saved = sys.stdout
    sys.stdout = stream
    try:
        yield
    finally:
        sys.stdout = saved


def test_an_unexpected_failure_is_one_line_and_exit_70(workdir: Path) -> None:
    """The net: an error nobody planned for (here, standard output closed) is one line, 70."""
    path = workdir / "one.jsonl"
    path.write_text(json.dumps(EVENT) + "\n")
    err = io.StringIO()
    with _closed_stdout(), contextlib.redirect_stderr(err):
        code = main(["--store", "memory:", "--key-file", str(workdir / "key"), "ingest", str(path)])
    assert code == 70
    assert err.getvalue() == "personakit: internal error: ValueError (please report it)\n"


@pytest.mark.skipif(not Path("/proc/self/mem").exists(), reason="needs Linux /proc")
def test_input_that_fails_while_read_is_one_line_and_exit_2(workdir: Path) -> None:
    """A file that opens but fails on read (/proc/self/mem: EIO) is a usage error, one line."""
    code, out, err = _main(workdir, "ingest", "/proc/self/mem")
    assert (code, out) == (2, "")
    assert err == "personakit: usage error: cannot read input (1 problem(s)): FILE: OSError\n"
