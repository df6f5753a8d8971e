"""The compute side (what Nova and os-vif do): an instance is a network namespace.

    api = NeutronClient("http://127.0.0.1:9696")
    vm = boot(api, "vm1", network_id, "compute1")          # port, binding, plug, DHCP
    delete(api, "vm1")                                      # unplug, port deleted

``boot`` creates the instance's port through the API (``device_owner`` compute:nova,
``device_id`` the instance uuid, ``binding:host_id`` the host), waits for the port to be
bound to a Linux bridge (``binding:vif_type`` "bridge"), then plugs it: a veth whose host
end is ``tap<port-id[:11]>`` in the host's namespace (where the host's L2 agent finds it
and puts it into the network's bridge) and whose other end is ``eth0`` of the instance's
namespace, with the port's MAC and the network's MTU. The address comes from DHCP (busybox
``udhcpc``; the DHCP agent serves it) or, with ``dhcp=False``, is set from the port's
fixed IPs.

Nothing is kept outside the API and the kernel: the port (name = instance name,
device_id = instance id) is the instance's record, its namespace is derived from its name.
"""

from __future__ import annotations

import builtins
import contextlib
import ipaddress
import logging
import os
import shutil
import signal
import stat
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from neutrino.agent.linux import devices, names, namespaces
from neutrino.agent.linux.errors import LinuxNetError
from neutrino.compute.client import ApiError, NeutronClient
from neutrino.constants import DEVICE_OWNER_COMPUTE_NOVA

LOG = logging.getLogger(__name__)

DEVICE_OWNER = DEVICE_OWNER_COMPUTE_NOVA
VIF_TYPE_BRIDGE = "bridge"
VIF_TYPE_OVS = "ovs"  # plugged into vif_details bridge_name, as os-vif does
BINDING_FAILED = "binding_failed"
NAMESPACE_PREFIX = "inst-"
INSTANCE_DEV = "eth0"
NETNS_ETC = Path("/etc/netns")
SCRIPT_DIR = Path("/run/neutrino")
SCRIPT_NAME = "udhcpc-action.sh"

# busybox udhcpc action script. udhcpc exports ip, mask (prefix length), router, dns,
# domain, mtu, staticroutes ("net/len gw ..."); RFC 3442: with classless static routes the
# router option is ignored. resolv.conf is written only when the namespace has its own
# (/etc/netns/<ns>/resolv.conf, bind-mounted by `ip netns exec`), never the host's.
UDHCPC_SCRIPT = """#!/bin/sh
# udhcpc action script of neutrino.compute.instance
case "$1" in
  deconfig)
    ip -4 addr flush dev "$interface"
    ip link set dev "$interface" up
    ;;
  bound|renew)
    ip -4 addr flush dev "$interface"
    ip addr add "$ip/${mask:-24}" dev "$interface"
    if [ -n "$mtu" ]; then ip link set dev "$interface" mtu "$mtu"; fi
    if [ -n "$staticroutes" ]; then
      set -- $staticroutes
      while [ $# -ge 2 ]; do
        if [ "$2" = "0.0.0.0" ]; then
          ip route replace "$1" dev "$interface"
        else
          ip route replace "$1" via "$2" dev "$interface"
        fi
        shift 2
      done
    elif [ -n "$router" ]; then
      for r in $router; do
        ip route replace default via "$r" dev "$interface"
        break
      done
    fi
    if [ -n "$NEUTRINO_RESOLV_CONF" ]; then
      : > "$NEUTRINO_RESOLV_CONF"
      if [ -n "$domain" ]; then echo "search $domain" >> "$NEUTRINO_RESOLV_CONF"; fi
      for d in $dns; do echo "nameserver $d" >> "$NEUTRINO_RESOLV_CONF"; done
    fi
    ;;
esac
exit 0
"""


class BootError(Exception):
    """The instance could not be booted; nothing of it is left behind."""


@dataclass
class Instance:
    name: str
    id: str
    port_id: str
    network_id: str
    host: str
    namespace: str
    mac_address: str
    fixed_ips: list[str] = field(default_factory=list)  # "ADDR/PREFIXLEN" once configured
    mtu: int = 1500
    status: str = ""

    @property
    def tap(self) -> str:
        return names.tap_name(self.port_id)

    @property
    def ip(self) -> str:
        """The first address (without prefix length)."""
        return self.fixed_ips[0].split("/")[0] if self.fixed_ips else ""


