"""Security groups through the Linux bridge agent: hints, the narrowed get_host_state and
the firewall, on two simulated hosts, against the real server (control_plane.py): groups
and rules made through the API, the hints and replies the server makes of them."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from neutrino.agent.l2.firewall import render
from neutrino.agent.l2.linuxbridge import LinuxBridgeAgent
from neutrino.agent.linux import names, namespaces
from tests.dataplane.agent_helpers import plug, reaches, wait_for, wait_reaches
from tests.dataplane.conftest import Features
from tests.dataplane.control_plane import ControlPlane, Net, Port
from tests.dataplane.test_linuxbridge_agent import Cloud
from tests.dataplane.topology import Topology, random_mac

SELF_INGRESS = [{"direction": "ingress", "ethertype": "IPv4", "remote_group_id": "self"}]
ANY_INGRESS = [{"direction": "ingress", "ethertype": "IPv4"}]


@pytest.fixture(autouse=True)
def _need_vxlan(features: Features) -> None:
    features.require("vxlan")


@pytest.fixture
def sg_cloud(topology: Callable[[], Topology], tmp_path: Path) -> Iterator[Cloud]:
    topo = topology()
    url = f"inprocess://sg-{uuid.uuid4().hex[:8]}"
    c = Cloud(topo, ControlPlane(tmp_path / "server", url), url)
    for i in range(2):
        h = topo.host(f"h{i + 1}")
        c.hosts[h.name] = h
    try:
        yield c
    finally:
        for name in list(c.agents):
            c.stop_agent(name)
        c.server.close()


def _boot(c: Cloud, name: str, net: Net, host: str, ip: str, groups: list[str]
          ) -> tuple[str, Port]:
    mac = random_mac()
    port = c.server.add_port(net, host, mac, ip, security_groups=groups)
    ns = plug(c.topo, name, c.hosts[host].ns, port.id, mac, f"{ip}/24", net.mtu)
    c.instances[name] = (ns, port)
    return ns, port


def _record_firewall(agent: LinuxBridgeAgent) -> list[tuple[bool, str]]:
    """(tables rewritten?, script) of every change the agent's firewall makes from now."""
    changes: list[tuple[bool, str]] = []
    fw = agent.firewall
    converge = fw.converge

    def recording(state: Any, *, from_kernel: bool) -> Any:
        result = converge(state, from_kernel=from_kernel)
        if result.changed:
            changes.append((result.full, fw.last_script.strip()))
        return result

    fw.converge = recording  # type: ignore[method-assign]
    return changes


def _set_of(c: Cloud, host: str, group: str) -> str:
    return namespaces.execute(["nft", "list", "set", "inet", render.TABLE, f"rg4-{group}"],
                              c.hosts[host].ns).stdout


def test_membership_hint_updates_only_the_set_and_port_removal_drops_its_chains(
        sg_cloud: Cloud) -> None:
    c = sg_cloud
    server = c.server
    for h in c.hosts:
        c.start_agent(h)
    sg = server.security_group("sg", SELF_INGRESS)
    other = server.security_group("other", [])
    net = server.add_network("vxlan", segmentation_id=1201)
    a_ns, a = _boot(c, "a", net, "h1", "10.99.0.1", [sg])
    b_ns, b = _boot(c, "b", net, "h2", "10.99.0.2", [sg])
    c_ns, cp = _boot(c, "c", net, "h2", "10.99.0.3", [other])
    c.wait_active(a, b, cp)
    c.settle()
    wait_reaches(b_ns, "10.99.0.1")  # members of the group, across hosts
    assert reaches(a_ns, "10.99.0.2")
    assert not reaches(c_ns, "10.99.0.1", count=2)  # outside the group

    agent: LinuxBridgeAgent = c.agents["h1"]
    changes = _record_firewall(agent)
    narrowed = len(server.narrowed_calls)
    # c joins sg: h1 hears {"networks": [net], "security_groups": [sg]}; its firewall
    # changes by one set element, nothing else
    server.update_port(cp, security_groups=[other, sg])
    wait_for(lambda: "10.99.0.3" in _set_of(c, "h1", sg), 5, what="member in the set")
    c.settle()
    assert changes == [(False, f"add element inet {render.TABLE} rg4-{sg} {{ 10.99.0.3 }}")]
    assert [sg] in server.narrowed_calls[narrowed:]
    assert reaches(c_ns, "10.99.0.1")

    server.update_port(cp, security_groups=[other])
    wait_for(lambda: "10.99.0.3" not in _set_of(c, "h1", sg), 5,
             what="member gone from the set")
    assert not reaches(c_ns, "10.99.0.1", count=2)

    # a restarted agent finds its firewall converged and sends nothing to nft
    c.stop_agent("h1")
    agent = c.start_agent("h1")
    wait_for(lambda: agent.full_resync_count >= 1, 10, what="first resync")
    assert agent.firewall.last_script == ""
    assert reaches(b_ns, "10.99.0.1")

    # the port goes: its chains go with it
    tap = names.tap_name(a.id)
    assert f"sp-{tap}" in namespaces.execute(["nft", "list", "ruleset"],
                                             c.hosts["h1"].ns).stdout
    c.server.delete_port(a)
    wait_for(lambda: f"sp-{tap}" not in namespaces.execute(
        ["nft", "list", "ruleset"], c.hosts["h1"].ns).stdout, 10, what="chains removed")


def test_a_port_in_a_new_group_gets_its_rules_at_once(sg_cloud: Cloud) -> None:
    """A new port on h1 in a group ("open") that a group of h1 already names as remote:
    the server hints {"networks": [..], "security_groups": ["open"]}; the security-group
    thread may fetch before the network resync has the port (and then drops the group
    as unused): the network resync's rules for it must still count."""
    c = sg_cloud
    server = c.server
    c.start_agent("h1")
    open_ = server.security_group("open", ANY_INGRESS)
    watcher = server.security_group("watcher", [
        {"direction": "ingress", "ethertype": "IPv4", "remote_group_id": open_}])
    net = server.add_network("vxlan", segmentation_id=1202)
    _, a = _boot(c, "a", net, "h1", "10.99.0.1", [watcher])
    c.wait_active(a)
    c.settle()
    # network replies slower than security-group ones: the group's fetch starts later
    # and returns first, before the agent knows the port
    server.network_delay = 0.5
    narrowed = len(server.narrowed_calls)
    server.add_port(net, "h1", "fa:16:3e:00:0a:03", "10.99.0.3", security_groups=[open_])

    def rules_in_place() -> bool:
        out = namespaces.execute(["nft", "list", "chain", "inet", render.TABLE,
                                  f"sgi-{open_}"], c.hosts["h1"].ns, check=False).stdout
        return "meta nfproto ipv4 accept" in out

    wait_for(rules_in_place, 5, what="the new group's rules")  # not the 30 s resync
    assert [open_] in server.narrowed_calls[narrowed:]  # the race was run
