"""The all-in-one's networks, as devstack's: a ``public`` external network on the host, a
``private`` network and a router for the demo project.

Host side (root): a veth pair. ``br-ex`` holds the public network's gateway address
172.24.4.1/24 in the host's namespace, as devstack's br-ex does; its peer ``ex-public`` is
the interface the Linux bridge agent maps for physical network ``public``
(``physical_interface_mappings = public:ex-public``), so it enslaves it to the public
network's bridge, where the routers' gateway legs are. A floating IP is then reachable from
the host's shell at once (routed via br-ex). ``neutrino up`` removes the pair when it stops
(and makes it again on the next start, where the Linux bridge agent adopts the public
network's bridge); ``neutrino host cleanup`` removes a pair left by a killed one.
"""

from __future__ import annotations

import logging
import subprocess

from neutrino.compute.client import ApiError, NeutronClient

LOG = logging.getLogger("neutrino.up")
PHYSNET = "public"
HOST_DEVICE = "br-ex"
MAPPED_DEVICE = "ex-public"
CIDR = "172.24.4.0/24"
GATEWAY = "172.24.4.1"
PRIVATE_CIDR = "10.0.0.0/26"
# devstack's default IPv4 subnet pool: subnets of /26 from 10.0.0.0/16 for
# `subnet create --use-default-subnet-pool`
POOL_NAME = "shared-default-subnetpool-v4"
POOL_PREFIX = "10.0.0.0/16"


def _ip(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["ip", *args], capture_output=True, text=True, check=False)


def ensure_host_side() -> bool:
    """br-ex (172.24.4.1/24) and its peer ex-public, up. False (logged) if it cannot be."""
    if _ip("link", "show", MAPPED_DEVICE).returncode != 0:
        if _ip("link", "show", HOST_DEVICE).returncode == 0:
            LOG.error("%s exists and is not neutrino's (no %s peer): no public network; "
                      "use --no-public or remove it", HOST_DEVICE, MAPPED_DEVICE)
            return False
        made = _ip("link", "add", HOST_DEVICE, "type", "veth", "peer", "name", MAPPED_DEVICE)
        if made.returncode != 0:
            LOG.error("cannot create %s: %s", HOST_DEVICE, made.stderr.strip())
            return False
    for args in (("link", "set", MAPPED_DEVICE, "up"), ("link", "set", HOST_DEVICE, "up")):
        _ip(*args)
    if GATEWAY not in _ip("-4", "addr", "show", "dev", HOST_DEVICE).stdout:
        added = _ip("addr", "add", f"{GATEWAY}/24", "dev", HOST_DEVICE)
        if added.returncode != 0:
            LOG.error("cannot give %s %s: %s", HOST_DEVICE, GATEWAY, added.stderr.strip())
            return False
    return True


def remove_host_side() -> bool:
    """Delete the br-ex / ex-public pair if it is ours (both ends veths: an operator's own
    br-ex, a bridge, is never touched). True if it was deleted."""
    for name in (HOST_DEVICE, MAPPED_DEVICE):
        if "veth" not in _ip("-d", "-o", "link", "show", name).stdout:
            return False
    gone = _ip("link", "delete", HOST_DEVICE)  # one end takes the other with it
    if gone.returncode != 0:
        LOG.error("cannot delete %s: %s", HOST_DEVICE, gone.stderr.strip())
        return False
    LOG.info("removed %s and %s", HOST_DEVICE, MAPPED_DEVICE)
    return True


def _named(api: NeutronClient, collection: str, name: str) -> dict | None:
    rows = api.request("GET", f"/{collection}", params={"name": name})[collection]
    return rows[0] if rows else None


def ensure_public(api: NeutronClient) -> dict:
    net = _named(api, "networks", "public")
    if net is None:
        net = api.request("POST", "/networks", {"network": {
            "name": "public", "router:external": True, "provider:network_type": "flat",
            "provider:physical_network": PHYSNET,
            # the default external network, as devstack's: auto-allocated topologies
            # (`openstack network auto allocated topology create`) get their gateway here
            "is_default": True}})["network"]
        api.request("POST", "/subnets", {"subnet": {
            "name": "public-subnet", "network_id": net["id"], "ip_version": 4,
            "cidr": CIDR, "gateway_ip": GATEWAY, "enable_dhcp": False}})
        LOG.info("made the public network %s (%s, flat on physical network %s)",
                 net["id"], CIDR, PHYSNET)
    return net


def ensure_private(tenant: NeutronClient, public: dict | None) -> None:
    """The demo project's private network, subnet and router1 (gateway on public)."""
    if _named(tenant, "networks", "private") is not None:
        return
    net = tenant.request("POST", "/networks", {"network": {"name": "private"}})["network"]
    sub = tenant.request("POST", "/subnets", {"subnet": {
        "name": "private-subnet", "network_id": net["id"], "ip_version": 4,
        "cidr": PRIVATE_CIDR}})["subnet"]
    router: dict = {"name": "router1"}
    if public is not None:
        router["external_gateway_info"] = {"network_id": public["id"]}
    rid = tenant.request("POST", "/routers", {"router": router})["router"]["id"]
    tenant.request("PUT", f"/routers/{rid}/add_router_interface", {"subnet_id": sub["id"]})
    LOG.info("made the demo project's network private (%s) and router1", PRIVATE_CIDR)


def ensure_subnetpool(api: NeutronClient) -> None:
    if _named(api, "subnetpools", POOL_NAME) is None:
        api.request("POST", "/subnetpools", {"subnetpool": {
            "name": POOL_NAME, "prefixes": [POOL_PREFIX], "default_prefixlen": 26,
            "shared": True, "is_default": True}})
        LOG.info("made the default subnet pool %s (%s)", POOL_NAME, POOL_PREFIX)


def setup(api: NeutronClient, *, public: bool, private: bool, project: str,
          subnetpool: bool = True) -> None:
    try:
        if subnetpool:
            ensure_subnetpool(api)
        net = ensure_public(api) if public else _named(api, "networks", "public")
        if private:
            ensure_private(api.as_member(project), net)
    except (ApiError, ValueError, OSError) as e:
        LOG.error("setting up the all-in-one's networks failed: %s", e)
