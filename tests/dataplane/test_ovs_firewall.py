"""Security groups on Open vSwitch hosts (``firewall_driver = openvswitch``), end to end:
the deployment of test_ovs_multihost.py (real API server, RabbitMQ, one OVS agent process
and one ovsdb-server + ovs-vswitchd per simulated host) with the OpenFlow conntrack
firewall; groups and rules made through the API, real packets between hosts.

Run under ``flock /tmp/neutrino-dataplane.lock``.
"""

from __future__ import annotations

import select
import shutil
import subprocess
from collections.abc import Iterator
from typing import Any

import pytest

from neutrino.agent.linux import namespaces
from neutrino.compute import instance
from tests.dataplane.agent_helpers import reaches, wait_for, wait_reaches
from tests.dataplane.conftest import Features
from tests.dataplane.test_ovs_multihost import Deployment, deploy
from tests.dataplane.topology import spawn_listener, stop_processes


@pytest.fixture(scope="module")
def fwdep(features: Features, run_prefix: str,
          tmp_path_factory: pytest.TempPathFactory) -> Iterator[Deployment]:
    with deploy(features, run_prefix, tmp_path_factory, firewall="openvswitch",
                tag="of") as d:
        yield d


@pytest.fixture
def dep(fwdep: Deployment, request: pytest.FixtureRequest) -> Iterator[Deployment]:
    failed_before = request.session.testsfailed
    yield fwdep
    if request.session.testsfailed > failed_before:
        print(fwdep.logs())
    for vm in list(fwdep.booted.values()):
        fwdep.delete(vm)


@pytest.fixture
def listeners() -> Iterator[list[subprocess.Popen[Any]]]:
    procs: list[subprocess.Popen[Any]] = []
    if shutil.which("socat") is None:
        pytest.skip("`socat` not found")
    yield procs
    stop_processes(procs)  # ours only, by pid, with their forked children


def tcp_ok(src: instance.Instance, ip: str, port: int) -> bool:
    proc = namespaces.execute(["socat", "-t", "1", "-", f"TCP:{ip}:{port},connect-timeout=1"],
                              src.namespace, check=False, input="hello\n", timeout=10)
    return "hello" in proc.stdout


class EchoClient:
    """One TCP connection from ``ns`` to an echo listener (socat PIPE), kept open."""

    def __init__(self, ns: str, ip: str, port: int) -> None:
        self.proc = namespaces.spawn(["socat", "-", f"TCP:{ip}:{port},connect-timeout=2"],
                                     ns, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                     stderr=subprocess.DEVNULL)

    def echo(self, text: str, timeout: float = 5.0) -> bool:
        assert self.proc.stdin is not None and self.proc.stdout is not None
        try:
            self.proc.stdin.write(f"{text}\n".encode())
            self.proc.stdin.flush()
        except BrokenPipeError:
            return False
        ready, _, _ = select.select([self.proc.stdout], [], [], timeout)
        return bool(ready) and self.proc.stdout.readline().decode().strip() == text


def set_groups(d: Deployment, vm: instance.Instance, groups: list[str]) -> None:
    d.api.request("PUT", f"/ports/{vm.port_id}", {"port": {"security_groups": groups}})


def group(d: Deployment, name: str) -> dict[str, Any]:
    return d.api.request("POST", "/security-groups",
                         {"security_group": {"name": name}})["security_group"]


def rule(d: Deployment, sg: dict[str, Any], **attrs: Any) -> dict[str, Any]:
    return d.api.request("POST", "/security-group-rules", {"security_group_rule": {
        "security_group_id": sg["id"], "direction": "ingress", "ethertype": "IPv4",
        **attrs}})["security_group_rule"]


