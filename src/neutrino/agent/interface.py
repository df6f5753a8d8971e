"""How the DHCP and L3 agents plug their ports (Neutron's ``interface_driver``, in their
[DEFAULT] section as Neutron's):

    interface_driver = linuxbridge   # the tap end of each veth: the Linux bridge agent
                                     # puts it into the network's bridge
    interface_driver = openvswitch   # the tap end goes into br-int as an OVS port with
                                     # Neutron's external_ids; the OVS agent tags it
    [ovs]
    integration_bridge = br-int
    ovsdb_connection = unix:/var/run/openvswitch/db.sock

Either way a port is a veth pair: ``tap<id>`` in the host namespace, ``qr-``/``qg-``/``ns-``
in the router or DHCP namespace. Neutron's OVS driver moves an OVS *internal* port into
the namespace instead; with the userspace datapath of these machines (PLATFORM.md) an
internal port is a tap that ovs-vswitchd reads in its own namespace, so the veth is the
form that works with both datapaths. The OVS port carries what Neutron's OVS interface
driver sets (``external_ids: iface-id, attached-mac, iface-status``), so the OVS agent
finds it by its port id like an instance's; checksum offload is off on both ends
(the userspace datapath does not fill in checksums the kernel left to the "hardware").
"""

from __future__ import annotations

import contextlib
import logging

from oslo_config import cfg

from neutrino.agent.linux import devices, names, namespaces

LOG = logging.getLogger(__name__)

LINUXBRIDGE, OPENVSWITCH = "linuxbridge", "openvswitch"
NAMESPACE_PREFIXES = (names.ROUTER_INTERFACE_PREFIX, names.GATEWAY_INTERFACE_PREFIX,
                      names.NS_DEVICE_PREFIX)
# Neutron's names: the aliases and the class paths
DRIVERS = {
    LINUXBRIDGE: LINUXBRIDGE,
    "neutron.agent.linux.interface.BridgeInterfaceDriver": LINUXBRIDGE,
    OPENVSWITCH: OPENVSWITCH,
    "neutron.agent.linux.interface.OVSInterfaceDriver": OPENVSWITCH,
}

interface_opts = [
    cfg.StrOpt("interface_driver", default=LINUXBRIDGE,
               help="How the agent's ports are plugged: 'linuxbridge' (a veth whose tap end "
               "the Linux bridge agent attaches) or 'openvswitch' (the tap end is added to "
               "[ovs] integration_bridge with external_ids iface-id/attached-mac/"
               "iface-status, for the Open vSwitch agent to tag); Neutron's class paths "
               "are accepted."),
]
# the Open vSwitch agent's options of the same names (one definition, so a process
# running both registers them once)
ovs_interface_opts = [
    cfg.StrOpt("integration_bridge", default="br-int",
               help="The bridge every instance port is plugged into."),
    cfg.StrOpt("ovsdb_connection", default="unix:/var/run/openvswitch/db.sock",
               help="The OVSDB server of this host's Open vSwitch."),
]


def register_opts(conf: cfg.ConfigOpts) -> None:
    for opt in interface_opts:
        with contextlib.suppress(cfg.DuplicateOptError):
            conf.register_opt(opt)
    for opt in ovs_interface_opts:
        with contextlib.suppress(cfg.DuplicateOptError):
            conf.register_opt(opt, group="ovs")


def driver_name(conf: cfg.ConfigOpts) -> str:
    """The driver's alias; ValueError for one not supported."""
    name = DRIVERS.get(conf.interface_driver)
    if name is None:
        raise ValueError(f"interface_driver {conf.interface_driver!r} is not supported "
                         f"(one of {', '.join(DRIVERS)})")
    return name


class OvsInterface:
    """Plugs the tap end of a veth into br-int (as Neutron's OVSInterfaceDriver, but with
    a veth: see the module docstring)."""

    def __init__(self, bridge: str, ovsdb_connection: str | None) -> None:
        self.bridge = bridge
        self.ovsdb_connection = ovsdb_connection

    def _vsctl(self, *args: str) -> None:
        # OVSDB is reached through its unix socket, from any network namespace
        db = [f"--db={self.ovsdb_connection}"] if self.ovsdb_connection else []
        namespaces.execute(["ovs-vsctl", "--timeout=10", *db, *args], None)

    def plug(self, tap: str, device: str, *, port_id: str, mac_address: str,
             netns: str | None, host_netns: str | None) -> None:
        """``tap`` (host namespace) into the bridge as ``port_id``'s port; offloads off on
        both ends (``device`` in ``netns``)."""
        if not port_id:
            raise ValueError(f"{tap}: no port id to plug it into {self.bridge} with")
        devices.disable_tx_offload(tap, host_netns)
        devices.disable_tx_offload(device, netns)
        # a row left from an earlier tap of that name is replaced (ovs-vswitchd may hold
        # the old device), in the same transaction as the new one
        self._vsctl("--if-exists", "del-port", self.bridge, tap, "--",
                    "add-port", self.bridge, tap, "--",
                    "set", "Interface", tap, f"external_ids:iface-id={port_id}",
                    f"external_ids:attached-mac={mac_address}",
                    "external_ids:iface-status=active")

    def unplug(self, tap: str) -> None:
        self._vsctl("--if-exists", "del-port", self.bridge, tap)

    def unplug_device(self, device: str) -> None:
        """The OVS port of the veth whose namespace end is ``device`` (``qr-``/``qg-``/
        ``ns-`` + the port id's first 11 characters, as its ``tap``)."""
        tap = tap_of(device)
        if tap is not None:
            self.unplug(tap)


def tap_of(device: str) -> str | None:
    if device.startswith(NAMESPACE_PREFIXES):
        return names.TAP_PREFIX + device[3:]
    return None


def make_interface(conf: cfg.ConfigOpts) -> OvsInterface | None:
    """The plugger for ``interface_driver`` (None: linuxbridge, nothing to do beyond the
    veth)."""
    register_opts(conf)
    if driver_name(conf) != OPENVSWITCH:
        return None
    return OvsInterface(conf.ovs.integration_bridge, conf.ovs.ovsdb_connection)
