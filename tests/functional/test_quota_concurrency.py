"""Quotas hold under concurrency: many clients creating for one project at the quota's
edge against two API processes that share nothing but the database.

Only the database can keep the count right here (core/quotas.py: SQLite's single
writer; a locked row per project and resource on PostgreSQL and MariaDB/MySQL, and a
retried transaction for a lost race). Afterwards the database never holds more than the
limit, every refused create is a 409 OverQuota and no request fails with a 5xx.
"""

from __future__ import annotations

import uuid
from collections import Counter
from typing import Any

import pytest
import sqlalchemy as sa
from tests.support.concurrency import THREADS, Client, create, db_rows, race_indexed
from tests.support.server import Server, project_headers

pytestmark = pytest.mark.db

PORT_QUOTA = 10
NETWORK_QUOTA = 6
SERVER_CONF = {"QUOTAS": {"quota_port": PORT_QUOTA, "quota_network": NETWORK_QUOTA}}


def _outcome(status: int, body: Any) -> str:
    if status == 201:
        return "created"
    err = body.get("NeutronError", {}) if isinstance(body, dict) else {}
    return f"{status} {err.get('type')}: {err.get('message')}"


def _rows(db_url: str, table: str, project: str) -> int:
    [(count,)] = db_rows(db_url, sa.text(
        f"SELECT COUNT(*) FROM {table} WHERE project_id = :p").bindparams(p=project))
    return int(count)


@pytest.fixture
def project() -> str:
    return f"p-{uuid.uuid4().hex[:12]}"


def _check(results: list[str], created: int, limit: int, server: Server) -> None:
    outcomes = Counter(results)
    assert not [r for r in outcomes if r[0] == "5"], (outcomes, server.log()[-5000:])
    assert set(outcomes) <= {"created", "409 OverQuota: Quota exceeded for resources: "
                                        "['port'].",
                             "409 OverQuota: Quota exceeded for resources: ['network']."}, \
        outcomes
    assert outcomes["created"] == created <= limit, outcomes


def test_ports_never_exceed_quota(api_server: Server, project: str) -> None:
    headers = project_headers(project)
    net_id = create(api_server, "/v2.0/networks", {"network": {}}, headers)["id"]

    def work(client: Client, _index: int) -> list[str]:
        out = []
        for _ in range(40 // THREADS + 1):  # 48 attempts for 10 ports
            out.append(_outcome(*client.request("POST", "/v2.0/ports",
                                                {"port": {"network_id": net_id}})))
        return out

    results = race_indexed(api_server, headers, work)
    created = _rows(api_server.db_url, "ports", project)
    _check(results, created, PORT_QUOTA, api_server)
    assert created == PORT_QUOTA  # with 48 tries, every slot gets taken


def test_bulk_ports_never_exceed_quota(api_server: Server, project: str) -> None:
    headers = project_headers(project)
    net_id = create(api_server, "/v2.0/networks", {"network": {}}, headers)["id"]

    def work(client: Client, index: int) -> list[str]:
        size = 1 + index % 3  # bulks of 1, 2 and 3 ports, all or nothing
        status, body = client.request("POST", "/v2.0/ports",
                                      {"ports": [{"network_id": net_id}] * size})
        if status == 201:
            return ["created"] * len(body["ports"])
        return [_outcome(status, body)]

    results = race_indexed(api_server, headers, work)
    created = _rows(api_server.db_url, "ports", project)
    _check(results, created, PORT_QUOTA, api_server)


def test_networks_never_exceed_quota(api_server: Server, project: str) -> None:
    headers = project_headers(project)

    def work(client: Client, _index: int) -> list[str]:
        return [_outcome(*client.request("POST", "/v2.0/networks", {"network": {}}))
                for _ in range(3)]

    results = race_indexed(api_server, headers, work)
    created = _rows(api_server.db_url, "networks", project)
    _check(results, created, NETWORK_QUOTA, api_server)
    assert created == NETWORK_QUOTA


def test_limit_set_during_creates_holds(api_server: Server, project: str) -> None:
    """Ports are created while unlimited; meanwhile an admin sets a limit (not forced,
    so never below usage). Once it is set no create may pass it: creates of an
    unlimited resource take its lock row shared, the admin's change takes it exclusive."""
    headers = project_headers(project)
    admin = project_headers("quota-admin", admin=True)
    path = f"/v2.0/quotas/{project}"
    status, body = api_server.request("PUT", path, {"quota": {"port": -1}}, headers=admin)
    assert status == 200, body
    net_id = create(api_server, "/v2.0/networks", {"network": {}}, headers)["id"]
    limit: list[int] = []

    def work(client: Client, index: int) -> list[str]:
        if index == 0:
            # the admin: set the limit a little above what is used, until it sticks
            client.headers.update(admin)
            for _ in range(200):
                status, body = client.request("GET", f"{path}/details")
                assert status == 200, body
                wanted = body["quota"]["port"]["used"] + 3
                status, body = client.request("PUT", path, {"quota": {"port": wanted}})
                if status == 200:
                    limit.append(wanted)
                    return []
                assert status == 400, body
            raise AssertionError("the limit never stuck")
        out = []
        for _ in range(6):
            out.append(_outcome(*client.request("POST", "/v2.0/ports",
                                                {"port": {"network_id": net_id}})))
        return out

    results = race_indexed(api_server, headers, work)
    created = _rows(api_server.db_url, "ports", project)
    assert limit, results
    _check(results, created, limit[0], api_server)
