"""Subnet pools race-free across API processes (``api_workers = 2``, every backend): many
clients allocating from one pool at once never get overlapping CIDRs (the pool's row is
locked by each allocation); when the pool runs out, or a project's prefix quota does, the
extra requests get 409, never a 500; two pools marked default at once leave one default."""

from __future__ import annotations

import ipaddress
import itertools
import uuid
from collections import Counter
from typing import Any

import pytest
from tests.support.concurrency import THREADS, Client, create, error_type, race, race_indexed
from tests.support.server import Server, project_headers

pytestmark = pytest.mark.db


def _pool(server: Server, headers: dict[str, str], **attrs: Any) -> dict[str, Any]:
    return create(server, "/v2.0/subnetpools", {"subnetpool": attrs}, headers)


def _subnets(server: Server, headers: dict[str, str], pool_id: str) -> list[dict[str, Any]]:
    status, body = server.request("GET", f"/v2.0/subnets?subnetpool_id={pool_id}",
                                  headers=headers)
    assert status == 200, body
    return body["subnets"]


def test_parallel_allocations_never_overlap(api_server: Server) -> None:
    # A shared pool with room for 24 /26s; 16 clients of 16 projects (so that nothing
    # per project, such as the subnet quota's lock, serializes them) ask twice each: 8
    # must be refused as the pool runs out.
    admin = project_headers("admin-project", admin=True)
    pool = _pool(api_server, admin, name="race", prefixes=["10.200.0.0/22", "10.200.8.0/23"],
                 default_prefixlen=26, shared=True)
    projects = [project_headers(f"p-{uuid.uuid4().hex[:12]}") for _ in range(THREADS)]
    nets = [create(api_server, "/v2.0/networks", {"network": {}}, h)["id"] for h in projects]

    def work(_client: Client, index: int) -> list[str]:
        client = Client(api_server, projects[index])
        out = []
        try:
            for _ in range(2):
                status, body = client.request("POST", "/v2.0/subnets", {"subnet": {
                    "network_id": nets[index], "ip_version": 4,
                    "subnetpool_id": pool["id"]}})
                out.append("created" if status == 201 else f"{status} {error_type(body)}")
        finally:
            client.close()
        return out

    outcomes = Counter(race_indexed(api_server, admin, work))
    assert set(outcomes) <= {"created", "409 SubnetAllocationError"}, \
        (outcomes, api_server.log()[-5000:])
    assert outcomes["created"] == 24, outcomes
    cidrs = [ipaddress.ip_network(s["cidr"]) for s in _subnets(api_server, admin, pool["id"])]
    assert len(cidrs) == 24
    for a, b in itertools.combinations(cidrs, 2):
        assert not a.overlaps(b), (a, b)


def test_parallel_allocations_respect_prefix_quota(api_server: Server,
                                                   headers: dict[str, str]) -> None:
    # a quota of 8 /26s in a pool with room for many more
    pool = _pool(api_server, headers, name="quota", prefixes=["10.210.0.0/16"],
                 default_prefixlen=26, default_quota=8 * 64)
    net = create(api_server, "/v2.0/networks", {"network": {}}, headers)["id"]

    def work(client: Client) -> list[str]:
        status, body = client.request("POST", "/v2.0/subnets", {"subnet": {
            "network_id": net, "ip_version": 4, "subnetpool_id": pool["id"]}})
        return ["created" if status == 201 else f"{status} {error_type(body)}"]

    outcomes = Counter(race(api_server, headers, work))
    assert outcomes == {"created": 8, "409 SubnetPoolQuotaExceeded": 8}, outcomes


def test_one_default_pool_per_version(api_server: Server) -> None:
    admin = project_headers("admin-project", admin=True)

    def work(client: Client, index: int) -> list[str]:
        status, body = client.request("POST", "/v2.0/subnetpools", {"subnetpool": {
            "name": f"default-{index}", "prefixes": [f"2001:db8:{index + 1:x}::/48"],
            "is_default": True}})
        return ["created" if status == 201 else f"{status} {error_type(body)}"]

    outcomes = Counter(race_indexed(api_server, admin, work, threads=8))
    assert outcomes == {"created": 1, "400 InvalidInput": 7}, outcomes
