"""Races of shared security groups (rbac-security-groups) through the real API, against a
server with two API processes on PostgreSQL and MariaDB (tests/reliability/test_races.py's
server): revoking a project's access to a group while its ports join the group."""

from __future__ import annotations

import pytest

from tests.reliability.test_races import (  # noqa: F401 (fixtures)
    ROUNDS,
    Call,
    assert_invariants,
    interleaving,
    network_with_subnet,
    ok,
    project,
    server,
    together,
)
from tests.support.concurrency import create, error_type
from tests.support.server import Server

pytestmark = pytest.mark.db


def test_sg_rbac_revoke_vs_port_create(interleaving: Server) -> None:  # noqa: F811
    """Either the revoke (delete, or retarget to another project) comes first (the ports
    naming the group are 404) or a port does (the revoke is 409 RbacPolicyInUse): never a
    port in a group its project has no access to."""
    srv = interleaving
    owner, guest, third = project(), project(), project()
    group = create(srv, "/v2.0/security-groups", {"security_group": {"name": "s"}}, owner)
    net, _ = network_with_subnet(srv, guest, "10.64.0.0/24")
    for round_ in range(ROUNDS):
        entry = create(srv, "/v2.0/rbac-policies", {"rbac_policy": {
            "object_type": "security_group", "object_id": group["id"],
            "action": "access_as_shared", "target_tenant": guest["X-Project-Id"]}}, owner)
        path = f"/v2.0/rbac-policies/{entry['id']}"
        revoke_call: Call = (owner, "DELETE", path, None) if round_ % 2 == 0 else (
            owner, "PUT", path, {"rbac_policy": {"target_tenant": third["X-Project-Id"]}})
        answers = together(srv, [
            revoke_call,
            *[(guest, "POST", "/v2.0/ports", {"port": {
                "network_id": net["id"], "security_groups": [group["id"]]}})] * 3])
        revoke, ports = answers[0], answers[1:]
        created = [b["port"]["id"] for s, b in ports if s == 201]
        if revoke[0] in (200, 204):
            assert created == [], answers
            assert {(s, error_type(b)) for s, b in ports} == {(404, "SecurityGroupNotFound")}
        else:
            assert (revoke[0], error_type(revoke[1])) == (409, "RbacPolicyInUse"), answers
            assert created, answers
        assert_invariants(srv)
        for port_id in created:
            ok(srv, "DELETE", f"/v2.0/ports/{port_id}", headers=guest)
        if revoke[0] != 204:
            ok(srv, "DELETE", path, headers=owner)
