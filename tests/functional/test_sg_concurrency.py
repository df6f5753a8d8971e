"""Security groups race-free across API processes (``api_workers = 2``, every backend):
the same rule created by many clients at once exists once (the others get 409
SecurityGroupRuleExists, never a 500); a project's first requests, all at once, make one
default group; a group deleted while ports join it is either in use or gone, never half."""

from __future__ import annotations

import itertools
import uuid
from collections import Counter
from collections.abc import Iterator
from typing import Any

import pytest
import sqlalchemy as sa
from tests.support.concurrency import (
    Client,
    create,
    db_rows,
    error_type,
    race,
)
from tests.support.server import Server, project_headers

from neutrino.db import tables as t

pytestmark = pytest.mark.db


_r = t.security_group_rules.c
_g = t.security_groups.c


def test_parallel_duplicate_rules_make_one(api_server: Server, headers: dict[str, str]
                                           ) -> None:
    group = create(api_server, "/v2.0/security-groups",
                   {"security_group": {"name": "race"}}, headers)
    # the same rule in three spellings, 16 clients, twice each
    spellings = [{"protocol": "tcp", "remote_ip_prefix": "10.0.0.0/24"},
                 {"protocol": "6", "remote_ip_prefix": "10.0.0.77/24"},
                 {"protocol": "TCP", "remote_ip_prefix": "10.0.0.1/24"}]

    turns = itertools.count()

    def work(client: Client) -> list[Any]:
        out = []
        me = next(turns)
        for i in range(2):
            status, body = client.request("POST", "/v2.0/security-group-rules", {
                "security_group_rule": {"security_group_id": group["id"],
                                        "direction": "ingress", "port_range_min": 22,
                                        "port_range_max": 22,
                                        **spellings[(me + i) % 3]}})
            out.append((status, error_type(body),
                        body["security_group_rule"]["id"] if status == 201 else None))
        return out

    results = race(api_server, headers, work)
    outcomes = Counter((s, e) for s, e, _ in results)
    assert outcomes == {(201, None): 1, (409, "SecurityGroupRuleExists"): 31}, outcomes
    [created] = [rid for s, _, rid in results if s == 201]
    rows = db_rows(api_server.db_url, sa.select(_r.id).where(
        _r.security_group_id == group["id"], _r.direction == "ingress"))
    assert [r[0] for r in rows] == [created]


def test_parallel_first_requests_make_one_default_group(api_server: Server) -> None:
    project = f"p-{uuid.uuid4().hex[:12]}"
    hdrs = project_headers(project)
    net = create(api_server, "/v2.0/networks", {"network": {"name": "d"}}, hdrs)

    def work(client: Client) -> list[Any]:
        status, body = client.request("POST", "/v2.0/ports",
                                      {"port": {"network_id": net["id"]}})
        assert status == 201, body
        status, listed = client.request("GET", "/v2.0/security-groups")
        assert status == 200, listed
        return [(tuple(body["port"]["security_groups"]),
                 tuple(g["id"] for g in listed["security_groups"]))]

    results = race(api_server, hdrs, work)
    groups = {sg for port_groups, listed in results for sg in (*port_groups, *listed)}
    assert len(groups) == 1, results
    rows = db_rows(api_server.db_url, sa.select(_g.id).where(_g.project_id == project))
    assert [r[0] for r in rows] == list(groups)
    rules = db_rows(api_server.db_url, sa.select(sa.func.count()).select_from(
        t.security_group_rules).where(_r.security_group_id.in_(groups)))
    assert rules == [(4,)]


def test_delete_while_ports_join(api_server: Server, headers: dict[str, str]) -> None:
    net = create(api_server, "/v2.0/networks", {"network": {"name": "j"}}, headers)
    for _ in range(3):
        group = create(api_server, "/v2.0/security-groups",
                       {"security_group": {"name": "j"}}, headers)

        turns = itertools.count()

        def work(client: Client, group: dict[str, Any] = group,
                 turns: Iterator[int] = turns) -> list[Any]:
            if next(turns) % 4 == 0:
                status, body = client.request("DELETE",
                                              f"/v2.0/security-groups/{group['id']}")
                return [("delete", status, error_type(body))]
            status, body = client.request("POST", "/v2.0/ports", {"port": {
                "network_id": net["id"], "security_groups": [group["id"]]}})
            return [("port", status, error_type(body))]

        results = race(api_server, headers, work, threads=8)
        assert all(s < 500 for _, s, _ in results), results
        joined = [r for r in results if r[0] == "port" and r[1] == 201]
        deleted = [r for r in results if r[0] == "delete" and r[1] == 204]
        # ports that joined kept the group; a deleted group has no ports
        assert not (joined and deleted), results
        for kind, status, error in results:
            assert (kind, status, error) in {
                ("port", 201, None), ("port", 404, "SecurityGroupNotFound"),
                ("delete", 204, None), ("delete", 409, "SecurityGroupInUse"),
                ("delete", 404, "SecurityGroupNotFound")}, results
