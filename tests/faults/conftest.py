"""Fixtures of the fault suite: the integration harness, reused.

tests/integration/conftest.py is loaded under another module name (two
modules called `conftest` cannot share sys.modules) and its fixtures and
hooks are re-exported here: pg, db, short_tmp, broker_factory, broker and
daemon behave exactly as in the integration tests. tests/integration is put
on sys.path so `harness` and `events` import as they do there.

Added here:
    --long        multiplies cycles, lengths and outages (runs by hand)
    scale         session: the factor (1 at CI size)
    private_pg    a PostgreSQL server of the test's own, which the test may
                  stop and start (.stop(), .restart() on the same port)
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import pytest

INTEGRATION = Path(__file__).resolve().parents[1] / "integration"
if str(INTEGRATION) not in sys.path:
    sys.path.insert(0, str(INTEGRATION))

_spec = importlib.util.spec_from_file_location("integration_conftest", INTEGRATION / "conftest.py")
_ic = importlib.util.module_from_spec(_spec)
sys.modules["integration_conftest"] = _ic
_spec.loader.exec_module(_ic)

# Fixtures and the report hook the integration fixtures read at teardown.
from integration_conftest import (  # noqa: E402,F401
    DaemonFactory,
    broker,
    broker_factory,
    daemon,
    db,
    pg,
    pytest_runtest_makereport,
    short_tmp,
)

import faultlib  # noqa: E402  (after sys.path: it imports harness)

LONG_FACTOR = 5


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption("--long", action="store_true", default=False,
                     help=f"fault suite: {LONG_FACTOR}x the cycles and stream lengths, and the long outages")


def pytest_configure(config: pytest.Config) -> None:
    _ic.pytest_configure(config)


@pytest.fixture(scope="session")
def long_mode(request: pytest.FixtureRequest) -> bool:
    return bool(request.config.getoption("--long"))


@pytest.fixture(scope="session")
def scale(long_mode: bool) -> int:
    return LONG_FACTOR if long_mode else 1


@pytest.fixture
def private_pg():
    server = faultlib.RestartablePostgres()
    try:
        yield server.start()
    finally:
        server.cleanup()
