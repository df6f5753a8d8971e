"""Choosing an address for a test to ask for by hand.

The server draws automatic addresses (ports, router gateways, floating IPs) at random over
a subnet's pools, so a hard-coded address asked for after such allocations on the same
subnet is already taken now and then (IpAddressAlreadyAllocated, about once in 250 runs
per earlier allocation). ``unallocated`` gives instead the first address from a preferred
one on that no port of the subnet holds: the same address on almost every run, never a
taken one.
"""

from __future__ import annotations

import ipaddress
from urllib.parse import quote

from tests.support.server import Server


def allocated(server: Server, subnet_id: str) -> set[str]:
    """Every address held on the subnet, as the admin lists them (router and floating IP
    ports included)."""
    query = quote(f"subnet_id={subnet_id}")
    status, body = server.request("GET", f"/v2.0/ports?fixed_ips={query}&fields=fixed_ips")
    assert status == 200, body
    return {ip["ip_address"] for port in body["ports"] for ip in port["fixed_ips"]
            if ip["subnet_id"] == subnet_id}


def unallocated(server: Server, subnet_id: str, preferred: str) -> str:
    """``preferred`` if no port of the subnet holds it, else the next address up (within
    the subnet, never its gateway or broadcast address) that none holds."""
    status, body = server.request("GET", f"/v2.0/subnets/{subnet_id}")
    assert status == 200, body
    net = ipaddress.ip_network(body["subnet"]["cidr"])
    taken = allocated(server, subnet_id) | {body["subnet"]["gateway_ip"]}
    address = ipaddress.ip_address(preferred)
    assert address in net, (preferred, str(net))
    while str(address) in taken:
        address += 1
        assert address < net.broadcast_address, f"no free address of {net} above {preferred}"
    return str(address)
