"""Address groups (security-groups-remote-address-group) and stateless security groups on
real packets.

- Through the Linux bridge agent against the real server (control_plane.py): a rule
  naming an address group admits a source in the group, not one outside;
  add_addresses opens and remove_addresses closes new connections, each by a set element
  change the server's hint brings (no chain rewritten).
- The firewall driven with desired states (as test_sg_firewall.py): IPv6 address groups,
  and a stateless group (``stateful: false``), whose replies need a rule of their own.
"""

from __future__ import annotations

import subprocess
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from neutrino.agent.l2.firewall import render
from neutrino.agent.l2.firewall.nftables import NftablesFirewall
from neutrino.agent.linux import namespaces
from tests.dataplane.agent_helpers import reaches, wait_for, wait_reaches
from tests.dataplane.conftest import Features
from tests.dataplane.test_linuxbridge_agent import Cloud
from tests.dataplane.test_sg_agent import _boot, _record_firewall
from tests.dataplane.test_sg_agent import sg_cloud as sg_cloud
from tests.dataplane.test_sg_firewall import (
    EGRESS_ANY,
    OTHER,
    WEB,
    Instance,
    Site,
    parse_host_state,
)
from tests.dataplane.test_sg_firewall import _need_tools as _need_tools
from tests.dataplane.topology import Topology, stop_processes

AG = "a9000000-0000-4000-8000-000000000001"


# --- through the agent ---------------------------------------------------------------------------
def _set_elements(c: Cloud, host: str, name: str) -> str:
    return namespaces.execute(["nft", "list", "set", "inet", render.TABLE, name],
                              c.hosts[host].ns, check=False).stdout


def test_agent_enforces_a_remote_address_group_as_a_set(
        features: Features, sg_cloud: Cloud) -> None:
    features.require("vxlan")
    c = sg_cloud
    server = c.server
    c.start_agent("h1")
    ag = server.api("POST", "/address-groups", {"address_group": {
        "name": "clients", "addresses": ["10.99.0.16/29"]}})["address_group"]
    # ICMP from the address group only; the clients' group sends anything
    web = server.security_group("web", [{"direction": "ingress", "ethertype": "IPv4",
                                         "protocol": "icmp",
                                         "remote_address_group_id": ag["id"]}])
    clients = server.security_group("clients", [])
    net = server.add_network("vxlan", segmentation_id=1231)
    _, srv = _boot(c, "srv", net, "h1", "10.99.0.10", [web])
    inside_ns, inside = _boot(c, "inside", net, "h1", "10.99.0.20", [clients])
    outside_ns, outside = _boot(c, "outside", net, "h1", "10.99.0.40", [clients])
    c.wait_active(srv, inside, outside)
    c.settle()
    wait_reaches(inside_ns, "10.99.0.10")  # in the group
    assert not reaches(outside_ns, "10.99.0.10", count=2)  # outside it
    name = render.address_set(ag["id"], "IPv4")

    changes = _record_firewall(c.agents["h1"])
    narrowed = len(server.narrowed_calls)
    server.api("PUT", f"/address-groups/{ag['id']}/add_addresses",
               {"addresses": ["10.99.0.40/32"]})
    wait_for(lambda: "10.99.0.40" in _set_elements(c, "h1", name), 10,
             what="address in the set")
    c.settle()
    # the hint the server sends for the rule's group; one element added, nothing else
    assert [web] in server.narrowed_calls[narrowed:]
    assert changes == [(False, f"add element inet {render.TABLE} {name} {{ 10.99.0.40 }}")]
    assert reaches(outside_ns, "10.99.0.10")

    server.api("PUT", f"/address-groups/{ag['id']}/remove_addresses",
               {"addresses": ["10.99.0.16/29"]})
    wait_for(lambda: "10.99.0.16/29" not in _set_elements(c, "h1", name), 10,
             what="CIDR gone from the set")
    assert not reaches(inside_ns, "10.99.0.10", count=2)
    assert reaches(outside_ns, "10.99.0.10")
    assert all(not full for full, _ in changes)


# --- the firewall alone ----------------------------------------------------------------------
@dataclass
class GroupSite(Site):
    """A Site whose state also carries address groups and stateless groups."""

    address_groups: dict[str, dict[str, list[str]]] = field(default_factory=dict)
    stateless: set[str] = field(default_factory=set)

    def state(self) -> dict[str, Any]:
        out = super().state()
        for gid, group in out["security_groups"].items():
            group["stateful"] = gid not in self.stateless
        out["address_groups"] = self.address_groups
        return out


@pytest.fixture
def gsite(topology: Callable[[], Topology], tmp_path: Path) -> Iterator[GroupSite]:
    topo = topology()
    host = topo.host("h1")
    procs: list[subprocess.Popen[Any]] = []
    s = GroupSite(topo, host, NftablesFirewall(host.ns), procs, tmp_path,
                  groups={OTHER: list(EGRESS_ANY), WEB: list(EGRESS_ANY)})
    try:
        yield s
    finally:
        stop_processes(procs)