def test_closed_by_default_a_rule_opens_and_its_deletion_ends_connections(
        dep: Deployment, listeners: list[subprocess.Popen[Any]]) -> None:
    net = dep.network("fw-net", "10.99.11.0/24")
    a = dep.boot("fwa", net, "h1")
    b = dep.boot("fwb", net, "h2")
    # the default group: its members talk (ingress from the group itself: a conjunction)
    wait_reaches(a.namespace, dep.ip(b), timeout=15)
    web = group(dep, "web")  # egress rules only: closed to everything coming in
    set_groups(dep, b, [web["id"]])
    wait_for(lambda: not reaches(a.namespace, dep.ip(b), count=1), 15, what="b closed")
    listeners.append(spawn_listener(["socat", "TCP-LISTEN:22,reuseaddr,fork", "PIPE"],
                                    b.namespace, stdout=subprocess.DEVNULL,
                                    stderr=subprocess.DEVNULL))
    assert not tcp_ok(a, dep.ip(b), 22)
    icmp = rule(dep, web, protocol="icmp")
    wait_reaches(a.namespace, dep.ip(b), timeout=15)
    assert not tcp_ok(a, dep.ip(b), 22)  # that rule opened ICMP only
    ssh = rule(dep, web, protocol="tcp", port_range_min=22, port_range_max=22,
               remote_ip_prefix=f"{dep.ip(a)}/32")
    wait_for(lambda: tcp_ok(a, dep.ip(b), 22), 15, what="tcp 22 open from a")
    # deleting the ICMP rule: pings stop, TCP 22 stays
    dep.api.request("DELETE", f"/security-group-rules/{icmp['id']}")
    wait_for(lambda: not reaches(a.namespace, dep.ip(b), count=1), 15, what="icmp closed")
    assert tcp_ok(a, dep.ip(b), 22)
    # an established connection ends with the rule that allowed it, as with Neutron's
    # openvswitch firewall (its packets no longer match a rule: ct_mark=1, dropped)
    conn = EchoClient(a.namespace, dep.ip(b), 22)
    listeners.append(conn.proc)
    assert conn.echo("before"), "the established connection did not work"
    dep.api.request("DELETE", f"/security-group-rules/{ssh['id']}")
    wait_for(lambda: "tp_dst=22" not in dep.ovs["h2"].ofctl(
        "--no-stats", "dump-flows", "br-int", "table=82"), 15, what="rule flows gone")
    assert not conn.echo("after", timeout=3.0)
    assert not tcp_ok(a, dep.ip(b), 22)
    dep.delete(a)
    dep.delete(b)
    dep.api.request("DELETE", f"/security-groups/{web['id']}")
    dep.delete_network(net)


def test_remote_groups_spoofing_and_port_security(dep: Deployment) -> None:
    net = dep.network("fw-rg", "10.99.12.0/24")
    c = dep.boot("rgc", net, "h1")  # a client
    d = dep.boot("rgd", net, "h1")  # not (yet) one
    s = dep.boot("rgs", net, "h2")  # the server
    clients, servers = group(dep, "clients"), group(dep, "servers")
    rule(dep, servers, protocol="icmp", remote_group_id=clients["id"])
    set_groups(dep, c, [clients["id"]])
    set_groups(dep, d, [servers["id"]])
    set_groups(dep, s, [servers["id"]])
    # (until h2 has all three changes, the default group may still let both in)
    wait_for(lambda: not reaches(d.namespace, dep.ip(s), count=1), 15,
             what="d (not a client) kept out of s")
    wait_reaches(c.namespace, dep.ip(s), timeout=15)
    # h2's flows for the member addresses of "clients": conjunctions, one per address
    flows = dep.ovs["h2"].ofctl("--no-stats", "dump-flows", "br-int", "table=82")
    assert f"nw_src={dep.ip(c)}" in flows and "conjunction(" in flows
    assert f"nw_src={dep.ip(d)}" not in flows
    # d joins the clients: the server's host learns its address, d gets in
    set_groups(dep, d, [servers["id"], clients["id"]])
    wait_reaches(d.namespace, dep.ip(s), timeout=15)

    # spoofing: c's packets from an address not its own are dropped at its own port
    namespaces.execute(["ip", "addr", "add", "10.99.12.250/24", "dev", "eth0"], c.namespace)
    assert namespaces.execute(["ping", "-n", "-c", "2", "-W", "1", "-I", "10.99.12.250",
                               dep.ip(s)], c.namespace, check=False).returncode != 0
    assert reaches(c.namespace, dep.ip(s))
    # ... unless it is one of the port's allowed address pairs
    dep.api.request("PUT", f"/ports/{c.port_id}", {"port": {
        "allowed_address_pairs": [{"ip_address": "10.99.12.250"}]}})
    wait_for(lambda: namespaces.execute(
        ["ping", "-n", "-c", "1", "-W", "1", "-I", "10.99.12.250", dep.ip(s)], c.namespace,
        check=False).returncode == 0, 15, what="the address pair allowed")

    # port security off: no filtering at all (s takes anything, from anyone)
    assert not reaches(s.namespace, dep.ip(c), count=1)  # c's group admits nothing
    dep.api.request("PUT", f"/ports/{c.port_id}", {"port": {
        "security_groups": [], "allowed_address_pairs": [], "port_security_enabled": False}})
    wait_reaches(s.namespace, dep.ip(c), timeout=15)
    for vm in (c, d, s):
        dep.delete(vm)
    for sg in (clients, servers):
        dep.api.request("DELETE", f"/security-groups/{sg['id']}")
    dep.delete_network(net)


