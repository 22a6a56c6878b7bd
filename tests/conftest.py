from __future__ import annotations

import os
import socket

import pytest


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def free_port() -> int:
    return _free_port()


@pytest.fixture(autouse=True, scope="session")
def _data_home(tmp_path_factory: pytest.TempPathFactory) -> None:
    """Default ledgers (and anything else under the data directory) go to a temp dir, never to
    the home directory of whoever runs the tests."""
    os.environ["XDG_DATA_HOME"] = str(tmp_path_factory.mktemp("data-home"))
    # A ledger the person running the tests set for their own console is not the tests' either.
    os.environ.pop("PLANO_OBS_LEDGER", None)


@pytest.fixture(scope="session")
def pg_cluster():  # type: ignore[no-untyped-def]
    """One throwaway PostgreSQL cluster for the whole session (skipped without the server
    binaries, except under CI=true, where their absence fails)."""
    from pg_cluster import find_bin_dir, running_cluster

    if find_bin_dir() is None:
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail("CI=true but no PostgreSQL server binaries (initdb, pg_ctl) were found; "
                        "install postgresql-15 or set PLANO_OBS_PG_BIN")
        pytest.skip("no PostgreSQL server binaries (initdb, pg_ctl): install postgresql-15 or "
                    "set PLANO_OBS_PG_BIN")
    with running_cluster() as cluster:
        yield cluster


@pytest.fixture
def pg_url(pg_cluster) -> str:  # type: ignore[no-untyped-def]
    """A new, empty database in the session's cluster, as a postgresql:// URL."""
    return str(pg_cluster.create_database())
