"""Race freedom through the real API: many clients at once against two API processes.

Each backend gets a ``neutrino server`` with ``api_workers = 2``: two processes that share
nothing but the database, so only database constraints and transaction retries can keep
addresses, MACs and segment ids unique. Every client thread has its own HTTP connection;
threads are released together by a barrier to make the requests really overlap.
"""

from __future__ import annotations

import ipaddress
import uuid
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from tests.support.concurrency import (
    THREADS,
    Client,
    create,
    db_rows,
    error_type,
    race,
    two_worker_server,
)
from tests.support.server import Server, project_headers

pytestmark = pytest.mark.db


def _network_with_subnet(server: Server, headers: dict[str, str], cidr: str
                         ) -> tuple[dict[str, Any], dict[str, Any]]:
    net = create(server, "/v2.0/networks", {"network": {"name": "race"}}, headers)
    subnet = create(server, "/v2.0/subnets",
                    {"subnet": {"network_id": net["id"], "cidr": cidr, "ip_version": 4}},
                    headers)
    return net, subnet


def _ports(server: Server, headers: dict[str, str], network_id: str) -> list[dict[str, Any]]:
    status, body = server.request("GET", f"/v2.0/ports?network_id={network_id}",
                                  headers=headers)
    assert status == 200, body
    return body["ports"]


def test_concurrent_ports_exhaust_a_small_subnet(api_server: Server,
                                                 headers: dict[str, str]) -> None:
    net, subnet = _network_with_subnet(api_server, headers, "10.40.0.0/26")
    assert subnet["allocation_pools"] == [{"start": "10.40.0.2", "end": "10.40.0.62"}]
    pool_size = 61
    per_thread = 5  # 80 requests for 61 addresses

    def work(client: Client) -> list[tuple[int, Any]]:
        return [client.request("POST", "/v2.0/ports", {"port": {"network_id": net["id"]}})
                for _ in range(per_thread)]

    results = race(api_server, headers, work)

    assert len(results) == THREADS * per_thread
    statuses = Counter(status for status, _ in results)
    assert not [s for s in statuses if s >= 500], (statuses, api_server.log()[-5000:])
    ports = [body["port"] for status, body in results if status == 201]
    failures = [body for status, body in results if status != 201]
    # every address handed out, then exactly the excess refused, each for the right reason
    assert len(ports) == pool_size, statuses
    assert {(409, "IpAddressGenerationFailure")} == {
        (s, error_type(b)) for s, b in results if s != 201}
    assert len(failures) == THREADS * per_thread - pool_size
    assert failures[0]["NeutronError"]["message"] == \
        f"No more IP addresses available on network {net['id']}."

    ips = [p["fixed_ips"][0]["ip_address"] for p in ports]
    assert all(len(p["fixed_ips"]) == 1 and p["fixed_ips"][0]["subnet_id"] == subnet["id"]
               for p in ports)
    assert len(set(ips)) == pool_size
    assert {ipaddress.ip_address(ip) for ip in ips} == {
        ipaddress.ip_address("10.40.0.0") + i for i in range(2, 63)}
    assert len({p["mac_address"] for p in ports}) == pool_size

    # what the API lists is exactly what it acknowledged: nothing half-written
    listed = _ports(api_server, headers, net["id"])
    assert {p["id"]: p["fixed_ips"] for p in listed} == {p["id"]: p["fixed_ips"] for p in ports}
    rows = db_rows(api_server.db_url, sa.text(
        "SELECT (SELECT COUNT(*) FROM ports WHERE network_id = :n),"
        " (SELECT COUNT(*) FROM ip_allocations WHERE subnet_id = :s)"
    ).bindparams(n=net["id"], s=subnet["id"]))
    assert tuple(rows[0]) == (pool_size, pool_size)


def test_concurrent_same_fixed_ip(api_server: Server, headers: dict[str, str]) -> None:
    net, subnet = _network_with_subnet(api_server, headers, "10.41.0.0/24")
    body = {"port": {"network_id": net["id"], "fixed_ips": [{"ip_address": "10.41.0.50"}]}}

    results = race(api_server, headers, lambda c: [c.request("POST", "/v2.0/ports", body)])

    outcome = Counter((s, error_type(b)) for s, b in results)
    assert outcome == {(201, None): 1, (409, "IpAddressAlreadyAllocated"): THREADS - 1}, \
        outcome
    winner = next(b["port"] for s, b in results if s == 201)
    loser = next(b for s, b in results if s != 201)
    assert loser["NeutronError"]["message"] == \
        f"IP address 10.41.0.50 already allocated in subnet {subnet['id']}"
    assert [p["id"] for p in _ports(api_server, headers, net["id"])] == [winner["id"]]
    rows = db_rows(api_server.db_url, sa.text(
        "SELECT COUNT(*) FROM ip_allocations WHERE subnet_id = :s").bindparams(s=subnet["id"]))
    assert rows[0][0] == 1


def test_concurrent_same_mac(api_server: Server, headers: dict[str, str]) -> None:
    net, subnet = _network_with_subnet(api_server, headers, "10.42.0.0/24")
    mac = "fa:16:3e:42:42:42"
    body = {"port": {"network_id": net["id"], "mac_address": mac}}

    results = race(api_server, headers, lambda c: [c.request("POST", "/v2.0/ports", body)])

    outcome = Counter((s, error_type(b)) for s, b in results)
    assert outcome == {(201, None): 1, (409, "MacAddressInUse"): THREADS - 1}, outcome
    winner = next(b["port"] for s, b in results if s == 201)
    assert winner["mac_address"] == mac
    listed = _ports(api_server, headers, net["id"])
    assert [(p["id"], p["mac_address"]) for p in listed] == [(winner["id"], mac)]
    # the losers' addresses were rolled back with them
    rows = db_rows(api_server.db_url, sa.text(
        "SELECT COUNT(*) FROM ip_allocations WHERE subnet_id = :s").bindparams(s=subnet["id"]))
    assert rows[0][0] == 1


def test_concurrent_tenant_networks_exhaust_vni_range(backend: str, tmp_path: Path) -> None:
    conf = {"ml2": {"tenant_network_types": "vxlan"},
            "ml2_type_vxlan": {"vni_ranges": "500:509"}}
    with two_worker_server(backend, tmp_path, conf) as server:
        headers = project_headers(f"p-{uuid.uuid4().hex[:12]}")

        results = race(server, headers, lambda c: [
            c.request("POST", "/v2.0/networks", {"network": {"name": "vx"}})])

        outcome = Counter((s, error_type(b)) for s, b in results)
        assert outcome == {(201, None): 10, (503, "NoNetworkAvailable"): THREADS - 10}, \
            (outcome, server.log()[-5000:])
        created = {b["network"]["id"] for s, b in results if s == 201}

        status, body = server.request("GET", "/v2.0/networks")  # as admin
        assert status == 200
        assert {n["id"] for n in body["networks"]} == created
        assert all(n["provider:network_type"] == "vxlan" for n in body["networks"])
        assert sorted(n["provider:segmentation_id"] for n in body["networks"]) == \
            list(range(500, 510))

        # no network row without its segment, no segment without its network
        rows = db_rows(server.db_url, sa.text(
            "SELECT (SELECT COUNT(*) FROM networks),"
            " (SELECT COUNT(*) FROM network_segments),"
            " (SELECT COUNT(*) FROM networks n WHERE NOT EXISTS"
            "   (SELECT 1 FROM network_segments s WHERE s.network_id = n.id))"))
        assert tuple(rows[0]) == (10, 10, 0)
