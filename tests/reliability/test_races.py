"""Races through the real API, against a server with two API processes on every backend.

Each kind of race is run concurrently ROUNDS times: requests released together by a
barrier, each on its own connection. The answers must be those of *some* sequential order
of the same requests (never two answers that no order gives), never a 500, and the
database invariants (tests/support/db_invariants.py) must hold, read straight from the
database. SQLite runs the races on one row (If-Match, lost updates): its writers are
serialized by BEGIN IMMEDIATE, so cross-resource races cannot interleave there at all.
"""

from __future__ import annotations

import http.client
import threading
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from neutrino import exceptions as exc
from neutrino.db.engine import Database
from tests.conftest import BACKENDS
from tests.support.concurrency import (
    HTTP_TIMEOUT,
    RACE_TIMEOUT,
    Client,
    create,
    db_rows,
    error_type,
    two_worker_server,
)
from tests.support.db_invariants import violations
from tests.support.server import Server, project_headers

pytestmark = pytest.mark.db

ROUNDS = 10
WRITERS = 8  # concurrent writes of one row per round

ADMIN: dict[str, str] = {}  # no identity headers: the operator

Call = tuple[dict[str, str], str, str, Any]  # (headers, method, path, body)


@pytest.fixture(scope="module", params=BACKENDS)
def server(request: pytest.FixtureRequest,
           tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    workdir: Path = tmp_path_factory.mktemp(f"races-{request.param}")
    with two_worker_server(request.param, workdir) as srv:
        yield srv


@pytest.fixture
def interleaving(server: Server) -> Server:
    """The server, for races between resources: skipped on SQLite (one writer at a time
    across processes, so there is nothing to interleave)."""
    if server.db_url.startswith("sqlite"):
        pytest.skip("SQLite serializes writing transactions (BEGIN IMMEDIATE)")
    return server


def together(server: Server, calls: list[Call]) -> list[tuple[int, Any]]:
    """Every call in its own thread on its own open connection, released at once; the
    answers in the calls' order. No answer may be a 5xx."""
    barrier = threading.Barrier(len(calls))

    def run(call: Call) -> tuple[int, Any]:
        headers, method, path, body = call
        client = Client(server, headers)
        client.conn = http.client.HTTPConnection("127.0.0.1", server.port,
                                                 timeout=HTTP_TIMEOUT)
        client.conn.connect()
        try:
            barrier.wait(timeout=30)
            return client.request(method, path, body)
        finally:
            client.close()

    with ThreadPoolExecutor(len(calls)) as pool:
        answers = [f.result(timeout=RACE_TIMEOUT) for f in
                   [pool.submit(run, c) for c in calls]]
    assert all(status < 500 for status, _ in answers), (answers, server.log()[-4000:])
    return answers


def ok(server: Server, method: str, path: str, body: Any = None,
       headers: dict[str, str] | None = None) -> Any:
    status, answer = server.request(method, path, body, headers=headers)
    assert status == {"POST": 201, "DELETE": 204}.get(method, 200), (method, path, answer)
    return next(iter(answer.values())) if answer else None


def assert_invariants(server: Server) -> None:
    assert violations(server.db_url) == {}


def project() -> dict[str, str]:
    return project_headers(uuid.uuid4().hex)  # RBAC targets must look like project ids


def network_with_subnet(server: Server, headers: dict[str, str], cidr: str
                        ) -> tuple[dict[str, Any], dict[str, Any]]:
    net = create(server, "/v2.0/networks", {"network": {"name": "race"}}, headers)
    sub = create(server, "/v2.0/subnets", {"subnet": {
        "network_id": net["id"], "cidr": cidr, "ip_version": 4}}, headers)
    return net, sub


def l3_topology(server: Server, headers: dict[str, str], ext_cidr: str, int_cidr: str
                ) -> dict[str, Any]:
    """An external network (the operator's), the project's router with its gateway there,
    an internal network and subnet, and an unassociated floating IP."""
    ext = create(server, "/v2.0/networks",
                 {"network": {"name": "ext", "router:external": True}}, ADMIN)
    create(server, "/v2.0/subnets", {"subnet": {
        "network_id": ext["id"], "cidr": ext_cidr, "ip_version": 4,
        "enable_dhcp": False}}, ADMIN)
    router = create(server, "/v2.0/routers", {"router": {
        "name": "r", "external_gateway_info": {"network_id": ext["id"]}}}, headers)
    net, sub = network_with_subnet(server, headers, int_cidr)
    fip = create(server, "/v2.0/floatingips",
                 {"floatingip": {"floating_network_id": ext["id"]}}, headers)
    return {"ext": ext, "router": router, "net": net, "subnet": sub, "fip": fip}


# --- one row, many writers -------------------------------------------------------------

def _resource(server: Server, headers: dict[str, str], kind: str) -> tuple[str, str]:
    """(path, member key) of a fresh resource of ``kind``."""
    if kind == "floatingips":
        topo = l3_topology(server, headers, "172.31.0.0/24", "10.61.0.0/24")
        return f"/v2.0/floatingips/{topo['fip']['id']}", "floatingip"
    net, sub = network_with_subnet(server, headers, "10.60.0.0/24")
    made = {
        "networks": lambda: net,
        "subnets": lambda: sub,
        "ports": lambda: create(server, "/v2.0/ports",
                                {"port": {"network_id": net["id"]}}, headers),
        "routers": lambda: create(server, "/v2.0/routers", {"router": {"name": "r"}},
                                  headers),
        "security-groups": lambda: create(server, "/v2.0/security-groups",
                                          {"security_group": {"name": "sg"}}, headers),
    }[kind]()
    member = {"security-groups": "security_group"}.get(kind, kind[:-1])
    return f"/v2.0/{kind}/{made['id']}", member


@pytest.mark.parametrize("kind", ["ports", "subnets", "networks", "routers",
                                  "security-groups", "floatingips"])
def test_if_match_admits_one_writer_per_revision(server: Server, kind: str) -> None:
    """WRITERS updates at once, all naming the current revision in If-Match: one wins,
    the others are 412, and the resource moved one revision, to the winner's value."""
    headers = project()
    path, member = _resource(server, headers, kind)
    field = "description" if kind == "floatingips" else "name"
    for round_ in range(ROUNDS):
        revision = ok(server, "GET", path, headers=headers)["revision_number"]
        calls: list[Call] = [
            ({**headers, "If-Match": f"revision_number={revision}"}, "PUT", path,
             {member: {field: f"w{round_}-{i}"}}) for i in range(WRITERS)]
        answers = together(server, calls)
        won = [i for i, (status, _) in enumerate(answers) if status == 200]
        assert len(won) == 1, answers
        assert {(s, error_type(b)) for s, b in answers if s != 200} == {
            (412, "RevisionNumberConstraintFailed")}
        now = ok(server, "GET", path, headers=headers)
        assert now["revision_number"] == revision + 1
        assert now[field] == f"w{round_}-{won[0]}"


@pytest.mark.parametrize("kind", ["ports", "subnets"])
def test_concurrent_updates_are_all_kept(server: Server, kind: str) -> None:
    """WRITERS renames at once without If-Match: each is a revision of its own (none
    overwrites a change it did not see), and the last one's name stays."""
    headers = project()
    path, member = _resource(server, headers, kind)
    for round_ in range(ROUNDS):
        revision = ok(server, "GET", path, headers=headers)["revision_number"]
        answers = together(server, [(headers, "PUT", path, {member: {"name": f"n{round_}-{i}"}})
                                    for i in range(WRITERS)])
        assert {s for s, _ in answers} == {200}, answers
        bodies = [b[member] for _, b in answers]
        assert sorted(b["revision_number"] for b in bodies) == list(
            range(revision + 1, revision + 1 + WRITERS))
        last = max(bodies, key=lambda b: b["revision_number"])
        now = ok(server, "GET", path, headers=headers)
        assert (now["revision_number"], now["name"]) == (revision + WRITERS, last["name"])


def test_concurrent_fixed_ips_updates_replace(server: Server) -> None:
    """Each update asks for one address: the port ends with exactly one, the last
    writer's, and holds no other allocation."""
    headers = project()
    net, sub = network_with_subnet(server, headers, "10.62.0.0/24")
    port = create(server, "/v2.0/ports", {"port": {"network_id": net["id"]}}, headers)
    path = f"/v2.0/ports/{port['id']}"
    for round_ in range(ROUNDS):
        wanted = [f"10.62.0.{100 + (round_ % 2) * 50 + i}" for i in range(WRITERS)]
        answers = together(server, [
            (headers, "PUT", path, {"port": {"fixed_ips": [
                {"subnet_id": sub["id"], "ip_address": ip}]}}) for ip in wanted])
        assert {s for s, _ in answers} == {200}, answers
        last = max((b["port"] for _, b in answers), key=lambda p: p["revision_number"])
        now = ok(server, "GET", path, headers=headers)
        assert now["fixed_ips"] == last["fixed_ips"]
        assert len(now["fixed_ips"]) == 1 and now["fixed_ips"][0]["ip_address"] in wanted
        held = db_rows(server.db_url, sa.text(
            "SELECT ip_address FROM ip_allocations WHERE port_id = :p").bindparams(
            p=port["id"]))
        assert [r[0] for r in held] == [now["fixed_ips"][0]["ip_address"]]
    assert_invariants(server)


# --- races between resources -------------------------------------------------------------

def test_rbac_revoke_vs_port_create(interleaving: Server) -> None:
    """Revoking (deleting, or retargeting to another project) a project's access to a
    network while it creates ports there: either the revoke comes first (the ports are
    404) or a port does (the revoke is 409)."""
    server = interleaving
    owner, guest, third = project(), project(), project()
    net, _ = network_with_subnet(server, owner, "10.63.0.0/24")
    for round_ in range(ROUNDS):
        entry = create(server, "/v2.0/rbac-policies", {"rbac_policy": {
            "object_type": "network", "object_id": net["id"],
            "action": "access_as_shared", "target_tenant": guest["X-Project-Id"]}}, owner)
        path = f"/v2.0/rbac-policies/{entry['id']}"
        revoke_call: Call = (owner, "DELETE", path, None) if round_ % 2 == 0 else (
            owner, "PUT", path, {"rbac_policy": {"target_tenant": third["X-Project-Id"]}})
        answers = together(server, [
            revoke_call,
            *[(guest, "POST", "/v2.0/ports", {"port": {"network_id": net["id"]}})] * 3])
        revoke, ports = answers[0], answers[1:]
        revoked = revoke[0] in (200, 204)
        created = [b["port"]["id"] for s, b in ports if s == 201]
        if revoked:
            assert created == [], answers
            assert {(s, error_type(b)) for s, b in ports} == {(404, "NetworkNotFound")}
        else:
            assert (revoke[0], error_type(revoke[1])) == (409, "RbacPolicyInUse"), answers
            assert created, answers
        assert_invariants(server)
        for port_id in created:
            ok(server, "DELETE", f"/v2.0/ports/{port_id}", headers=guest)
        if revoke[0] != 204:
            ok(server, "DELETE", path, headers=owner)


def test_one_port_added_to_two_routers(interleaving: Server) -> None:
    server = interleaving
    headers = project()
    net, _ = network_with_subnet(server, headers, "10.64.0.0/24")
    routers = [create(server, "/v2.0/routers", {"router": {"name": f"r{i}"}}, headers)
               for i in range(3)]
    for _ in range(ROUNDS):
        port = create(server, "/v2.0/ports", {"port": {"network_id": net["id"]}}, headers)
        answers = together(server, [
            (headers, "PUT", f"/v2.0/routers/{r['id']}/add_router_interface",
             {"port_id": port["id"]}) for r in routers])
        won = [i for i, (s, _) in enumerate(answers) if s == 200]
        assert len(won) == 1, answers
        assert {(s, error_type(b)) for s, b in answers if s != 200} == {(409, "PortInUse")}
        winner = routers[won[0]]["id"]
        assert ok(server, "GET", f"/v2.0/ports/{port['id']}", headers=headers)[
            "device_id"] == winner
        assert_invariants(server)
        ok(server, "PUT", f"/v2.0/routers/{winner}/remove_router_interface",
           {"port_id": port["id"]}, headers)


def test_remove_interface_vs_floating_ip_association(interleaving: Server) -> None:
    """Either the interface goes first (the association finds no router: 404) or the
    association does (the interface is needed by it: 409); never a floating IP behind a
    router that has no interface on its subnet."""
    server = interleaving
    headers = project()
    topo = l3_topology(server, headers, "172.30.0.0/24", "10.65.0.0/24")
    router, sub, fip = topo["router"]["id"], topo["subnet"]["id"], topo["fip"]["id"]
    port = create(server, "/v2.0/ports", {"port": {"network_id": topo["net"]["id"]}},
                  headers)
    for _ in range(ROUNDS):
        ok(server, "PUT", f"/v2.0/routers/{router}/add_router_interface",
           {"subnet_id": sub}, headers)
        remove, associate = together(server, [
            (headers, "PUT", f"/v2.0/routers/{router}/remove_router_interface",
             {"subnet_id": sub}),
            (headers, "PUT", f"/v2.0/floatingips/{fip}",
             {"floatingip": {"port_id": port["id"]}})])
        if remove[0] == 200:
            assert (associate[0], error_type(associate[1])) == (
                404, "ExternalGatewayForFloatingIPNotFound"), (remove, associate)
        else:
            assert (remove[0], error_type(remove[1])) == (
                409, "RouterInterfaceInUseByFloatingIP"), (remove, associate)
            assert associate[0] == 200 and associate[1]["floatingip"]["router_id"] == router
        assert_invariants(server)
        ok(server, "PUT", f"/v2.0/floatingips/{fip}", {"floatingip": {"port_id": None}},
           headers)
        if remove[0] != 200:
            ok(server, "PUT", f"/v2.0/routers/{router}/remove_router_interface",
               {"subnet_id": sub}, headers)


def test_subnet_delete_vs_port_create(interleaving: Server) -> None:
    """A port asking for an address on the subnet, and one asking for any: created
    before the delete (which is then 409 SubnetInUse) they hold an address there;
    after it, the first is refused and the second has no address."""
    server = interleaving
    headers = project()
    net = create(server, "/v2.0/networks", {"network": {"name": "race"}}, headers)
    for _ in range(ROUNDS):
        sub = create(server, "/v2.0/subnets", {"subnet": {
            "network_id": net["id"], "cidr": "10.66.0.0/24", "ip_version": 4}}, headers)
        delete, explicit, auto = together(server, [
            (headers, "DELETE", f"/v2.0/subnets/{sub['id']}", None),
            (headers, "POST", "/v2.0/ports", {"port": {
                "network_id": net["id"], "fixed_ips": [{"subnet_id": sub["id"]}]}}),
            (headers, "POST", "/v2.0/ports", {"port": {"network_id": net["id"]}})])
        ports = {name: a[1]["port"] for name, a in (("explicit", explicit), ("auto", auto))
                 if a[0] == 201}
        if delete[0] == 204:
            assert explicit[0] in (400, 404), explicit
            assert "auto" not in ports or ports["auto"]["fixed_ips"] == [], auto
        else:
            assert (delete[0], error_type(delete[1])) == (409, "SubnetInUse"), delete
            assert any(p["fixed_ips"] for p in ports.values()), (explicit, auto)
        for p in ports.values():
            assert all(ip["subnet_id"] == sub["id"] for ip in p["fixed_ips"]), p
            now = ok(server, "GET", f"/v2.0/ports/{p['id']}", headers=headers)
            assert now["fixed_ips"] == p["fixed_ips"]
        if "explicit" in ports:
            assert ports["explicit"]["fixed_ips"], explicit
        assert_invariants(server)
        for p in ports.values():
            ok(server, "DELETE", f"/v2.0/ports/{p['id']}", headers=headers)
        if delete[0] != 204:
            ok(server, "DELETE", f"/v2.0/subnets/{sub['id']}", headers=headers)


def test_network_delete_vs_port_create(interleaving: Server) -> None:
    server = interleaving
    headers = project()
    for _ in range(ROUNDS):
        net, _ = network_with_subnet(server, headers, "10.67.0.0/24")
        answers = together(server, [
            (headers, "DELETE", f"/v2.0/networks/{net['id']}", None),
            *[(headers, "POST", "/v2.0/ports", {"port": {"network_id": net["id"]}})] * 2])
        delete, ports = answers[0], answers[1:]
        created = [b["port"] for s, b in ports if s == 201]
        if delete[0] == 204:
            assert {(s, error_type(b)) for s, b in ports} == {(404, "NetworkNotFound")}
        else:
            assert (delete[0], error_type(delete[1])) == (409, "NetworkInUse"), answers
            assert created and all(p["fixed_ips"] for p in created), answers
        assert_invariants(server)
        for p in created:
            ok(server, "DELETE", f"/v2.0/ports/{p['id']}", headers=headers)
        if delete[0] != 204:
            ok(server, "DELETE", f"/v2.0/networks/{net['id']}", headers=headers)


def test_floating_ip_association_vs_port_delete(interleaving: Server) -> None:
    """Associated first, the port's deletion disassociates the floating IP; deleted
    first, the association is 404."""
    server = interleaving
    headers = project()
    topo = l3_topology(server, headers, "172.29.0.0/24", "10.68.0.0/24")
    ok(server, "PUT", f"/v2.0/routers/{topo['router']['id']}/add_router_interface",
       {"subnet_id": topo["subnet"]["id"]}, headers)
    fip = f"/v2.0/floatingips/{topo['fip']['id']}"
    for _ in range(ROUNDS):
        port = create(server, "/v2.0/ports", {"port": {"network_id": topo["net"]["id"]}},
                      headers)
        associate, delete = together(server, [
            (headers, "PUT", fip, {"floatingip": {"port_id": port["id"]}}),
            (headers, "DELETE", f"/v2.0/ports/{port['id']}", None)])
        assert delete[0] == 204, delete
        assert associate[0] == 200 or (associate[0], error_type(associate[1])) == (
            404, "PortNotFound"), associate
        now = ok(server, "GET", fip, headers=headers)
        assert (now["port_id"], now["fixed_ip_address"], now["router_id"]) == (
            None, None, None)
        assert_invariants(server)


def test_port_update_vs_delete(interleaving: Server) -> None:
    server = interleaving
    headers = project()
    net, sub = network_with_subnet(server, headers, "10.69.0.0/24")
    for round_ in range(ROUNDS):
        port = create(server, "/v2.0/ports", {"port": {"network_id": net["id"]}}, headers)
        path = f"/v2.0/ports/{port['id']}"
        answers = together(server, [
            (headers, "DELETE", path, None),
            (headers, "PUT", path, {"port": {"fixed_ips": [
                {"subnet_id": sub["id"], "ip_address": f"10.69.0.{200 + round_}"}]}}),
            (headers, "PUT", path, {"port": {"name": "renamed"}})])
        assert answers[0][0] == 204, answers
        for status, body in answers[1:]:
            assert status == 200 or (status, error_type(body)) == (404, "PortNotFound")
        assert server.request("GET", path, headers=headers)[0] == 404
        held = db_rows(server.db_url, sa.text(
            "SELECT ip_address FROM ip_allocations WHERE port_id = :p").bindparams(
            p=port["id"]))
        assert held == []
        assert_invariants(server)


def test_foreign_key_violation_is_a_conflict_never_a_500(db_url: str) -> None:
    """The last line of defence, below the locks: a transaction that refers to a row
    gone (here: one that never was) is rerun, as a lost race, and one whose violation
    persists is a 409, not an internal error."""
    db = Database(db_url, max_retries=20)
    tries = []

    def orphan(conn: sa.Connection) -> None:
        tries.append(1)
        conn.execute(sa.text("INSERT INTO fk_child (id, parent_id) VALUES (1, 42)"))

    try:
        db.write(lambda c: c.execute(sa.text(
            "CREATE TABLE fk_parent (id INTEGER PRIMARY KEY)")))
        db.write(lambda c: c.execute(sa.text(
            "CREATE TABLE fk_child (id INTEGER PRIMARY KEY, parent_id INTEGER NOT NULL, "
            "FOREIGN KEY (parent_id) REFERENCES fk_parent (id))")))
        with pytest.raises(exc.Conflict):
            db.write(orphan)
        assert len(tries) == 4  # the first run and three reruns
    finally:
        db.dispose()
