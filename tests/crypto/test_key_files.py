"""Master key files: read safely, and a file others may read is warned about, never silently used."""

from __future__ import annotations

import os
import warnings
from pathlib import Path

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from personakit import ConfigurationError, LocalKeyProvider, Personakit, generate_master_key
from personakit.cli import main
from personakit.crypto import KeyFilePermissionWarning


def _key_file(directory: Path, mode: int, text: str | None = None) -> Path:
    path = directory / "master.key"
    path.unlink(missing_ok=True)  # a previous example may have left it read-only
    path.write_text((text if text is not None else generate_master_key()) + "\n", "ascii")
    path.chmod(mode)
    return path


def test_an_owner_only_key_file_is_used_without_a_warning(tmp_path: Path) -> None:
    """Mode 600 (what `personakit keygen --out` writes) loads silently (warnings are errors here)."""
    assert LocalKeyProvider.from_file(_key_file(tmp_path, 0o600)).key_id


@pytest.mark.parametrize("mode", [0o640, 0o604, 0o644, 0o660, 0o666])
def test_a_key_file_others_may_read_warns_and_still_loads(tmp_path: Path, mode: int) -> None:
    """Group- or world-readable: a KeyFilePermissionWarning naming the mode, never the path."""
    path = _key_file(tmp_path, mode)
    with pytest.warns(KeyFilePermissionWarning, match=f"{mode:o}") as caught:
        provider = LocalKeyProvider.from_file(path)
    assert provider.key_id
    assert str(tmp_path) not in str(caught[0].message)
    assert "chmod 600" in str(caught[0].message)


def test_the_environment_route_warns_too(tmp_path: Path) -> None:
    """PERSONAKIT_MASTER_KEY_FILE goes through the same check as --key-file."""
    path = _key_file(tmp_path, 0o644)
    with pytest.warns(KeyFilePermissionWarning):
        LocalKeyProvider.from_env({"PERSONAKIT_MASTER_KEY_FILE": str(path)})


def test_a_deployment_can_make_the_warning_a_refusal(tmp_path: Path) -> None:
    """The documented way to refuse instead: an 'error' filter for the warning class."""
    path = _key_file(tmp_path, 0o644)
    with warnings.catch_warnings():
        warnings.simplefilter("error", KeyFilePermissionWarning)
        with pytest.raises(KeyFilePermissionWarning):
            LocalKeyProvider.from_file(path)


def test_the_cli_prints_one_warning_line_and_runs(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """--key-file with mode 644: one 'personakit: warning:' line on stderr, exit 0."""
    for name in ("PERSONAKIT_MASTER_KEY", "PERSONAKIT_MASTER_KEY_FILE", "PERSONAKIT_TENANT"):
        monkeypatch.delenv(name, raising=False)
    path = _key_file(tmp_path, 0o644)
    Personakit.open(tmp_path / "store", keys=LocalKeyProvider(path.read_text())).close()
    assert (
        main(["--store", str(tmp_path / "store"), "--key-file", str(path), "keys", "status"]) == 0
    )
    err = capsys.readouterr().err
    assert err.count("\n") == 1
    assert err.startswith("personakit: warning: ")
    assert str(tmp_path) not in err


def test_the_cli_warns_about_a_new_key_file_for_rotation(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """keys rotate --new-key-file reads the new key through the same check."""
    current = generate_master_key()
    monkeypatch.setenv("PERSONAKIT_MASTER_KEY", current)
    monkeypatch.delenv("PERSONAKIT_MASTER_KEY_FILE", raising=False)
    Personakit.open(tmp_path / "store", keys=LocalKeyProvider(current)).close()
    new = _key_file(tmp_path, 0o644)
    argv = ["--store", str(tmp_path / "store"), "keys", "rotate", "--new-key-file", str(new)]
    assert main(argv) == 0
    err = capsys.readouterr().err
    assert err.count("personakit: warning: ") == 1


_PATHS = st.one_of(
    st.text(st.characters(exclude_categories=()), max_size=40),  # NUL and surrogates too
    st.sampled_from(["", ".", "/", "/nonexistent/key", "/proc/self/mem"]),
)


@settings(
    max_examples=80,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(name=_PATHS)
@example(name="a\x00b")
@example(name="\udcff")
def test_any_path_gives_a_provider_or_a_configuration_error(tmp_path: Path, name: str) -> None:
    """from_file never raises anything but ConfigurationError, whatever it is given."""
    path = name if name.startswith("/") else os.path.join(tmp_path, name)  # noqa: PTH118
    try:
        LocalKeyProvider.from_file(path)
    except ConfigurationError as exc:
        message = str(exc)
    else:
        message = ""
    assert str(tmp_path) not in message


@settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(
    mode=st.integers(0o400, 0o777),
    text=st.one_of(st.just(None), st.text(st.characters(codec="ascii"), max_size=60)),
)
def test_any_mode_and_content_loads_warns_or_is_a_configuration_error(
    tmp_path: Path, mode: int, text: str | None
) -> None:
    """Readable file, any mode and content: a key (warned iff group/others have access) or
    a ConfigurationError; the warning comes before the content is judged."""
    path = _key_file(tmp_path, mode, text)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            LocalKeyProvider.from_file(path)
        except ConfigurationError:
            assert text is not None
    warned = [w for w in caught if issubclass(w.category, KeyFilePermissionWarning)]
    assert len(warned) == (1 if mode & 0o077 else 0)
    assert len(caught) == len(warned)
