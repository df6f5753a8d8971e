"""Security groups end to end: the real API server, RabbitMQ and one Linux bridge agent
process per simulated host (the deployment of test_multihost.py), groups and rules made
through the API, packets between instances on different hosts."""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Iterator
from typing import Any

import pytest

from neutrino.agent.l2.firewall import render
from neutrino.agent.linux import namespaces
from neutrino.compute import instance
from tests.dataplane.agent_helpers import reaches, wait_for, wait_reaches
from tests.dataplane.test_multihost import Deployment, dep, deployment  # noqa: F401
from tests.dataplane.topology import spawn_listener, stop_processes

PROJECT = "demo"


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


def set_groups(d: Deployment, vm: instance.Instance, groups: list[str]) -> None:
    d.api.request("PUT", f"/ports/{vm.port_id}", {"port": {"security_groups": groups}})


def test_security_groups_across_hosts(dep: Deployment,  # noqa: F811
                                      listeners: list[subprocess.Popen[Any]]) -> None:
    net = dep.network("sg-net")
    dep.subnet(net, "10.99.7.0/24")
    a = dep.boot("sga", net, "h1")
    b = dep.boot("sgb", net, "h2")
    c = dep.boot("sgc", net, "h2")
    dep.wait_active(a, b, c)
    default = dep.api.request("GET", f"/ports/{a.port_id}")["port"]["security_groups"]
    assert len(default) == 1
    # the default group: members talk, across hosts
    wait_reaches(a.namespace, b.ip, timeout=10)
    assert reaches(b.namespace, a.ip)

    # c in a group of its own without ingress rules: kept out, and keeps others out
    web = dep.api.request("POST", "/security-groups",
                          {"security_group": {"name": "web"}})["security_group"]
    set_groups(dep, c, [web["id"]])
    wait_for(lambda: not reaches(c.namespace, a.ip, count=1), 10, what="c cut off from a")
    assert not reaches(a.namespace, c.ip, count=2)

    # TCP 22 from a's address only
    listeners.append(spawn_listener(["socat", "TCP-LISTEN:22,reuseaddr,fork", "PIPE"],
                                      c.namespace, stdout=subprocess.DEVNULL,
                                      stderr=subprocess.DEVNULL))
    listeners.append(spawn_listener(["socat", "TCP-LISTEN:23,reuseaddr,fork", "PIPE"],
                                      c.namespace, stdout=subprocess.DEVNULL,
                                      stderr=subprocess.DEVNULL))
    rule = dep.api.request("POST", "/security-group-rules", {"security_group_rule": {
        "security_group_id": web["id"], "direction": "ingress", "ethertype": "IPv4",
        "protocol": "tcp", "port_range_min": 22, "port_range_max": 22,
        "remote_ip_prefix": f"{a.ip}/32"}})["security_group_rule"]
    wait_for(lambda: tcp_ok(a, c.ip, 22), 10, what="tcp 22 from a")
    assert not tcp_ok(a, c.ip, 23)
    assert not tcp_ok(b, c.ip, 22)
    assert not reaches(a.namespace, c.ip, count=2)
    dep.api.request("DELETE", f"/security-group-rules/{rule['id']}")
    wait_for(lambda: not tcp_ok(a, c.ip, 22), 10, what="tcp 22 closed again")

    # remote-group membership: c joins the default group, then leaves it
    set_groups(dep, c, [web["id"], default[0]])
    wait_reaches(c.namespace, a.ip, timeout=10)
    h1 = dep.hosts["h1"].ns
    listed = namespaces.execute(["nft", "list", "set", "inet", render.TABLE,
                                 f"rg4-{default[0]}"], h1).stdout
    assert c.ip in listed and b.ip in listed
    set_groups(dep, c, [web["id"]])
    wait_for(lambda: c.ip not in namespaces.execute(
        ["nft", "list", "set", "inet", render.TABLE, f"rg4-{default[0]}"], h1).stdout,
        10, what="c gone from h1's set")
    assert not reaches(c.namespace, a.ip, count=2)

    # spoofing: a's packets from another address do not arrive
    namespaces.execute(["ip", "addr", "add", "10.99.7.250/24", "dev", "eth0"], a.namespace)
    assert namespaces.execute(["ping", "-n", "-c", "2", "-W", "1", "-I", "10.99.7.250",
                               b.ip], a.namespace, check=False).returncode != 0
    assert reaches(a.namespace, b.ip)

    # port security off: no filtering at all
    dep.api.request("PUT", f"/ports/{c.port_id}",
                    {"port": {"security_groups": [], "port_security_enabled": False}})
    wait_reaches(b.namespace, c.ip, timeout=10)

    for vm in (a, b, c):
        dep.delete(vm)
    dep.api.request("DELETE", f"/security-groups/{web['id']}")
    dep.delete_network(net)
