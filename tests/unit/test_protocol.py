"""The agent protocol's types (neutrino.protocol): round trips through the bus's JSON,
validation on decode, and the version rule on both sides (the server's ``AgentRpc`` on a
real plugin and SQLite database; the agent side in test_agent_base.py)."""

from __future__ import annotations

import logging
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import msgspec
import orjson
import pytest
import sqlalchemy as sa

from neutrino import config, protocol
from neutrino.agent import base
from neutrino.api.factory import open_database
from neutrino.bus import RemoteError, make_bus
from neutrino.core.plugin import Ml2Plugin
from neutrino.db import migrate
from neutrino.db import tables as t
from neutrino.protocol import dhcp, l3, rpc, version
from neutrino.protocol import linuxbridge as lb
from neutrino.services import agent_rpc

PORT = lb.Port(
    id="p1", mac_address="fa:16:3e:00:00:01",
    fixed_ips=[lb.FixedIp(subnet_id="s1", ip_address="10.0.0.5")],
    device="tapp1", port_security_enabled=True, security_groups=["g1"],
    allowed_address_pairs=[lb.AddressPair(ip_address="10.0.1.0/24")])
SAMPLES: list[protocol.Envelope] = [
    lb.HostState(
        host="h1",
        networks=[lb.Network(id="n1", network_type="vxlan", segmentation_id=7, mtu=1450,
                             ports=[PORT], l2pop=lb.L2pop(
                                 flood=["192.0.2.2"], unicast={"fa:16:3e:00:00:02": "192.0.2.2"},
                                 neigh={"10.0.0.6": "fa:16:3e:00:00:02"}))],
        security_groups={"g1": lb.SecurityGroup(rules=[
            lb.Rule(id="r1", direction="ingress", protocol="tcp", port_range_min=22,
                    port_range_max=22, remote_group_id="g1")])},
        remote_groups={"g1": {"IPv4": ["10.0.0.5"], "IPv6": []}}),
    lb.SecurityGroupsState(host="h1"),
    dhcp.HostState(host="h1", networks=[dhcp.Network(
        id="n1", mtu=1450,
        subnets=[dhcp.Subnet(id="s1", cidr="10.0.0.0/24", ip_version=4,
                             gateway_ip="10.0.0.1",
                             host_routes=[dhcp.HostRoute(destination="10.9.0.0/16",
                                                         nexthop="10.0.0.9")],
                             allocation_pools=[dhcp.AllocationPool(start="10.0.0.2",
                                                                   end="10.0.0.254")])],
        dhcp_port=dhcp.DhcpPort(id="d1", mac_address="fa:16:3e:00:00:03"),
        ports=[dhcp.Port(id="p1", mac_address="fa:16:3e:00:00:01", hostname="host-10-0-0-5",
                         extra_dhcp_opts=[dhcp.ExtraDhcpOpt(opt_name="mtu",
                                                            opt_value="1400")])])]),
    l3.HostState(host="h1", routers=[l3.Router(
        id="r1", gateway=l3.Gateway(port_id="g", mac_address="fa:16:3e:00:00:04",
                                    fixed_ips=[l3.FixedIp(ip_address="203.0.113.2",
                                                          prefixlen=24)],
                                    gateway_ips=["203.0.113.1"]),
        routes=[l3.ExtraRoute(destination="10.8.0.0/16", nexthop="10.0.0.8")],
        floating_ips=[l3.FloatingIp(id="f1", floating_ip_address="203.0.113.9",
                                    fixed_ip_address="10.0.0.5")])]),
    rpc.Request(method=rpc.REPORT_STATE, args={"agent": {"agent_type": "x", "host": "h"}}),
    rpc.ReportStateReply(agent_status="new"),
    rpc.PortsActive(active=["p1"]),
    rpc.PortsDown(down=["p1"]),
    rpc.Changed(changed=["f1"]),
    rpc.Hint(networks=["n1"], security_groups=["g1"]),
    rpc.Hint(routers=None),
]


@pytest.mark.parametrize("message", SAMPLES, ids=lambda m: type(m).__qualname__)
def test_round_trip_through_the_bus_json(message: protocol.Envelope) -> None:
    wire = orjson.loads(orjson.dumps(protocol.to_wire(message)))  # what the bus carries
    assert wire["version"] == protocol.VERSION
    assert protocol.decode(wire, type(message), peer="test") == message


