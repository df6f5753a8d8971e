"""API tests run against a real server process over HTTP, once per database backend.

One server per backend per test module (starting one costs about a second); tests keep
out of each other's way by creating their own resources under their own project ids.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest

from tests.conftest import BACKENDS, temp_database
from tests.support.server import Server, project_headers


@pytest.fixture(scope="module", params=BACKENDS)
def server(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
           ) -> Iterator[Server]:
    workdir = tmp_path_factory.mktemp(f"server-{request.param}")
    conf = getattr(request.module, "SERVER_CONF", None)
    with temp_database(request.param, workdir) as url, Server(url, workdir, conf=conf) as srv:
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


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if "server" in getattr(item, "fixturenames", ()):
            item.add_marker(pytest.mark.db)