def test_two_networks_with_the_same_cidr_stay_apart(dep: Deployment) -> None:
    """Both open to ICMP from anywhere, with the same addresses: the conntrack zones
    (one per local VLAN) and the local VLANs keep them apart."""
    blue = dep.network("fw-blue", "10.99.13.0/24")
    red = dep.network("fw-red", "10.99.13.0/24")
    sg = group(dep, "open")
    rule(dep, sg, protocol="icmp")
    a = dep.boot("fwblue-a", blue, "h1")
    b = dep.boot("fwblue-b", blue, "h2")
    r = dep.boot("fwred-r", red, "h2")
    for vm in (a, b, r):
        set_groups(dep, vm, [sg["id"]])
    wait_reaches(a.namespace, dep.ip(b), timeout=15)
    for vm in (a, b):
        if dep.ip(vm) != dep.ip(r):
            assert not reaches(r.namespace, dep.ip(vm), count=1)
            assert not reaches(vm.namespace, dep.ip(r), count=1)
    for vm in (a, b, r):
        dep.delete(vm)
    dep.api.request("DELETE", f"/security-groups/{sg['id']}")
    dep.delete_network(blue)
    dep.delete_network(red)


def test_remote_address_group(dep: Deployment) -> None:
    """A rule with ``remote_address_group_id``: sources in the group's CIDRs get in,
    others not; an address added through the API lets its owner in, one removed shuts
    it out (conjunction flows over the CIDRs: the rule's flows stay as they are)."""
    net = dep.network("fw-ag", "10.99.14.0/24")
    s = dep.boot("ags", net, "h2")  # the server
    far = dep.boot("agfar", net, "h1")  # in the group from the start, on the other host
    near = dep.boot("agnear", net, "h2")  # not yet, on the server's host
    ag = dep.api.request("POST", "/address-groups", {"address_group": {
        "name": "clients", "addresses": [f"{dep.ip(far)}/32", "192.0.2.128/25"]}}
                         )["address_group"]
    web = group(dep, "ag-web")
    rule(dep, web, protocol="icmp", remote_address_group_id=ag["id"])
    set_groups(dep, s, [web["id"]])
    # (until h2 has the change, the default group still lets its members in)
    wait_for(lambda: not reaches(near.namespace, dep.ip(s), count=1), 15,
             what="near (not in the address group) kept out")
    wait_reaches(far.namespace, dep.ip(s), timeout=15)
    flows = dep.ovs["h2"].ofctl("--no-stats", "dump-flows", "br-int", "table=82")
    # the group's CIDRs as conjunction flows (the hosts' addresses also appear as the
    # default group's members: the clients' own group admits its members)
    assert f"nw_src={dep.ip(far)} " in flows and "nw_src=192.0.2.128/25 " in flows

    def rule_flows() -> set[str]:
        dump = dep.ovs["h2"].ofctl("--no-stats", "dump-flows", "br-int", "table=82")
        return {f.split("cookie=")[-1].split(",", 1)[-1].strip() for f in dump.splitlines()
                if ",2/2)" in f or "conj_id=" in f}

    before = rule_flows()
    dep.api.request("PUT", f"/address-groups/{ag['id']}/add_addresses",
                    {"addresses": [f"{dep.ip(near)}/32"]})
    wait_reaches(near.namespace, dep.ip(s), timeout=15)
    assert rule_flows() == before  # only the group's address flows changed
    dep.api.request("PUT", f"/address-groups/{ag['id']}/remove_addresses",
                    {"addresses": [f"{dep.ip(far)}/32"]})
    wait_for(lambda: not reaches(far.namespace, dep.ip(s), count=1), 15,
             what="far shut out once its address left the group")
    assert reaches(near.namespace, dep.ip(s))
    for vm in (s, far, near):
        dep.delete(vm)
    dep.api.request("DELETE", f"/security-groups/{web['id']}")
    dep.api.request("DELETE", f"/address-groups/{ag['id']}")
    dep.delete_network(net)


def _conntrack(d: Deployment, host: str, command: str = "dpctl/dump-conntrack") -> str:
    """The userspace datapath's connection table of ``host``'s ovs-vswitchd."""
    o = d.ovs[host]
    res = subprocess.run(["ovs-appctl", "-t", str(o.dir / "ovs-vswitchd.ctl"), command],
                         env=o.env, capture_output=True, text=True, timeout=30, check=True)
    return res.stdout