@pytest.mark.parametrize("args", [
    rpc.ReportState(agent=rpc.AgentState(agent_type="DHCP agent", host="h1",
                                         configurations={"networks": 2}, start_flag=True)),
    rpc.GetHostState(host="h1", agent_type="L3 agent", router_ids=["r1"]),
    rpc.DevicesUpDown(host="h1", agent_type="Linux bridge agent", port_ids=["p1"]),
    rpc.DhcpReady(host="h1", port_ids=["p1"]),
    rpc.FloatingIpStatuses(host="h1", router_id="r1", statuses={"f1": "ACTIVE"}),
], ids=lambda m: type(m).__qualname__)
def test_arguments_round_trip(args: protocol.Message) -> None:
    wire = orjson.loads(orjson.dumps(protocol.to_wire(args)))
    assert protocol.convert(wire, type(args)) == args


def test_a_hint_tells_a_missing_key_from_null() -> None:
    """``{"routers": null}`` is every router; a hint without "routers" is not for the L3
    agent at all."""
    assert protocol.to_wire(rpc.Hint(networks=["n1"])) == {
        "version": protocol.VERSION, "networks": ["n1"]}
    hint = protocol.decode({"routers": None}, rpc.Hint, peer="test")
    assert hint.routers is None and hint.networks is msgspec.UNSET


def test_wrong_types_are_refused_with_the_path() -> None:
    raw = protocol.to_wire(SAMPLES[0])
    raw["networks"][0]["ports"][0]["admin_state_up"] = "yes"
    with pytest.raises(protocol.ProtocolError, match=r"\$\.networks\[0\]\.ports\[0\]"):
        protocol.decode(raw, lb.HostState, peer="server")
    with pytest.raises(protocol.ProtocolError, match="Invalid enum value 'BROKEN'"):
        protocol.convert({"host": "h", "router_id": "r", "statuses": {"f": "BROKEN"}},
                         rpc.FloatingIpStatuses)


def test_one_bad_entry_is_left_out_the_others_kept() -> None:
    raw = protocol.to_wire(SAMPLES[3])
    raw["routers"].append({"id": "r2", "gateway": {"port_id": "g2"}})  # no mac_address
    state, invalid = protocol.decode_host_state(raw, l3.HostState)
    assert [r.id for r in state.routers] == ["r1"]
    assert list(invalid) == ["r2"] and "mac_address" in invalid["r2"]
    with pytest.raises(protocol.ProtocolError, match="no routers list"):
        protocol.decode_host_state({"host": "h1"}, l3.HostState)


def test_unknown_fields_are_ignored() -> None:
    """A newer minor may add fields: an older reader ignores them."""
    raw = {**protocol.to_wire(SAMPLES[2]), "version": "1.9", "novelty": {"x": 1}}
    raw["networks"][0]["novelty"] = True
    state, invalid = protocol.decode_host_state(raw, dhcp.HostState)
    assert not invalid and state.networks == SAMPLES[2].networks  # type: ignore[attr-defined]


@pytest.mark.parametrize("theirs, ok", [
    (None, True),  # unversioned: 1.0
    ("1.0", True), ("1.1", True), ("1.42", True),
    ("0.9", False), ("2.0", False), ("2.1", False),
])
def test_compatibility_rule(theirs: str | None, ok: bool) -> None:
    if ok:
        version.check(theirs, peer="peer")
    else:
        with pytest.raises(protocol.ProtocolVersionError, match=f"protocol {theirs}, this "
                           f"side {protocol.VERSION}"):
            version.check(theirs, peer="peer")


@pytest.mark.parametrize("bad", ["1", "one.two", "1.x", 1.1, ""])
def test_malformed_versions_are_refused(bad: Any) -> None:
    with pytest.raises(protocol.ProtocolVersionError, match="malformed"):
        version.check(bad, peer="peer")


# --- the server side: the real RPC handlers ----------------------------------------------------
@pytest.fixture
def server(tmp_path: Path) -> Iterator[tuple[Any, Ml2Plugin, str]]:
    url = f"inprocess://protocol-{uuid.uuid4().hex[:8]}"
    conf = config.make_conf(overrides={
        "DEFAULT": {"state_path": str(tmp_path), "transport_url": url},
        "database": {"connection": f"sqlite:///{tmp_path / 'neutrino.sqlite'}"}})
    db = open_database(conf)
    bus = make_bus(conf)
    try:
        migrate.upgrade(db.engine)
        plugin = Ml2Plugin(conf, db, bus=bus)
        plugin.start()
        agent_rpc.serve(bus, plugin, workers=1)
        yield bus, plugin, url
    finally:
        bus.close()
        db.dispose()