def instance_namespace(name: str, prefix: str = NAMESPACE_PREFIX) -> str:
    if not name or "/" in name or name.startswith("."):
        raise ValueError(f"invalid instance name {name!r}")
    return prefix + name


def _client(api: NeutronClient | str) -> NeutronClient:
    return api if isinstance(api, NeutronClient) else NeutronClient(api)


# --- boot ----------------------------------------------------------------------------------
def boot(api: NeutronClient | str, name: str, network_id: str, host: str, *,
         host_namespace: str | None = None, namespace: str | None = None,
         dhcp: bool = True, project_id: str | None = None, timeout: float = 60.0,
         dhcp_timeout: float = 30.0, wait_active: bool = True,
         ovsdb_connection: str | None = None) -> Instance:
    """Create, bind and plug an instance's port; configure its address. See the module
    docstring. On any failure what was created is removed again and BootError raised.

    ``wait_active``: as Nova waits for the network-vif-plugged event before it starts the
    guest, wait until the port is ACTIVE (the L2 agent wired the tap and, on a network with
    DHCP, the DHCP agent has its entry) before the guest's first DHCP request, so it is
    answered at once. ``timeout`` bounds the binding and this wait, each.
    ``ovsdb_connection``: the host's OVSDB (for ports bound ``ovs``; unset: ovs-vsctl's
    default)."""
    client = _client(api)
    ns = namespace or instance_namespace(name)
    if namespaces.namespace_exists(ns):
        # Checked before anything is created, so the failure path below never tears down
        # the running instance of that name.
        raise BootError(f"instance {name} exists (namespace {ns}); delete it first")
    # As Nova does: the port is created by the tenant (it may only use networks it can
    # see), then bound to the host by the service identity (binding:host_id is admin-only).
    tenant = client.as_member(project_id) if project_id and not client.token else client
    try:
        net = tenant.find_network(network_id)
    except ApiError as e:
        raise BootError(f"instance {name}: network {network_id}: {e}") from e
    instance_id = str(uuid.uuid4())
    attrs: dict[str, Any] = {"network_id": net["id"], "name": name,
                             "device_owner": DEVICE_OWNER, "device_id": instance_id}
    try:
        port = tenant.create_port(**attrs)
    except ApiError as e:
        raise BootError(f"instance {name}: creating its port failed: {e}") from e
    try:
        port = client.update_port(port["id"], **{"binding:host_id": host})
    except ApiError as e:
        tenant.delete_port(port["id"])
        raise BootError(f"instance {name}: binding its port to {host} failed: {e}") from e
    try:
        port = _wait_bound(client, port, host, timeout)
        mtu = int(net.get("mtu") or 1500)
        _plug(port, ns, host_namespace, mtu, ovsdb_connection)
        if wait_active:
            port = _wait_active(client, port, host, timeout)
        cidrs = _dhcp(ns, name, dhcp_timeout) if dhcp else _configure_static(client, port, ns)
    except BaseException as e:
        _unplug(port["id"], ns, host_namespace, ovsdb_connection)
        try:
            client.delete_port(port["id"])
        except Exception:
            LOG.exception("instance %s: deleting port %s after a failed boot failed",
                          name, port["id"])
        if isinstance(e, BootError):
            raise
        if isinstance(e, Exception):
            raise BootError(f"instance {name}: {e}") from e
        raise
    return Instance(name=name, id=instance_id, port_id=port["id"], network_id=net["id"],
                    host=host, namespace=ns, mac_address=port["mac_address"],
                    fixed_ips=cidrs, mtu=mtu, status=port.get("status", ""))


def _wait_bound(client: NeutronClient, port: dict[str, Any], host: str,
                timeout: float) -> dict[str, Any]:
    def settled(p: dict[str, Any]) -> bool:
        return p.get("binding:vif_type") not in (None, "", "unbound")

    if "binding:vif_type" not in port:
        raise BootError("the server does not report binding:vif_type (port binding "
                        "extension missing): cannot plug the port")
    try:
        port = client.wait_port(port["id"], settled, timeout) if not settled(port) else port
    except TimeoutError as e:
        raise BootError(f"port {port['id']} was not bound to host {host}: {e}") from e
    vif = port.get("binding:vif_type")
    if vif == BINDING_FAILED:
        raise BootError(f"binding port {port['id']} to host {host} failed: is a Linux bridge "
                        "agent alive on that host, with the network's type (and physical "
                        "network) configured?")
    if vif not in (VIF_TYPE_BRIDGE, VIF_TYPE_OVS):
        raise BootError(f"port {port['id']} is bound with vif_type {vif!r}; this compute "
                        f"driver plugs {VIF_TYPE_BRIDGE!r} and {VIF_TYPE_OVS!r} only")
    return port


