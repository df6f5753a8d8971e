"""kill -9 of every server process (the supervisor and its two API workers) in the middle of
write bursts, then a restart: whatever was in flight was written whole or not at all.

The burst mixes what writes several tables at once: port creates (port, binding,
addresses, quota), address changes, deletes, floating IP creates with association and
their deletes. The kill comes once enough writes have been answered that more are surely
in flight. After each restart the database invariants hold (tests/support/db_invariants),
no port lacks its addresses or binding, the project is within its quota, and the API
serves again, agreeing with the database.
"""

from __future__ import annotations

import http.client
import os
import random
import signal
import threading
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from tests.conftest import BACKENDS
from tests.support.concurrency import Client, create, db_rows, two_worker_server
from tests.support.db_invariants import PORTS_WITHOUT_ADDRESSES, violations
from tests.support.server import Server, project_headers

pytestmark = pytest.mark.db

CYCLES = 2  # kill, restart, check: per backend
THREADS = 8
ANSWERED_BEFORE_KILL = 40  # writes answered in a burst before the kill
PORT_QUOTA = 40

CRASH_INVARIANTS = {
    "port without addresses": PORTS_WITHOUT_ADDRESSES,
    "allocation of no port": """
        SELECT a.ip_address FROM ip_allocations a LEFT JOIN ports p ON p.id = a.port_id
        WHERE p.id IS NULL""",
    "port without binding": """
        SELECT p.id FROM ports p WHERE NOT EXISTS (
            SELECT 1 FROM port_bindings b WHERE b.port_id = p.id)""",
}


@pytest.fixture(scope="module", params=BACKENDS)
def server(request: pytest.FixtureRequest,
           tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    workdir: Path = tmp_path_factory.mktemp(f"crash-{request.param}")
    with two_worker_server(request.param, workdir) as srv:
        yield srv


class Burst:
    """THREADS clients writing until the server dies under them."""

    def __init__(self, server: Server, headers: dict[str, str], topo: dict[str, Any],
                 seed: int) -> None:
        self.server = server
        self.headers = headers
        self.topo = topo
        self.seed = seed
        self.answered = 0
        self.statuses: list[int] = []
        self.cond = threading.Condition()
        self.threads = [threading.Thread(target=self._run, args=(i,), daemon=True)
                        for i in range(THREADS)]

    def start(self) -> None:
        for th in self.threads:
            th.start()

    def wait_answered(self, count: int, timeout: float = 120) -> None:
        with self.cond:
            assert self.cond.wait_for(lambda: self.answered >= count, timeout), (
                self.answered, self.statuses[-20:], self.server.log()[-3000:])

    def join(self) -> None:
        for th in self.threads:
            th.join(timeout=90)
            assert not th.is_alive()

    def _note(self, status: int) -> None:
        with self.cond:
            self.answered += 1
            self.statuses.append(status)
            self.cond.notify_all()

    def _run(self, index: int) -> None:
        rng = random.Random(self.seed * 100 + index)
        client = Client(self.server, self.headers)
        mine: list[str] = []
        net, sub, ext = self.topo["net"], self.topo["subnet"], self.topo["ext"]
        try:
            while True:
                op = rng.random()
                if op < 0.4 or not mine:
                    status, body = client.request("POST", "/v2.0/ports",
                                                  {"port": {"network_id": net}})
                    if status == 201:
                        mine.append(body["port"]["id"])
                elif op < 0.6:
                    ip = f"10.71.{rng.randrange(1, 3)}.{rng.randrange(1, 255)}"
                    status, _ = client.request(
                        "PUT", f"/v2.0/ports/{rng.choice(mine)}",
                        {"port": {"fixed_ips": [{"subnet_id": sub, "ip_address": ip}]}})
                elif op < 0.75:
                    status, _ = client.request("DELETE", f"/v2.0/ports/{mine.pop()}")
                else:
                    port = rng.choice(mine)
                    status, body = client.request("POST", "/v2.0/floatingips", {
                        "floatingip": {"floating_network_id": ext, "port_id": port}})
                    if status == 201:
                        status, _ = client.request(
                            "DELETE", f"/v2.0/floatingips/{body['floatingip']['id']}")
                self._note(status)
        except (OSError, http.client.HTTPException):
            return  # the server was killed under this request
        finally:
            client.close()


def kill_all(server: Server) -> None:
    """SIGKILL to the server's whole process group: supervisor and workers at once."""
    assert server.proc is not None
    os.killpg(server.proc.pid, signal.SIGKILL)
    server.proc.wait(timeout=30)


def setup_topology(server: Server, headers: dict[str, str]) -> dict[str, Any]:
    ext = create(server, "/v2.0/networks",
                 {"network": {"name": "ext", "router:external": True}}, {})
    create(server, "/v2.0/subnets", {"subnet": {
        "network_id": ext["id"], "cidr": "172.28.0.0/22", "ip_version": 4,
        "enable_dhcp": False}}, {})
    net = create(server, "/v2.0/networks", {"network": {"name": "crash"}}, headers)
    sub = create(server, "/v2.0/subnets", {"subnet": {
        "network_id": net["id"], "cidr": "10.71.0.0/22", "ip_version": 4}}, headers)
    router = create(server, "/v2.0/routers", {"router": {
        "name": "r", "external_gateway_info": {"network_id": ext["id"]}}}, headers)
    status, body = server.request(
        "PUT", f"/v2.0/routers/{router['id']}/add_router_interface",
        {"subnet_id": sub["id"]}, headers=headers)
    assert status == 200, body
    status, body = server.request("PUT", f"/v2.0/quotas/{headers['X-Project-Id']}",
                                  {"quota": {"port": PORT_QUOTA}})
    assert status == 200, body
    return {"ext": ext["id"], "net": net["id"], "subnet": sub["id"]}


def test_kill_9_during_write_bursts(server: Server) -> None:
    headers = project_headers(uuid.uuid4().hex)
    topo = setup_topology(server, headers)
    project = headers["X-Project-Id"]
    for cycle in range(CYCLES):
        burst = Burst(server, headers, topo, seed=cycle)
        burst.start()
        burst.wait_answered(ANSWERED_BEFORE_KILL)
        kill_all(server)
        burst.join()
        assert all(s < 500 for s in burst.statuses), burst.statuses
        server.start()

        assert violations(server.db_url, CRASH_INVARIANTS) == {}
        ports = db_rows(server.db_url, sa.text(
            "SELECT id FROM ports WHERE project_id = :p").bindparams(
            p=project))
        assert len(ports) <= PORT_QUOTA  # the router's interface counts too
        # the API serves again, and shows what the database holds
        status, body = server.request("GET", f"/v2.0/ports?project_id={project}",
                                      headers=headers)
        assert status == 200
        assert sorted(p["id"] for p in body["ports"]) == sorted(r[0] for r in ports)
        assert all(p["fixed_ips"] for p in body["ports"])
        if len(ports) < PORT_QUOTA:
            status, body = server.request("POST", "/v2.0/ports",
                                          {"port": {"network_id": topo["net"]}},
                                          headers=headers)
            assert status == 201, body
