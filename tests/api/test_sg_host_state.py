"""The server side of the firewall contract (docs/agent-protocol.md, "Security groups"),
with simulated Linux bridge agents over a real RabbitMQ: what get_host_state gives (ports'
groups, port security and address pairs; the rules of their groups; the members of remote
groups), the ``security_group_ids`` narrowed call, and the ``{"security_groups": [...]}``
hints to exactly the hosts concerned, one message per host per commit."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from neutrino import protocol
from neutrino.bus import Bus
from tests.support.agents_bus import (
    LINUXBRIDGE,
    BusEnv,
    HintSentinel,
    SimAgent,
    live_agents,
    numbered_lb,
    wait_until,
)
from tests.support.secgroups import SgApi as Api
from tests.support.server import Server, project_headers

ENV = BusEnv("sg-host-state")
SERVER_CONF = ENV.server_conf()
HOST_ID = "binding:host_id"
Factory = Callable[..., SimAgent]


@pytest.fixture
def admin(server: Server, project: str) -> Api:
    # an admin in a project of its own: its default group is this test's alone
    return Api(server, project_headers(project, admin=True))


@pytest.fixture
def agents(bus: Bus, admin: Api) -> Iterator[Factory]:
    """Heartbeating simulated Linux bridge agents (tunnels only)."""
    with live_agents(bus, admin, numbered_lb(30)) as make:
        yield make


def _net(admin: Api) -> tuple[dict[str, Any], dict[str, Any]]:
    net = admin.network(**{"provider:network_type": "vxlan"})
    sub = admin.subnet(net["id"], f"10.{uuid.uuid4().int % 200}.{uuid.uuid4().int % 250}.0/24",
                       enable_dhcp=False)
    return net, sub


def _bound(admin: Api, net_id: str, host: str, **attrs: Any) -> dict[str, Any]:
    port = admin.create("ports", network_id=net_id, **{HOST_ID: host}, **attrs)
    assert wait_until(lambda: admin.show("ports", port["id"])["binding:vif_type"] == "bridge")
    return port


def _default(admin: Api) -> dict[str, Any]:
    return next(g for g in admin.list("security-groups") if g["name"] == "default")


def _ips(*ports: dict[str, Any]) -> list[str]:
    return sorted(ip["ip_address"] for p in ports for ip in p["fixed_ips"])


def _sg_hints(a: SimAgent) -> list[list[str]]:
    return [h["security_groups"] for h in a.take_hints() if "security_groups" in h]


def test_host_state_carries_the_firewall(admin: Api, agents: Factory) -> None:
    h1, h2 = agents(), agents()
    net, _ = _net(admin)
    web = admin.create("security-groups", name="web")
    ssh = admin.rule(web["id"], protocol="tcp", port_range_min=22, port_range_max=22,
                     remote_ip_prefix="198.51.100.0/24")
    from_default = admin.rule(web["id"], protocol="tcp", port_range_min=80,
                              port_range_max=80, remote_group_id=None)
    a = _bound(admin, net["id"], h1.host, allowed_address_pairs=[
        {"ip_address": "10.250.0.0/24"}])
    b = _bound(admin, net["id"], h1.host, security_groups=[web["id"]])
    off = _bound(admin, net["id"], h1.host, port_security_enabled=False)
    dhcp = _bound(admin, net["id"], h1.host, device_owner="network:dhcp")
    c = _bound(admin, net["id"], h2.host)
    unbound = admin.create("ports", network_id=net["id"])
    default = _default(admin)

    state = h1.state()
    [n] = state["networks"]
    ports = {p["id"]: p for p in n["ports"]}
    assert set(ports) == {a["id"], b["id"], off["id"], dhcp["id"]}
    assert {k: ports[a["id"]][k] for k in ("port_security_enabled", "security_groups",
                                           "allowed_address_pairs")} == {
        "port_security_enabled": True, "security_groups": [default["id"]],
        "allowed_address_pairs": [{"ip_address": "10.250.0.0/24",
                                   "mac_address": a["mac_address"]}]}
    assert ports[b["id"]]["security_groups"] == [web["id"]]
    assert (ports[off["id"]]["port_security_enabled"], ports[off["id"]]["security_groups"]
            ) == (False, [])
    assert ports[dhcp["id"]]["security_groups"] == []
    assert set(state["security_groups"]) == {default["id"], web["id"]}
    web_rules = {r["id"]: r for r in state["security_groups"][web["id"]]["rules"]}
    assert web_rules[ssh["id"]] == {
        "id": ssh["id"], "direction": "ingress", "ethertype": "IPv4", "protocol": "tcp",
        "port_range_min": 22, "port_range_max": 22, "remote_ip_prefix": "198.51.100.0/24",
        "remote_group_id": None, "remote_address_group_id": None}
    assert from_default["id"] in web_rules
    assert len(web_rules) == 4  # two egress, two ingress
    assert len(state["security_groups"][default["id"]]["rules"]) == 4
    # the default group names itself as remote: all its members, wherever they are
    assert state["remote_groups"] == {default["id"]: {
        "IPv4": sorted([*_ips(a, c, unbound), "10.250.0.0/24"]), "IPv6": []}}

    # the narrowed call: only the firewall's share
    narrowed = h1.bus.call("plugin", {"method": "get_host_state", "args": {
        "host": h1.host, "agent_type": LINUXBRIDGE, "security_group_ids": [default["id"]]}},
        timeout=30)
    assert narrowed == {"version": protocol.VERSION, "host": h1.host,
                        "security_groups": {default["id"]: state["security_groups"][
                            default["id"]]},
                        "remote_groups": state["remote_groups"], "address_groups": {}}
    narrowed = h2.bus.call("plugin", {"method": "get_host_state", "args": {
        "host": h2.host, "agent_type": LINUXBRIDGE, "security_group_ids": [web["id"]]}},
        timeout=30)
    assert narrowed == {"version": protocol.VERSION, "host": h2.host,
                        "security_groups": {}, "remote_groups": {}, "address_groups": {}}


def test_hints_reach_exactly_the_hosts_concerned(admin: Api, agents: Factory) -> None:
    h1, h2, h3 = agents(), agents(), agents()
    net, _ = _net(admin)
    web = admin.create("security-groups", name="web")
    db = admin.create("security-groups", name="db")
    # db lets web in: hosts with db ports need web's members
    admin.rule(db["id"], protocol="tcp", port_range_min=5432, port_range_max=5432,
               remote_group_id=web["id"])
    _bound(admin, net["id"], h1.host, security_groups=[web["id"]])
    _bound(admin, net["id"], h2.host, security_groups=[db["id"]])
    _bound(admin, net["id"], h3.host, security_groups=[], port_security_enabled=True)
    sentinel = HintSentinel(admin, h1, h2, h3)
    sentinel.settle()

    def sg_hints() -> list[list[list[str]]]:
        """Per host, the security groups of its hints sent until now."""
        return [[h["security_groups"] for h in hints if "security_groups" in h]
                for hints in sentinel.settle()]

    # a rule of web: web's hosts only
    rule = admin.rule(web["id"], protocol="udp")
    assert sg_hints() == [[[web["id"]]], [], []]
    admin.remove("security-group-rules", rule["id"])
    assert sentinel.settle() == [[{"security_groups": [web["id"]]}], [], []]

    # a new member of web (anywhere, even unbound): the hosts whose rules name web
    member = admin.create("ports", network_id=net["id"], security_groups=[web["id"]])
    _, hints, others = sentinel.settle()
    assert len(hints) == 1, hints  # one message per host per commit
    assert hints[0]["security_groups"] == [web["id"]]
    assert [h for h in others if "security_groups" in h] == []
    assert h2.state()["remote_groups"][web["id"]]["IPv4"] == sorted(
        [*_ips(member), *(ip["ip_address"] for p in admin.list(
            "ports", f"security_groups={web['id']}&{HOST_ID}={h1.host}")
            for ip in p["fixed_ips"])])
    # its addresses change, it leaves the group, it is deleted: each time again
    admin.update("ports", member["id"], allowed_address_pairs=[{"ip_address": "10.9.9.9"}])
    assert wait_until(lambda: _sg_hints(h2) == [[web["id"]]])
    assert "10.9.9.9" in h2.state()["remote_groups"][web["id"]]["IPv4"]
    admin.update("ports", member["id"], security_groups=[])
    assert wait_until(lambda: _sg_hints(h2) == [[web["id"]]])
    assert "10.9.9.9" not in h2.state()["remote_groups"][web["id"]]["IPv4"]
    admin.update("ports", member["id"], security_groups=[web["id"]])
    assert wait_until(lambda: _sg_hints(h2) == [[web["id"]]])
    admin.remove("ports", member["id"])
    assert wait_until(lambda: _sg_hints(h2) == [[web["id"]]])
    # a group deleted takes the rules naming it as remote: their group's hosts hear of it
    ref = admin.create("security-groups", name="ref")
    admin.rule(db["id"], protocol="udp", remote_group_id=ref["id"])
    assert wait_until(lambda: _sg_hints(h2) == [[db["id"]]])
    admin.remove("security-groups", ref["id"])
    assert wait_until(lambda: _sg_hints(h2) == [[db["id"]]])
    assert ref["id"] not in {r["remote_group_id"] for r in h2.state()["security_groups"][
        db["id"]]["rules"]}
    # a name change is nothing to anyone
    sentinel.settle()
    admin.update("security-groups", web["id"], name="www")
    assert sentinel.settle() == [[], [], []]


def test_port_change_also_hints_its_network(admin: Api, agents: Factory) -> None:
    h1 = agents()
    net, _ = _net(admin)
    port = _bound(admin, net["id"], h1.host)
    sentinel = HintSentinel(admin, h1)
    sentinel.settle()
    admin.update("ports", port["id"], security_groups=[], port_security_enabled=False)
    [hints] = sentinel.settle()
    assert len(hints) == 1, hints
    assert hints[0]["networks"] == [net["id"]]


def test_shared_group_reaches_the_target_projects_ports(admin: Api, agents: Factory,
                                                        server: Server) -> None:
    """rbac-security-groups: a port of the project a group is shared with is filtered by
    the group's rules: the host state gives them (and the port as a member)."""
    h1 = agents()
    net = admin.network(**{"provider:network_type": "vxlan"}, shared=True)
    admin.subnet(net["id"], f"10.{uuid.uuid4().int % 200}.{uuid.uuid4().int % 250}.0/24",
                 enable_dhcp=False)
    web = admin.create("security-groups", name="shared-web")
    ssh = admin.rule(web["id"], protocol="tcp", port_range_min=22, port_range_max=22,
                     remote_group_id=web["id"])
    target = uuid.uuid4().hex
    status, body = admin.request("POST", "/v2.0/rbac-policies", {"rbac_policy": {
        "object_type": "security_group", "object_id": web["id"],
        "action": "access_as_shared", "target_tenant": target}})
    assert status == 201, body
    member = Api(server, project_headers(target))
    port = member.create("ports", network_id=net["id"], security_groups=[web["id"]])
    admin.update("ports", port["id"], **{HOST_ID: h1.host})
    assert wait_until(lambda: admin.show("ports", port["id"])["binding:vif_type"] == "bridge")
    state = h1.state()
    [n] = state["networks"]
    [p] = [p for p in n["ports"] if p["id"] == port["id"]]
    assert p["security_groups"] == [web["id"]]
    rules = {r["id"]: r for r in state["security_groups"][web["id"]]["rules"]}
    assert rules[ssh["id"]]["remote_group_id"] == web["id"]
    # the port is a member of the group it names as remote
    assert state["remote_groups"][web["id"]]["IPv4"] == _ips(port)
