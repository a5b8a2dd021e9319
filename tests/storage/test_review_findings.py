"""Regression tests for defects found in review of PostgresStore (no server needed)."""

from __future__ import annotations

import pytest

from personakit import ConfigurationError
from personakit.storage import PostgresStore

pytest.importorskip("psycopg")


@pytest.mark.parametrize("dsn", [None, b"host=localhost", 5])
def test_a_dsn_that_is_not_a_str_is_a_configuration_error(dsn: object) -> None:
    """A non-str dsn raises ConfigurationError before connecting (not AttributeError)."""
    with pytest.raises(ConfigurationError):
        PostgresStore(dsn)  # type: ignore[arg-type]


@pytest.mark.parametrize("timeout", ["5", None, float("inf"), float("nan"), 0, -1, 1e12, True])
def test_a_bad_timeout_is_a_configuration_error(timeout: object) -> None:
    """A timeout that is not a sane number of seconds raises ConfigurationError up front."""
    with pytest.raises(ConfigurationError):
        PostgresStore("postgresql://127.0.0.1:1/none", timeout=timeout)  # type: ignore[arg-type]