def _wait_active(client: NeutronClient, port: dict[str, Any], host: str,
                 timeout: float) -> dict[str, Any]:
    try:
        return client.wait_port(port["id"], lambda p: p.get("status") == "ACTIVE", timeout,
                                interval=0.05)
    except TimeoutError as e:
        raise BootError(f"port {port['id']} did not become ACTIVE (the L2 agent of host "
                        f"{host} did not wire it, or the DHCP agent is not ready): {e}"
                        ) from e


def _plug(port: dict[str, Any], ns: str, host_namespace: str | None, mtu: int,
          ovsdb_connection: str | None = None) -> None:
    tap = names.tap_name(port["id"])
    namespaces.create_namespace(ns)
    etc = NETNS_ETC / ns
    etc.mkdir(parents=True, exist_ok=True)
    (etc / "resolv.conf").touch()
    devices.ensure_veth(tap, INSTANCE_DEV, peer_netns=ns, mtu=mtu, netns=host_namespace,
                        up=False)
    devices.set_mac_address(INSTANCE_DEV, port["mac_address"], netns=ns)
    devices.set_up(INSTANCE_DEV, netns=ns)
    devices.set_up(tap, netns=host_namespace)
    if port.get("binding:vif_type") == VIF_TYPE_OVS:
        _plug_ovs(port, tap, ns, host_namespace, ovsdb_connection)


def _vsctl(ovsdb_connection: str | None, *args: str) -> None:
    db = [f"--db={ovsdb_connection}"] if ovsdb_connection else []
    namespaces.execute(["ovs-vsctl", "--timeout=10", *db, *args], None)


def _plug_ovs(port: dict[str, Any], tap: str, ns: str, host_namespace: str | None,
              ovsdb_connection: str | None) -> None:
    """The tap straight into the integration bridge (no hybrid plug), with the
    external_ids os-vif sets, by which the OVS agent finds the port. Both veth ends send
    with checksums filled in: OVS's userspace datapath never fills them (PLATFORM.md)."""
    details = port.get("binding:vif_details") or {}
    bridge = details.get("bridge_name") or "br-int"
    devices.disable_tx_offload(INSTANCE_DEV, ns)
    devices.disable_tx_offload(tap, host_namespace)
    _vsctl(ovsdb_connection, "--may-exist", "add-port", bridge, tap, "--",
           "set", "Interface", tap,
           f"external_ids:iface-id={port['id']}",
           f"external_ids:attached-mac={port['mac_address']}",
           "external_ids:iface-status=active",
           f"external_ids:vm-uuid={port.get('device_id', '')}")


def _configure_static(client: NeutronClient, port: dict[str, Any], ns: str) -> list[str]:
    cidrs = []
    gateway_set = False
    for fip in port.get("fixed_ips") or ():
        subnet = client.show_subnet(fip["subnet_id"])
        prefix = ipaddress.ip_network(subnet["cidr"]).prefixlen
        cidr = f"{fip['ip_address']}/{prefix}"
        devices.add_address(INSTANCE_DEV, cidr, netns=ns)
        cidrs.append(cidr)
        gw = subnet.get("gateway_ip")
        if gw and subnet.get("ip_version", 4) == 4 and not gateway_set:
            devices.add_route("default", via=gw, dev=INSTANCE_DEV, netns=ns)
            gateway_set = True
    return cidrs


def _udhcpc() -> list[str]:
    if shutil.which("udhcpc"):
        return ["udhcpc"]
    if shutil.which("busybox"):
        return ["busybox", "udhcpc"]
    raise BootError("no DHCP client: install busybox (apt: busybox) or udhcpc, or boot "
                    "with dhcp=False")