def test_stateless_group_needs_rules_for_the_replies(
        dep: Deployment, listeners: list[subprocess.Popen[Any]]) -> None:
    """A port of a stateless group (``stateful: false``) is not tracked: its ingress rule
    lets a client's SYN in, but the SYN-ACK needs an egress rule of its own; stateful
    clients, on its host and on another, still see the replies as established."""
    net = dep.network("fw-sl", "10.99.15.0/24")
    s = dep.boot("sls", net, "h2")  # the stateless server
    far = dep.boot("slfar", net, "h1")  # stateful clients (default group)
    near = dep.boot("slnear", net, "h2")
    sl = dep.api.request("POST", "/security-groups", {"security_group": {
        "name": "stateless", "stateful": False}})["security_group"]
    # no egress rule at all (the defaults made with the group removed)
    for r in sl["security_group_rules"]:
        dep.api.request("DELETE", f"/security-group-rules/{r['id']}")
    rule(dep, sl, protocol="tcp", port_range_min=22, port_range_max=22)
    listeners.append(spawn_listener(["socat", "TCP-LISTEN:22,reuseaddr,fork", "PIPE"],
                                    s.namespace, stdout=subprocess.DEVNULL,
                                    stderr=subprocess.DEVNULL))
    wait_for(lambda: tcp_ok(far, dep.ip(s), 22), 15, what="tcp 22 in the default group")
    set_groups(dep, s, [sl["id"]])
    wait_for(lambda: "actions=resubmit(,72)" in dep.ovs["h2"].ofctl(
        "--no-stats", "dump-flows", "br-int", "table=71"), 15, what="s untracked on h2")
    _conntrack(dep, "h2", "dpctl/flush-conntrack")  # the stateful connections above
    # the SYN gets in, the SYN-ACK has no rule: no connection, from either host
    assert not tcp_ok(far, dep.ip(s), 22)
    assert not tcp_ok(near, dep.ip(s), 22)
    # the replies' direction opened by a rule of its own: both connect
    out = rule(dep, sl, direction="egress", protocol="tcp")
    wait_for(lambda: tcp_ok(far, dep.ip(s), 22), 15, what="tcp 22 with the egress rule")
    assert tcp_ok(near, dep.ip(s), 22)
    # no "established" shortcut into s: only what its ingress rules name gets in
    assert not reaches(far.namespace, dep.ip(s), count=1)
    assert not reaches(near.namespace, dep.ip(s), count=1)
    # h1 tracks far's side only (its own egress); on h2 only the stateful near's
    # connection is in conntrack (committed for near's sake), none of far's
    assert f"dst={dep.ip(s)},sport=" in _conntrack(dep, "h1")
    h2 = _conntrack(dep, "h2")
    assert f"src={dep.ip(near)},dst={dep.ip(s)}" in h2
    assert f"src={dep.ip(far)}," not in h2
    # the egress rule gone: the replies are dropped again
    dep.api.request("DELETE", f"/security-group-rules/{out['id']}")
    wait_for(lambda: not tcp_ok(far, dep.ip(s), 22), 15, what="replies dropped again")
    assert not tcp_ok(near, dep.ip(s), 22)
    for vm in (s, far, near):
        dep.delete(vm)
    dep.api.request("DELETE", f"/security-groups/{sl['id']}")
    dep.delete_network(net)


def test_two_stateless_ports_talk_only_with_rules_both_ways(dep: Deployment) -> None:
    """Two ports of a stateless group, on two hosts: ICMP out only is not enough (the
    echo request has no ingress rule at the other end); with ICMP in as well they ping
    each other, and neither host keeps a connection for them."""
    net = dep.network("fw-sl2", "10.99.16.0/24")
    a = dep.boot("sla", net, "h1")
    b = dep.boot("slb", net, "h2")
    sl = dep.api.request("POST", "/security-groups", {"security_group": {
        "name": "stateless2", "stateful": False}})["security_group"]
    for r in sl["security_group_rules"]:
        dep.api.request("DELETE", f"/security-group-rules/{r['id']}")
    rule(dep, sl, direction="egress", protocol="icmp")
    for vm in (a, b):
        set_groups(dep, vm, [sl["id"]])
    def untracked() -> bool:
        return all("actions=resubmit(,72)" in dep.ovs[h].ofctl(
            "--no-stats", "dump-flows", "br-int", "table=71") for h in ("h1", "h2"))

    wait_for(untracked, 15, what="a and b untracked on h1 and h2")
    assert not reaches(a.namespace, dep.ip(b), count=2)
    assert not reaches(b.namespace, dep.ip(a), count=2)
    for h in ("h1", "h2"):
        _conntrack(dep, h, "dpctl/flush-conntrack")
    rule(dep, sl, protocol="icmp")  # ingress
    wait_reaches(a.namespace, dep.ip(b), timeout=15)
    assert reaches(b.namespace, dep.ip(a))
    for h in ("h1", "h2"):
        table = _conntrack(dep, h)
        assert f"src={dep.ip(a)}," not in table and f"src={dep.ip(b)}," not in table
    for vm in (a, b):
        dep.delete(vm)
    dep.api.request("DELETE", f"/security-groups/{sl['id']}")
    dep.delete_network(net)
