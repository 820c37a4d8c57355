"""The PostgreSQL test server: skipped without binaries, except under CI where that fails."""

from __future__ import annotations

import pytest
from conftest_pg import (
    PG_MISSING,
    PostgresServer,
    PostgresUnavailableError,
    find_pg_bin,
    on_ci,
    start_or_skip,
)


def missing() -> PostgresServer:
    raise PostgresUnavailableError(PG_MISSING)


def broken() -> PostgresServer:
    raise RuntimeError("initdb failed")


@pytest.mark.parametrize("value", ["true", "TRUE", "1", "yes"])
def test_ci_is_recognised(value: str) -> None:
    assert on_ci({"CI": value})


@pytest.mark.parametrize("environ", [{}, {"CI": ""}, {"CI": "false"}])
def test_not_ci(environ: dict[str, str]) -> None:
    assert not on_ci(environ)


def test_missing_binaries_skip_outside_ci() -> None:
    with pytest.raises(pytest.skip.Exception, match="install Debian package 'postgresql'"):
        start_or_skip(missing, {})


def test_missing_binaries_fail_under_ci() -> None:
    with pytest.raises(pytest.fail.Exception, match="CI=true"):
        start_or_skip(missing, {"CI": "true"})


def test_a_server_that_will_not_start_is_an_error_not_a_skip() -> None:
    with pytest.raises(RuntimeError, match="initdb failed"):
        start_or_skip(broken, {})


@pytest.mark.postgres
def test_the_session_server_listens_on_loopback_only(postgres_server: PostgresServer) -> None:
    import psycopg

    assert find_pg_bin() is not None
    with psycopg.connect(postgres_server.conninfo()) as conn:
        row = conn.execute("SHOW listen_addresses").fetchone()
        assert row == ("127.0.0.1",)
        fsync = conn.execute("SHOW fsync").fetchone()
        assert fsync == ("off",)
    assert postgres_server.host == "127.0.0.1"
    assert (postgres_server.root / f".s.PGSQL.{postgres_server.port}").exists()
