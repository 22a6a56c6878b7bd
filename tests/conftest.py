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
