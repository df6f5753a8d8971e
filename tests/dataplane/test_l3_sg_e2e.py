"""Routers and security groups together, end to end: the deployment of test_l3_e2e.py
(API server, RabbitMQ, Linux bridge agents on h1 and h2, the L3 agent on h1, the outside
world at 203.0.113.1) with the Linux bridge agents' nftables firewall switched on.

An instance on h2 behind a router on h1, with a floating IP, in its project's default
security group: the outside cannot get in until an ingress rule says so, while the
instance's own traffic out (and its replies) always passes.
"""

from __future__ import annotations

import time
from typing import Any

from tests.dataplane.agent_helpers import wait_for
from tests.dataplane.l3_support import listen, next_port, peer_seen, ping_replies_from
from tests.dataplane.test_l3_e2e import (  # noqa: F401 (fixtures)
    EXT_HOST,
    Deployment,
    dep,
    deployment,
)

# read by test_l3_e2e's deployment fixture: the Linux bridge agents filter with nftables
FIREWALL_DRIVER = "nftables"
EXTERNAL_CIDR = "203.0.113.0/24"


def test_floating_ip_behind_the_default_security_group(dep: Deployment) -> None:  # noqa: F811
    api = dep.client("project-sg")
    net, subnet = dep.tenant(api, "private-sg", "10.99.11.0/24")
    router = dep.router(api, "rsg", subnet)
    vm = dep.boot(api, "l3sg", net, "h2")
    groups = api.request("GET", f"/ports/{vm.port_id}")["port"]["security_groups"]
    default = api.request("GET", "/security-groups",
                          params={"name": "default"})["security_groups"]
    assert [g["id"] for g in default] == groups, "the instance is in the default group only"
    group_id = groups[0]

    # (0) egress is allowed by the default rules: out through SNAT, the reply comes back
    seen = listen(dep.procs, dep.ext.ns)
    wait_for(lambda: peer_seen(vm.namespace, EXT_HOST, seen) == dep.gateway_ip(router),
             30, 0.2, what="instance reaches the outside through SNAT")
    assert ping_replies_from(vm.namespace, EXT_HOST)

    # (1) a floating IP: the instance goes out by it, but nothing gets in by it
    fip = dep.floating_ip(api, vm.port_id)
    address = fip["floating_ip_address"]
    dep.wait_fip_status(api, fip, "ACTIVE")
    # once the instance is seen as its floating IP, the router's DNAT for it is in place
    # too (one nft transaction), so a failed connection in is the firewall's doing
    wait_for(lambda: peer_seen(vm.namespace, EXT_HOST, seen) == address, 20, 0.1,
             what="instance goes out through its floating IP")
    assert ping_replies_from(vm.namespace, EXT_HOST)
    allowed_port = next_port()
    other_port = next_port()
    listen(dep.procs, vm.namespace, tcp_port=allowed_port)
    listen(dep.procs, vm.namespace, tcp_port=other_port)
    assert not ping_replies_from(dep.ext.ns, address), "ICMP in without a rule"
    assert peer_seen(dep.ext.ns, address, allowed_port) is None, "TCP in without a rule"
    assert peer_seen(vm.namespace, EXT_HOST, seen) == address  # still fine outbound

    # (2) ingress rules for ICMP and TCP allowed_port from the external subnet
    def rule(**attrs: Any) -> dict[str, Any]:
        return api.request("POST", "/security-group-rules", {"security_group_rule": {
            "security_group_id": group_id, "direction": "ingress", "ethertype": "IPv4",
            "remote_ip_prefix": EXTERNAL_CIDR, **attrs}})["security_group_rule"]

    t0 = time.monotonic()
    rule(protocol="icmp")
    tcp_rule = rule(protocol="tcp", port_range_min=allowed_port,
                    port_range_max=allowed_port)
    # the instance sees the real client; the connection (and the pings' replies) are
    # answered from the floating IP, else they would not complete
    wait_for(lambda: peer_seen(dep.ext.ns, address, allowed_port) == EXT_HOST, 20, 0.1,
             what="outside reaches the instance's TCP port by its floating IP")
    wait_for(lambda: ping_replies_from(dep.ext.ns, address), 20, 0.1,
             what="outside pings the floating IP")
    print(f"\ningress rules to reachability by the floating IP {time.monotonic() - t0:.2f} s")
    assert peer_seen(dep.ext.ns, address, other_port) is None, "only the rule's port opens"
    assert peer_seen(vm.namespace, EXT_HOST, seen) == address

    # (3) the TCP rule deleted: new connections from outside fail again, ICMP stays open
    t1 = time.monotonic()
    api.request("DELETE", f"/security-group-rules/{tcp_rule['id']}")
    wait_for(lambda: peer_seen(dep.ext.ns, address, allowed_port) is None, 20, 0.1,
             what="TCP from outside closed again")
    print(f"rule deletion enforced within {time.monotonic() - t1:.2f} s "
          "(includes a connect timeout)")
    assert peer_seen(dep.ext.ns, address, allowed_port) is None
    assert ping_replies_from(dep.ext.ns, address)
    assert peer_seen(vm.namespace, EXT_HOST, seen) == address
