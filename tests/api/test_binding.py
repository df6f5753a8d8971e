"""Port binding, provisioning, DHCP scheduling, host state, hints and notifications, over
HTTP with agents simulated over a real RabbitMQ (tests/support/agents_bus.py): the server
sees exactly what real agents would send."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from typing import Any
from urllib.parse import quote

import openstack
import pytest

from neutrino import protocol
from neutrino.bus import Bus
from neutrino.services.dhcp_scheduler import dhcp_device_id
from tests.support.agents_bus import (
    DHCP,
    BusEnv,
    SimAgent,
    disable_agents,
    lb_configurations,
    live_agents,
    numbered_lb,
    wait_registered,
    wait_until,
)
from tests.support.clock import CLOCK_CONF, ServerClock
from tests.support.neutron import Api, expect_error
from tests.support.server import Server

DOWN_TIME = 4
ENV = BusEnv("binding")
SERVER_CONF = ENV.server_conf(agent_down_time=DOWN_TIME, **CLOCK_CONF)
HOST_ID, VNIC, PROFILE = "binding:host_id", "binding:vnic_type", "binding:profile"
VIF_TYPE, VIF_DETAILS = "binding:vif_type", "binding:vif_details"
LB_DETAILS = {"port_filter": True, "connectivity": "l2"}

Factory = Callable[..., SimAgent]


@pytest.fixture
def agents(bus: Bus, admin: Api) -> Iterator[Factory]:
    """Heartbeating simulated agents, Linux bridge ones on physnet1 by default."""
    with live_agents(bus, admin, numbered_lb(10, {"physnet1": "eth1"})) as make:
        yield make


def port_status(admin: Api, port_id: str, status: str) -> dict[str, Any]:
    """The port once it has ``status`` (agents' casts are asynchronous)."""
    port = wait_until(lambda: (p := admin.get("ports", port_id)[1]["port"])["status"] == status
                      and p)
    assert port, f"port {port_id} never became {status}: {admin.get('ports', port_id)}"
    return port


def vxlan_net(admin: Api, dhcp: bool = False) -> tuple[dict[str, Any], dict[str, Any]]:
    net = admin.network(**{"provider:network_type": "vxlan"})
    sub = admin.subnet(net["id"], f"10.{uuid.uuid4().int % 200}.{uuid.uuid4().int % 250}.0/24",
                       enable_dhcp=dhcp)
    return net, sub


def bound_port(admin: Api, network_id: str, host: str, **attrs: Any) -> dict[str, Any]:
    return admin.create("ports", network_id=network_id, **{HOST_ID: host}, **attrs)


# --- binding -----------------------------------------------------------------------------------
def test_port_without_host_is_unbound(admin: Api, server: Server, project: str,
                                      headers: dict[str, str]) -> None:
    net, _ = vxlan_net(admin)
    port = admin.create("ports", network_id=net["id"])
    assert (port[HOST_ID], port[VNIC], port[PROFILE], port[VIF_TYPE], port[VIF_DETAILS]) == (
        "", "normal", {}, "unbound", {})
    assert port["status"] == "DOWN"
    # a project sees its vnic_type only: host, profile and binding result are the admin's
    member = Api(server, headers)
    own = member.network()
    mine = member.create("ports", network_id=own["id"], **{VNIC: "normal"})
    assert VNIC in mine and not {HOST_ID, PROFILE, VIF_TYPE, VIF_DETAILS} & set(mine)
    expect_error(member.post("ports", {"network_id": own["id"], HOST_ID: "h1"}), 403,
                 "PolicyNotAuthorized")
    expect_error(member.put("ports", mine["id"], {HOST_ID: "h1"}), 403, "PolicyNotAuthorized")
    expect_error(admin.post("ports", {"network_id": net["id"], VNIC: "bogus"}), 400,
                 "HTTPBadRequest", contains="bogus is not in valid_values")
    expect_error(admin.post("ports", {"network_id": net["id"], VIF_TYPE: "bridge"}), 400,
                 "HTTPBadRequest", f"Attribute '{VIF_TYPE}' not allowed in POST")
    expect_error(admin.post("ports", {"network_id": net["id"], PROFILE: "x"}), 400,
                 "HTTPBadRequest", contains="is not a dictionary")


def test_binding_to_a_live_linuxbridge_agent(admin: Api, agents: Factory) -> None:
    h1 = agents()
    net, _ = vxlan_net(admin)
    # binding:profile is what Nova (the service role) writes, not even admins
    expect_error(admin.post("ports", {"network_id": net["id"], PROFILE: {"a": 1}}), 403,
                 "PolicyNotAuthorized")
    nova = Api(admin.server, {"X-Project-Id": "service", "X-User-Id": "nova",
                              "X-Roles": "admin,service,member,reader"})
    port = bound_port(nova, net["id"], h1.host, **{PROFILE: {"migrating_to": "x"}})
    assert (port[HOST_ID], port[VIF_TYPE], port[VIF_DETAILS]) == (h1.host, "bridge",
                                                                   LB_DETAILS)
    assert port[PROFILE] == {"migrating_to": "x"}
    assert port["status"] == "DOWN"
    assert port["revision_number"] == 2  # created, then bound
    assert admin.get("ports", port["id"])[1]["port"] == port
    listed = admin.list("ports", f"{quote(HOST_ID)}={h1.host}")
    assert [p["id"] for p in listed] == [port["id"]]
    assert [p["id"] for p in admin.list(
        "ports", f"network_id={net['id']}&{quote(VIF_TYPE)}=bridge")] == [port["id"]]

    # the L2 agent wired it: ACTIVE (no DHCP agent serves this network), a new revision
    h1.device_up(port["id"])
    active = port_status(admin, port["id"], "ACTIVE")
    assert active["revision_number"] == port["revision_number"] + 1
    # a device reported by another host's agent changes nothing (its own port, reported
    # in the same message, does change: the message was handled)
    h2 = agents()
    own = bound_port(admin, net["id"], h2.host)
    h2.device_up(own["id"])
    port_status(admin, own["id"], "ACTIVE")
    h2.device_down(port["id"], own["id"])
    port_status(admin, own["id"], "DOWN")
    assert admin.get("ports", port["id"])[1]["port"]["status"] == "ACTIVE"
    admin.remove("ports", own["id"])
    h1.device_down(port["id"])
    down = port_status(admin, port["id"], "DOWN")
    assert down["revision_number"] == active["revision_number"] + 1
    h1.device_up(port["id"])  # plugged again: no block is left, ACTIVE again
    port_status(admin, port["id"], "ACTIVE")

    # a bound port keeps its MAC
    expect_error(admin.put("ports", port["id"], {"mac_address": "fa:16:3e:00:00:01"}), 409,
                 "PortBound", contains=f"port {port['id']}, port is already bound")


def test_openstacksdk_binds_ports(server: Server, admin: Api, agents: Factory) -> None:
    h = agents()
    net, _ = vxlan_net(admin)
    conn = openstack.connection.Connection(auth_type="none",
                                           network_endpoint_override=f"{server.url}/")
    try:
        port = conn.network.create_port(network_id=net["id"], binding_host_id=h.host)
        assert (port.binding_host_id, port.binding_vif_type, port.binding_vif_details,
                port.binding_vnic_type) == (h.host, "bridge", LB_DETAILS, "normal")
        h.device_up(port.id)
        port_status(admin, port.id, "ACTIVE")
        assert [p.id for p in conn.network.ports(binding_host_id=h.host)] == [port.id]
        conn.network.delete_port(port)
    finally:
        conn.close()


def test_binding_failures(admin: Api, agents: Factory) -> None:
    net, _ = vxlan_net(admin)
    # no agent at all on that host
    nowhere = bound_port(admin, net["id"], f"h-{uuid.uuid4().hex[:8]}")
    assert (nowhere[VIF_TYPE], nowhere[VIF_DETAILS]) == ("binding_failed", {})
    # an agent that does not tunnel vxlan
    flat_only = agents(configurations=lb_configurations(None, {"physnet1": "eth1"}))
    assert bound_port(admin, net["id"], flat_only.host)[VIF_TYPE] == "binding_failed"
    # a vnic_type the Linux bridge cannot plug
    h = agents()
    direct = bound_port(admin, net["id"], h.host, **{VNIC: "direct"})
    assert direct[VIF_TYPE] == "binding_failed"
    # an agent an admin disabled
    off = agents()
    admin.update("agents", wait_registered(admin, off)["id"], admin_state_up=False)
    assert bound_port(admin, net["id"], off.host)[VIF_TYPE] == "binding_failed"
    # a physical network the agent has no interface for
    flat = admin.network(**{"provider:network_type": "flat",
                            "provider:physical_network": f"pn{uuid.uuid4().hex[:6]}"})
    assert bound_port(admin, flat["id"], h.host)[VIF_TYPE] == "binding_failed"
    # a dead agent (the server's clock moves past agent_down_time: every agent is dead
    # until it reports again, and this one does not)
    dead = agents()
    dead.stop_heartbeat()
    ServerClock(admin.server).advance(DOWN_TIME + 1)
    failed = bound_port(admin, net["id"], dead.host)
    assert failed[VIF_TYPE] == "binding_failed"
    assert failed["status"] == "DOWN"
    # ... which comes back: its failed ports are bound on its first report
    dead.report(start_flag=True)
    rebound = wait_until(lambda: (p := admin.get("ports", failed["id"])[1]["port"])[VIF_TYPE]
                         == "bridge" and p)
    assert rebound and rebound[VIF_DETAILS] == LB_DETAILS
    # any update retries a failed binding: vnic_type normal now binds (h is alive again)
    wait_registered(admin, h)
    fixed = admin.update("ports", direct["id"], **{VNIC: "normal"})
    assert fixed[VIF_TYPE] == "bridge"


def test_flat_network_binds_where_the_physnet_is_mapped(admin: Api, agents: Factory) -> None:
    physnet = f"pn{uuid.uuid4().hex[:6]}"
    h = agents(configurations=lb_configurations(None, {physnet: "eth9"}))
    net = admin.network(**{"provider:network_type": "flat",
                           "provider:physical_network": physnet})
    admin.subnet(net["id"], "10.250.1.0/24", enable_dhcp=False)
    port = bound_port(admin, net["id"], h.host)
    assert port[VIF_TYPE] == "bridge"
    [state] = h.state()["networks"]
    assert (state["id"], state["network_type"], state["physical_network"],
            state["segmentation_id"]) == (net["id"], "flat", physnet, None)
    assert state["mtu"] == net["mtu"]
    assert [p["id"] for p in state["ports"]] == [port["id"]]
    assert state["l2pop"] == {"flood": [], "unicast": {}, "neigh": {}}  # not a tunnel


def test_moving_a_port_rebinds_it(admin: Api, agents: Factory) -> None:
    h1, h2 = agents(), agents()
    net, _ = vxlan_net(admin)
    port = bound_port(admin, net["id"], h1.host)
    h1.device_up(port["id"])
    port_status(admin, port["id"], "ACTIVE")
    h1.take_hints()
    h2.take_hints()
    moved = admin.update("ports", port["id"], **{HOST_ID: h2.host})
    assert (moved[HOST_ID], moved[VIF_TYPE], moved["status"]) == (h2.host, "bridge", "DOWN")
    # the old host drops it, the new one wires it
    assert wait_until(lambda: net["id"] in h1.hinted_networks())
    assert wait_until(lambda: net["id"] in h2.hinted_networks())
    assert h1.state([net["id"]])["networks"] == []
    assert [p["id"] for p in h2.state([net["id"]])["networks"][0]["ports"]] == [port["id"]]
    h2.device_up(port["id"])
    port_status(admin, port["id"], "ACTIVE")
    unbound = admin.update("ports", port["id"], **{HOST_ID: ""})
    assert (unbound[HOST_ID], unbound[VIF_TYPE], unbound[VIF_DETAILS]) == ("", "unbound", {})
    assert h2.state([net["id"]])["networks"] == []


# --- what agents get ---------------------------------------------------------------------------
def test_host_state_with_l2population(admin: Api, agents: Factory) -> None:
    h1 = agents(configurations=lb_configurations("192.0.2.101", {}))
    h2 = agents(configurations=lb_configurations("192.0.2.102", {}))
    net, _ = vxlan_net(admin)
    a = bound_port(admin, net["id"], h1.host)
    b = bound_port(admin, net["id"], h2.host)
    unbound = admin.create("ports", network_id=net["id"])

    state = h1.state()
    assert state["host"] == h1.host
    [n1] = state["networks"]
    assert (n1["id"], n1["network_type"], n1["segmentation_id"], n1["physical_network"],
            n1["mtu"]) == (net["id"], "vxlan", net["provider:segmentation_id"], None,
                           net["mtu"])
    assert n1["ports"] == [{
        "id": a["id"], "mac_address": a["mac_address"], "fixed_ips": a["fixed_ips"],
        "admin_state_up": True, "device_owner": "", "device": f"tap{a['id'][:11]}",
        # security groups (docs/agent-protocol.md)
        "port_security_enabled": True, "security_groups": a["security_groups"],
        "allowed_address_pairs": []}]
    b_ip = b["fixed_ips"][0]["ip_address"]
    assert n1["l2pop"] == {"flood": ["192.0.2.102"],
                           "unicast": {b["mac_address"]: "192.0.2.102"},
                           "neigh": {b_ip: b["mac_address"]}}
    [n2] = h2.state([net["id"]])["networks"]
    assert [p["id"] for p in n2["ports"]] == [b["id"]]
    assert n2["l2pop"]["flood"] == ["192.0.2.101"]
    assert n2["l2pop"]["unicast"] == {a["mac_address"]: "192.0.2.101"}
    assert unbound["mac_address"] not in n1["l2pop"]["unicast"]
    # narrowed to other networks: nothing of this one
    other, _ = vxlan_net(admin)
    nothing = {"version": protocol.VERSION, "networks": [], "security_groups": {},
               "remote_groups": {}, "address_groups": {}}
    assert h1.state([other["id"]]) == {"host": h1.host, **nothing}
    idle = agents()
    assert idle.state() == {"host": idle.host, **nothing}
    # the port leaves h2: h1 loses its entries
    admin.remove("ports", b["id"])
    assert h1.state([net["id"]])["networks"][0]["l2pop"] == {"flood": [], "unicast": {},
                                                              "neigh": {}}


def test_hints_go_only_to_hosts_on_the_network(admin: Api, agents: Factory) -> None:
    h1, h2, bystander = agents(), agents(), agents()
    net, sub = vxlan_net(admin)
    for a in (h1, h2, bystander):
        a.take_hints()
    p1 = bound_port(admin, net["id"], h1.host)
    assert wait_until(lambda: h1.hinted_networks() == {net["id"]})
    p2 = bound_port(admin, net["id"], h2.host)
    # h1 hears of the new port (its forwarding entries change), h2 of its own
    assert wait_until(lambda: net["id"] in h1.hinted_networks())
    assert wait_until(lambda: net["id"] in h2.hinted_networks())
    admin.update("ports", p2["id"], admin_state_up=False)
    assert wait_until(lambda: net["id"] in h1.hinted_networks())
    assert wait_until(lambda: net["id"] in h2.hinted_networks())
    admin.update("subnets", sub["id"], dns_nameservers=["192.0.2.53"])
    assert wait_until(lambda: net["id"] in h1.hinted_networks())
    admin.update("networks", net["id"], mtu=1400)
    assert wait_until(lambda: net["id"] in h2.hinted_networks())
    assert wait_until(lambda: net["id"] in h1.hinted_networks())
    # a name is nothing to agents. Sentinels: a new port of h1 on another network is
    # something, and its hint comes after any hint sent before it.
    (drain, _), (other, _) = vxlan_net(admin), vxlan_net(admin)
    bound_port(admin, drain["id"], h1.host)
    h1.hints_before(drain["id"])  # what the changes above sent has come
    admin.update("ports", p1["id"], name="renamed")
    sentinel = bound_port(admin, other["id"], h1.host)
    assert [h for h in h1.hints_before(other["id"]) if net["id"] in (h.get("networks") or ())] == []
    admin.remove("ports", p2["id"])
    assert wait_until(lambda: net["id"] in h2.hinted_networks())
    assert wait_until(lambda: net["id"] in h1.hinted_networks())
    admin.remove("ports", p1["id"])
    admin.remove("networks", net["id"])
    # and the bystander heard of nothing (until a port of its own, the sentinel)
    bound_port(admin, other["id"], bystander.host)
    assert bystander.hints_before(other["id"]) == []
    admin.remove("ports", sentinel["id"])


# --- DHCP ----------------------------------------------------------------------------------------
def test_dhcp_scheduling_and_provisioning(admin: Api, agents: Factory) -> None:
    # only this test's DHCP agent may be chosen
    disable_agents(admin, DHCP)
    hd = agents(configurations=lb_configurations("192.0.2.201", {}))
    dhcp = agents(DHCP, {"dhcp_driver": "dnsmasq"}, host=hd.host)
    h1 = agents(configurations=lb_configurations("192.0.2.202", {}))
    net, sub = vxlan_net(admin, dhcp=True)

    def dhcp_ports() -> list[dict[str, Any]]:
        return admin.list("ports", f"network_id={net['id']}&device_owner=network:dhcp")

    [dport] = wait_until(dhcp_ports)
    assert dport["device_id"] == dhcp_device_id(hd.host, net["id"])
    assert (dport[HOST_ID], dport[VIF_TYPE]) == (hd.host, "bridge")
    assert [ip["subnet_id"] for ip in dport["fixed_ips"]] == [sub["id"]]
    assert dport["project_id"] == net["project_id"]
    assert wait_until(lambda: net["id"] in dhcp.hinted_networks())

    [n] = dhcp.state()["networks"]
    assert (n["id"], n["mtu"]) == (net["id"], net["mtu"])
    assert n["dhcp_port"] == {"id": dport["id"], "mac_address": dport["mac_address"],
                              "fixed_ips": dport["fixed_ips"]}
    [s] = n["subnets"]
    assert (s["id"], s["cidr"], s["gateway_ip"], s["enable_dhcp"], s["ip_version"]) == (
        sub["id"], sub["cidr"], sub["gateway_ip"], True, 4)
    # the DHCP port is the L2 agent's too, and ACTIVE once wired (no DHCP block of its own)
    assert [p["id"] for p in hd.state()["networks"][0]["ports"]] == [dport["id"]]
    hd.device_up(dport["id"])
    port_status(admin, dport["id"], "ACTIVE")

    # an instance port waits for both its L2 agent and dnsmasq (a port on a network
    # without DHCP, reported in the same message, needs only the L2 agent: the sentinel)
    plain, _ = vxlan_net(admin)
    vm = bound_port(admin, net["id"], h1.host)
    vm2 = bound_port(admin, net["id"], h1.host)
    s1 = bound_port(admin, plain["id"], h1.host)
    h1.device_up(vm["id"], s1["id"])
    port_status(admin, s1["id"], "ACTIVE")
    assert admin.get("ports", vm["id"])[1]["port"]["status"] == "DOWN"
    entry = next(p for p in dhcp.state([net["id"]])["networks"][0]["ports"]
                 if p["id"] == vm["id"])
    ip = vm["fixed_ips"][0]["ip_address"]
    assert entry == {"id": vm["id"], "mac_address": vm["mac_address"],
                     "fixed_ips": vm["fixed_ips"], "device_owner": "",
                     "hostname": "host-" + ip.replace(".", "-"), "extra_dhcp_opts": []}
    # in the other order too (vm, in the same message, is the sentinel)
    dhcp.dhcp_ready(vm2["id"], vm["id"])
    port_status(admin, vm["id"], "ACTIVE")
    assert admin.get("ports", vm2["id"])[1]["port"]["status"] == "DOWN"
    h1.device_up(vm2["id"])
    port_status(admin, vm2["id"], "ACTIVE")
    # and the DHCP agent announcing a port again wakes nothing (vm3, wired and waiting
    # for dnsmasq, is the sentinel)
    h1.device_down(vm2["id"])
    port_status(admin, vm2["id"], "DOWN")
    vm3 = bound_port(admin, net["id"], h1.host)
    s3 = bound_port(admin, plain["id"], h1.host)
    h1.device_up(vm3["id"], s3["id"])
    port_status(admin, s3["id"], "ACTIVE")
    dhcp.dhcp_ready(vm2["id"], vm3["id"])
    port_status(admin, vm3["id"], "ACTIVE")
    assert admin.get("ports", vm2["id"])[1]["port"]["status"] == "DOWN"
    for p in (vm2, vm3, s1, s3):
        admin.remove("ports", p["id"])
    # the l2pop view of h1 floods to the DHCP host
    assert h1.state([net["id"]])["networks"][0]["l2pop"]["flood"] == ["192.0.2.201"]

    # the last DHCP subnet goes: so do the DHCP ports, and the network leaves the agent
    admin.update("subnets", sub["id"], enable_dhcp=False)
    assert wait_until(lambda: not dhcp_ports())
    assert dhcp.state()["networks"] == []
    # and comes back with DHCP
    admin.update("subnets", sub["id"], enable_dhcp=True)
    [again] = wait_until(dhcp_ports)
    assert again["device_id"] == dport["device_id"]
    admin.remove("ports", vm["id"])
    admin.remove("subnets", sub["id"])
    assert wait_until(lambda: not dhcp_ports())


# --- notifications --------------------------------------------------------------------------------
def test_notifications(admin: Api) -> None:
    name = f"notified-{uuid.uuid4().hex[:8]}"
    net = admin.network(name=name)
    port = admin.create("ports", network_id=net["id"], name="p")
    admin.update("ports", port["id"], name="q")
    admin.remove("ports", port["id"])
    want = {"network.create.start", "network.create.end", "port.create.start",
            "port.create.end", "port.update.start", "port.update.end", "port.delete.start",
            "port.delete.end"}
    ours: dict[str, dict[str, Any]] = {}

    def collect() -> bool:
        for m in ENV.notifications():
            text = repr(m["payload"])
            if name in text or port["id"] in text or net["id"] in text:
                ours.setdefault(m["event_type"], m)
        return want <= set(ours)

    assert wait_until(collect), (sorted(want - set(ours)), sorted(ours))
    assert ours["network.create.start"]["payload"] == {"network": {"name": name}}
    assert ours["network.create.end"]["payload"]["network"]["id"] == net["id"]
    assert ours["port.create.start"]["payload"] == {"port": {"network_id": net["id"],
                                                             "name": "p"}}
    assert ours["port.create.end"]["payload"]["port"]["id"] == port["id"]
    assert ours["port.update.start"]["payload"] == {"port": {"name": "q"}, "id": port["id"]}
    assert ours["port.update.end"]["payload"]["port"]["name"] == "q"
    assert ours["port.delete.start"]["payload"] == {"port_id": port["id"]}
    assert ours["port.delete.end"]["payload"] == {"port_id": port["id"]}
    end = ours["port.create.end"]
    assert end["priority"] == "INFO" and end["publisher_id"].startswith("network.")
    assert end["_context_is_admin"] is True