def _action_script() -> str:
    path = SCRIPT_DIR / SCRIPT_NAME
    if not path.exists() or path.read_text() != UDHCPC_SCRIPT:
        SCRIPT_DIR.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(f".{os.getpid()}.tmp")
        tmp.write_text(UDHCPC_SCRIPT)
        tmp.chmod(stat.S_IRWXU | stat.S_IRGRP | stat.S_IXGRP | stat.S_IROTH | stat.S_IXOTH)
        tmp.replace(path)
    return str(path)


def _dhcp(ns: str, name: str, timeout: float) -> list[str]:
    """One DHCP exchange in the instance (udhcpc -q: configure, then exit)."""
    tries = max(1, int(timeout))
    cmd = [*_udhcpc(), "-i", INSTANCE_DEV, "-f", "-q", "-n", "-t", str(tries), "-T", "1",
           "-A", "1", "-s", _action_script(), "-O", "mtu", "-O", "staticroutes",
           "-x", f"hostname:{_hostname(name)}"]
    env = dict(os.environ)
    if (NETNS_ETC / ns / "resolv.conf").exists():
        env["NEUTRINO_RESOLV_CONF"] = "/etc/resolv.conf"
    proc = namespaces.execute(cmd, ns, check=False, timeout=timeout + 10, env=env)
    if proc.returncode != 0:
        raise BootError(f"instance {name}: no DHCP lease within {tries} tries "
                        f"(is a DHCP agent serving the network?): "
                        f"{(proc.stderr or proc.stdout).strip()[-300:]}")
    return devices.list_addresses(INSTANCE_DEV, ns, family=2)


def _hostname(name: str) -> str:
    clean = "".join(c if c.isalnum() or c == "-" else "-" for c in name).strip("-")
    return clean[:63] or "instance"


# --- delete --------------------------------------------------------------------------------
def _unplug(port_id: str | None, ns: str, host_namespace: str | None,
            ovsdb_connection: str | None = None) -> None:
    """Stop what runs in the instance, delete its veth and namespace (all idempotent);
    with ``ovsdb_connection``, its OVS port too."""
    if namespaces.namespace_exists(ns):
        proc = namespaces.execute(["ip", "netns", "pids", ns], None, check=False)
        for pid in proc.stdout.split():
            with contextlib.suppress(ProcessLookupError, ValueError):
                os.kill(int(pid), signal.SIGKILL)
    if port_id and ovsdb_connection:
        try:
            _vsctl(ovsdb_connection, "--if-exists", "del-port", names.tap_name(port_id))
        except LinuxNetError as e:
            LOG.warning("deleting the OVS port of port %s: %s", port_id, e)
    if port_id:
        try:
            devices.delete_device(names.tap_name(port_id), netns=host_namespace)
        except LinuxNetError as e:
            LOG.warning("deleting tap of port %s: %s", port_id, e)
    namespaces.delete_namespace(ns)
    shutil.rmtree(NETNS_ETC / ns, ignore_errors=True)


def delete(api: NeutronClient | str, name: str, *, host_namespace: str | None = None,
           namespace: str | None = None, ovsdb_connection: str | None = None) -> bool:
    """Unplug instance ``name`` and delete its port(s); True if anything existed."""
    client = _client(api)
    ns = namespace or instance_namespace(name)
    ports = client.list_ports(device_owner=DEVICE_OWNER, name=name)
    existed = namespaces.namespace_exists(ns) or bool(ports)
    if not ports:
        _unplug(None, ns, host_namespace)
    for port in ports:
        _unplug(port["id"], ns, host_namespace, ovsdb_connection)
        client.delete_port(port["id"])
    return existed


def list_instances(api: NeutronClient | str, *,
                   namespace_prefix: str = NAMESPACE_PREFIX) -> builtins.list[Instance]:
    """The instances the API knows (ports owned by compute:nova), by name."""
    client = _client(api)
    out = []
    for port in client.list_ports(device_owner=DEVICE_OWNER):
        out.append(Instance(
            name=port.get("name") or port["device_id"], id=port.get("device_id", ""),
            port_id=port["id"], network_id=port["network_id"],
            host=port.get("binding:host_id") or "",
            namespace=namespace_prefix + (port.get("name") or port["device_id"]),
            mac_address=port["mac_address"],
            fixed_ips=[f["ip_address"] for f in port.get("fixed_ips") or ()],
            status=port.get("status", "")))
    return sorted(out, key=lambda i: i.name)


list = list_instances  # the brief's name: instance.list(api)
