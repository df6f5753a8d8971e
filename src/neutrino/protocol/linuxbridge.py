"""``get_host_state`` for the "Linux bridge agent": its networks with their segment, its
ports and, with l2population, the other hosts' ports; the security groups of those ports
(docs/agent-protocol.md)."""

from __future__ import annotations

from neutrino.protocol.base import Envelope, Message

AGENT_TYPE = "Linux bridge agent"
ETHERTYPES = ("IPv4", "IPv6")


class FixedIp(Message, frozen=True, kw_only=True):
    subnet_id: str
    ip_address: str


class AddressPair(Message, frozen=True, kw_only=True):
    ip_address: str  # an address or a CIDR
    mac_address: str | None = None  # None: the port's


class Port(Message, frozen=True, kw_only=True):
    id: str
    mac_address: str = ""
    fixed_ips: list[FixedIp] = []
    admin_state_up: bool = True
    device_owner: str = ""
    device: str | None = None  # tap<port-id[:11]>
    # None (left out): the server has no security groups; the port is not filtered
    port_security_enabled: bool | None = None
    security_groups: list[str] | None = None
    allowed_address_pairs: list[AddressPair] = []


class L2pop(Message, frozen=True, kw_only=True):
    """The other hosts' ports on a network: remote VTEPs to flood to, MAC -> VTEP, IP ->
    MAC (ARP answered locally)."""

    flood: list[str] = []
    unicast: dict[str, str] = {}
    neigh: dict[str, str] = {}


class Network(Message, frozen=True, kw_only=True):
    id: str
    network_type: str | None = None
    physical_network: str | None = None
    segmentation_id: int | None = None
    mtu: int | None = None
    admin_state_up: bool = True
    ports: list[Port] = []
    l2pop: L2pop | None = None  # None: no l2population driver on the server


class Rule(Message, frozen=True, kw_only=True):
    id: str = ""
    direction: str
    ethertype: str = "IPv4"
    protocol: str | None = None  # a name, or a number 0-255 as a string; None: any
    port_range_min: int | None = None
    port_range_max: int | None = None
    remote_ip_prefix: str | None = None
    remote_group_id: str | None = None
    # security-groups-remote-address-group: its CIDRs are in the reply's address_groups
    # (optional: an older server never sends it)
    remote_address_group_id: str | None = None


class SecurityGroup(Message, frozen=True, kw_only=True):
    rules: list[Rule] = []
    # false: the group's rules are enforced without connection tracking (both directions
    # opened by rules); absent from an older server: stateful, as before
    stateful: bool = True


# group id -> ethertype ("IPv4"/"IPv6") -> member addresses or CIDRs
RemoteGroups = dict[str, dict[str, list[str]]]
# address group id -> ethertype -> its CIDRs (networks), sorted
AddressGroups = dict[str, dict[str, list[str]]]


class SecurityGroupsState(Envelope, frozen=True, kw_only=True):
    """The reply to get_host_state with ``security_group_ids``: the firewall's share."""

    host: str
    security_groups: dict[str, SecurityGroup] = {}
    remote_groups: RemoteGroups = {}
    # every address group a listed rule names (optional: absent from an older server)
    address_groups: AddressGroups = {}


class HostState(SecurityGroupsState, frozen=True, kw_only=True):
    networks: list[Network] = []