def _add_v6(site: GroupSite, inst: Instance, address: str) -> None:
    namespaces.execute(["ip", "addr", "add", f"{address}/64", "dev", "eth0", "nodad"],
                       inst.ns)
    site.port(inst)["fixed_ips"].append({"subnet_id": "s6", "ip_address": address})


def test_ipv6_address_group(gsite: GroupSite) -> None:
    site = gsite
    net = site.network()
    srv = site.boot("srv", net, "10.99.0.10", [WEB])
    inside = site.boot("in", net, "10.99.0.20", [OTHER])
    outside = site.boot("out", net, "10.99.0.40", [OTHER])
    for inst, v6 in ((srv, "fd00:99::10"), (inside, "fd00:99::20"),
                     (outside, "fd00:99::40")):
        _add_v6(site, inst, v6)
    site.groups[WEB] = [*EGRESS_ANY, {"id": "ag6", "direction": "ingress",
                                      "ethertype": "IPv6", "protocol": "ipv6-icmp",
                                      "remote_address_group_id": AG}]
    site.address_groups = {AG: {"IPv4": ["10.99.0.0/24"], "IPv6": ["fd00:99::20/126"]}}
    site.apply()
    ping6 = ["ping", "-6", "-n", "-c", "2", "-i", "0.2", "-W", "1", "fd00:99::10"]

    def ok(src: Instance) -> bool:
        return namespaces.execute(ping6, src.ns, check=False).returncode == 0

    assert ok(inside)
    assert not ok(outside)  # fd00:99::40 is not in the group
    assert not reaches(inside.ns, srv.ip, count=2)  # the rule is IPv6 only
    site.address_groups[AG]["IPv6"].append("fd00:99::40/128")
    result = site.apply(from_kernel=False)
    assert result.changed and not result.full
    assert site.fw.last_script.strip() == \
        f"add element inet {render.TABLE} {render.address_set(AG, 'IPv6')} {{ fd00:99::40 }}"
    assert ok(outside)


def test_stateless_group_needs_the_reply_rule(gsite: GroupSite) -> None:
    site = gsite
    net = site.network()
    srv = site.boot("srv", net, "10.99.0.10", [WEB])
    client = site.boot("cl", net, "10.99.0.20", [OTHER])
    # the server's group lets TCP 22 in and nothing out
    tcp22 = {"id": "in22", "direction": "ingress", "ethertype": "IPv4", "protocol": "tcp",
             "port_range_min": 22, "port_range_max": 22}
    site.groups[WEB] = [tcp22]
    site.apply()
    site.tcp_server(srv, 22)
    # stateful: the reply of an admitted connection is let out without a rule
    assert site.tcp_ok(client, srv, 22)

    site.stateless = {WEB}
    assert site.apply().full
    ruleset = namespaces.execute(["nft", "list", "chain", "inet", render.TABLE, "zone"],
                                 site.host.ns).stdout
    assert "notrack" in ruleset
    # stateless: the same connection fails, its SYN-ACK has no egress rule
    assert not site.tcp_ok(client, srv, 22)
    # the reply direction opened explicitly: it works again
    site.groups[WEB] = [tcp22, {"id": "out", "direction": "egress", "ethertype": "IPv4",
                                "protocol": "tcp"}]
    assert not site.apply().full  # a rule change only
    assert site.tcp_ok(client, srv, 22)
    # (the stateful client's side is tracked, so that it sees the replies as such)
    # ICMP into the stateless server: no rule, no ping (nothing "established" to reuse)
    assert not reaches(client.ns, srv.ip, count=2)


def test_two_stateless_ports_talk_only_with_rules_both_ways(gsite: GroupSite) -> None:
    site = gsite
    net = site.network()
    a = site.boot("a", net, "10.99.0.1", [WEB])
    b = site.boot("b", net, "10.99.0.2", [WEB])
    site.stateless = {WEB}
    icmp_in = {"id": "i", "direction": "ingress", "ethertype": "IPv4", "protocol": "icmp"}
    icmp_out = {"id": "o", "direction": "egress", "ethertype": "IPv4", "protocol": "icmp"}
    site.groups[WEB] = [icmp_out]
    site.apply()
    assert not reaches(a.ns, b.ip, count=2)  # b takes nothing in
    site.groups[WEB] = [icmp_out, icmp_in]
    site.apply()
    assert reaches(a.ns, b.ip) and reaches(b.ns, a.ip)
    assert parse_host_state(site.state()).stateless == frozenset({WEB})
    # untracked: their packets left no connection behind
    entries = namespaces.execute(["conntrack", "-L"], site.host.ns, check=False).stdout
    assert a.ip not in entries and b.ip not in entries
    # back to stateful: tracked again
    site.stateless = set()
    assert site.apply().full
    assert reaches(a.ns, b.ip)
    assert a.ip in namespaces.execute(["conntrack", "-L"], site.host.ns, check=False).stdout

