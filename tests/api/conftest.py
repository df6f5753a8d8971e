"""API tests run against a real server process over HTTP, once per database backend.

One server per backend per test module (starting one costs about a second), on a database
of its own already at the schema's head (tests.conftest.migrated_database: the migrations
run once per session, not once per module); tests keep out of each other's way by
creating their own resources under their own project ids.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from neutrino.bus import Bus
from tests.conftest import BACKENDS, migrated_database
from tests.support.agents_bus import BusEnv
from tests.support.neutron import Api
from tests.support.osc import Osc, openstack_cli
from tests.support.server import Server, project_headers


@pytest.fixture(scope="module", params=BACKENDS)
def server(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
           ) -> Iterator[Server]:
    workdir = tmp_path_factory.mktemp(f"server-{request.param}")
    conf = getattr(request.module, "SERVER_CONF", None)
    with migrated_database(request.param, workdir) as url, Server(url, workdir, conf=conf) as srv:
        yield srv


@pytest.fixture
def project() -> str:
    return f"p-{uuid.uuid4().hex[:12]}"


@pytest.fixture
def headers(project: str) -> dict[str, str]:
    return project_headers(project)


@pytest.fixture
def admin_headers() -> dict[str, str]:
    return project_headers("admin-project", admin=True)


@pytest.fixture
def api_class() -> type[Api]:
    """What ``admin`` and ``member`` are; a module overrides this fixture to have them be
    an Api subclass (tests.support.secgroups.SgApi)."""
    return Api


@pytest.fixture
def admin(server: Server, admin_headers: dict[str, str], api_class: type[Api]) -> Api:
    return api_class(server, admin_headers)


@pytest.fixture
def member(server: Server, headers: dict[str, str], api_class: type[Api]) -> Api:
    """A member of the test's own project."""
    return api_class(server, headers)


@pytest.fixture
def api(member: Api) -> Api:
    """``member``, by the name most modules give the test's own caller."""
    return member


@pytest.fixture
def osc(server: Server, tmp_path: Path) -> Osc:
    """The openstack CLI against the test server (tests.support.osc)."""
    return openstack_cli(server, tmp_path)


@pytest.fixture(scope="module")
def bus(request: pytest.FixtureRequest) -> Iterator[Bus]:
    """The test module's bus on RabbitMQ, in the module's own ``ENV`` (a BusEnv, whose
    sections are also in its SERVER_CONF); the env's exchanges and queues go afterwards."""
    env = getattr(request.module, "ENV", None)
    assert isinstance(env, BusEnv), f"{request.module.__name__} has no ENV = BusEnv(...)"
    with env.connected() as bus:
        yield bus


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if "server" in getattr(item, "fixturenames", ()):
            item.add_marker(pytest.mark.db)