def _report(version_: str | None) -> dict[str, Any]:
    args = protocol.to_wire(rpc.ReportState(agent=rpc.AgentState(
        agent_type="DHCP agent", host="h1", binary="neutrino-dhcp-agent")))
    request = {"method": rpc.REPORT_STATE, "args": args}
    return request if version_ is None else {**request, "version": version_}


@pytest.mark.parametrize("agent_version", ["0.3", "2.0"])
def test_server_refuses_an_agent_of_another_major(server: Any, agent_version: str,
                                                  caplog: pytest.LogCaptureFixture) -> None:
    bus, plugin, _ = server
    with caplog.at_level(logging.ERROR, logger="neutrino.services.agent_rpc"), \
            pytest.raises(RemoteError) as info:
        bus.call(rpc.TOPIC, _report(agent_version), timeout=10)
    assert info.value.exc_type == "ProtocolVersionError"
    assert f"agent protocol {agent_version}" in info.value.value
    assert "the agent on h1 (report_state)" in caplog.text  # who, in the server's log
    assert plugin.db.read(lambda conn: conn.scalar(sa.select(sa.func.count()).select_from(
        t.agents))) == 0  # not registered: nothing binds to it


def test_server_serves_its_major_and_unversioned_agents(server: Any) -> None:
    bus, *_ = server
    first = bus.call(rpc.TOPIC, _report(None), timeout=10)  # an agent of before versions
    assert protocol.decode(first, rpc.ReportStateReply, peer="server").agent_status == "new"
    again = bus.call(rpc.TOPIC, _report("1.7"), timeout=10)  # a newer minor: fine
    assert again == {"version": protocol.VERSION, "agent_status": "alive"}
    reply = bus.call(rpc.TOPIC, protocol.to_wire(rpc.Request(
        method=rpc.GET_HOST_STATE,
        args=protocol.to_wire(rpc.GetHostState(host="h1", agent_type="DHCP agent")))),
        timeout=10)
    state, invalid = protocol.decode_host_state(reply, dhcp.HostState)
    assert state == dhcp.HostState(host="h1") and not invalid


def test_server_refuses_arguments_of_the_wrong_shape(server: Any) -> None:
    bus, *_ = server
    with pytest.raises(RemoteError, match=r"update_device_up args: Expected `str`, got "
                       r"`int` - at `\$\.port_ids\[0\]`"):
        bus.call(rpc.TOPIC, {"method": rpc.UPDATE_DEVICE_UP, "version": protocol.VERSION,
                             "args": {"host": "h1", "port_ids": [7]}}, timeout=10)
    with pytest.raises(RemoteError, match="unknown method"):
        bus.call(rpc.TOPIC, {"method": "reboot", "version": protocol.VERSION}, timeout=10)


def test_an_agent_of_another_major_is_refused_and_refuses_to_act(
        server: Any, caplog: pytest.LogCaptureFixture) -> None:
    """The whole loop: an agent speaking major 2 to this server. Its get_host_state is
    refused by the server and comes back to it as ProtocolVersionError; its resync logs
    an error and calls no reconcile."""
    bus, _, url = server
    conf = config.make_conf([], overrides={"DEFAULT": {"transport_url": url}})
    base.register_agent_opts(conf)
    conf.set_override("host", "h1")
    reconciled: list[Any] = []

    class FutureAgent(base.Agent):
        agent_type = dhcp.AGENT_TYPE
        host_state_type = dhcp.HostState

        def request(self, method: str, args: protocol.Message) -> dict[str, Any]:
            return {**super().request(method, args), "version": "2.0"}

        def reconcile(self, state: Any, ids: Any, invalid: Any) -> None:
            reconciled.append(state)

    agent = FutureAgent(conf, bus)
    with pytest.raises(protocol.ProtocolVersionError, match=r"agent protocol 2\.0"):
        agent.get_host_state(None)
    with caplog.at_level(logging.ERROR):
        agent._resync(None)
    assert reconciled == [] and isinstance(agent.last_error, protocol.ProtocolVersionError)
    assert any(r.name == "neutrino.agent.base" and "refused" in r.getMessage()
               for r in caplog.records if r.levelno == logging.ERROR)
