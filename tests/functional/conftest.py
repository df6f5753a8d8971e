"""Fixtures for functional tests that need real external services.

``keystone`` is one real Keystone for the whole test session (tests.support.keystone): run
from its own venv, built on first use by tests/support/keystone_env.sh (about 35 s on a fresh
machine, ~0.3 s when up to date), then started on a loopback port with the test accounts
created (about 8 s).

Environment:
  NEUTRINO_SKIP_KEYSTONE=1          skip every test that needs Keystone
  NEUTRINO_KEYSTONE_VENV=PATH       where the Keystone venv is (default
                                    /opt/neutrino-keystone-venv)
  NEUTRINO_TEST_REQUIRE_KEYSTONE=1  a venv that cannot be built fails the tests instead of
  (or NEUTRINO_TEST_REQUIRE_BACKENDS) skipping them (CI)
"""

from __future__ import annotations

import os
import time
import uuid
from collections.abc import Iterator

import pytest
from tests.conftest import BACKENDS
from tests.support.concurrency import two_worker_server
from tests.support.keystone import Keystone, KeystoneUnavailable, ensure_venv, keystone_venv
from tests.support.server import Server, project_headers

from neutrino.db import tables
from neutrino.db.engine import Database

_timings: dict[str, float | str] = {}


@pytest.fixture
def db(db_url: str, request: pytest.FixtureRequest) -> Iterator[Database]:
    """The schema on ``db_url`` behind a pool of the test module's ``THREADS`` connections
    (and as many more): no thread of a concurrency test waits on the pool instead of on
    the database."""
    threads = getattr(request.module, "THREADS", 8)
    database = Database(db_url, pool_size=threads, max_overflow=threads)
    tables.metadata.create_all(database.engine)
    try:
        yield database
    finally:
        database.dispose()


@pytest.fixture(scope="session")
def keystone(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Keystone]:
    """A running Keystone with the accounts of tests.support.keystone.ACCOUNTS."""
    if os.environ.get("NEUTRINO_SKIP_KEYSTONE"):
        pytest.skip("NEUTRINO_SKIP_KEYSTONE is set: not building or starting Keystone")
    venv = keystone_venv()
    already = (venv / ".neutrino-keystone-stamp").exists()
    started = time.monotonic()
    try:
        ensure_venv(venv)
    except KeystoneUnavailable as e:
        reason = f"no Keystone venv at {venv} and it could not be built: {e}"
        if os.environ.get("NEUTRINO_TEST_REQUIRE_KEYSTONE") or os.environ.get(
                "NEUTRINO_TEST_REQUIRE_BACKENDS"):
            pytest.fail(reason)
        pytest.skip(reason)
    _timings["venv"] = time.monotonic() - started
    _timings["venv_state"] = "checked" if already else "built"
    _timings["venv_path"] = str(venv)

    ks = Keystone(tmp_path_factory.mktemp("keystone"), venv=venv)
    started = time.monotonic()
    with ks:
        _timings["start"] = time.monotonic() - started
        ks.create_accounts()
        _timings.update(ks.timings)
        yield ks


@pytest.fixture(scope="module", params=BACKENDS)
def backend(request: pytest.FixtureRequest) -> str:
    return request.param


@pytest.fixture(scope="module")
def api_server(request: pytest.FixtureRequest, backend: str,
               tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """For races: a server with two API processes (tests.support.concurrency) on a fresh
    database of every backend, with the test module's SERVER_CONF if it has one."""
    workdir = tmp_path_factory.mktemp(f"{request.module.__name__.rsplit('.', 1)[-1]}-{backend}")
    with two_worker_server(backend, workdir, getattr(request.module, "SERVER_CONF", None)
                           ) as srv:
        yield srv


@pytest.fixture
def headers() -> dict[str, str]:
    """A member of a project of the test's own."""
    return project_headers(f"p-{uuid.uuid4().hex[:12]}")


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "keystone: needs the real Keystone server fixture")


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if "keystone" in getattr(item, "fixturenames", ()):
            item.add_marker(pytest.mark.keystone)


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    if "start" not in _timings:
        return
    t = _timings
    terminalreporter.write_line(
        f"keystone: venv {t['venv_state']} in {t['venv']:.1f}s ({t['venv_path']}); "
        f"started in {t['start']:.1f}s (keystone-manage {t.get('keystone_manage', 0):.1f}s, "
        f"server {t.get('server_start', 0):.1f}s); accounts created in "
        f"{t.get('create_accounts', 0):.1f}s"
    )
