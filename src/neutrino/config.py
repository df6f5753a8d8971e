"""Configuration: oslo.config, with Neutron's option names and sections.

An operator's existing neutron.conf / ml2_conf.ini keep working for the concepts we share.
Options are registered on a fresh ``ConfigOpts`` per process (not a module-global), so tests
can run several differently configured servers in one interpreter.
"""

from __future__ import annotations

import os
from collections.abc import Sequence

from oslo_config import cfg

DEFAULT_STATE_PATH = "/var/lib/neutrino" if os.geteuid() == 0 else os.path.expanduser(
    "~/.local/state/neutrino"
)

# Options also accepted on the command line (``--bind-port 9697``); oslo.config reads them
# from config files too, and the command line wins.
cli_default_opts = [
    cfg.ListOpt(
        "service_plugins",
        default=["router"],
        help="Service plugins to load (entry points neutrino.service_plugins), Neutron's "
        "names: router (routers, floating IPs, external networks, L3 agent scheduling). "
        "Always loaded: rbac, dhcp_agent_scheduler, security_group, subnet_allocation, "
        "network_ip_availability, flavors, auto_allocate.",
    ),
    cfg.HostAddressOpt("bind_host", default="127.0.0.1", help="Address the API listens on."),
    cfg.PortOpt("bind_port", default=9696, help="Port the API listens on."),
    cfg.StrOpt(
        "auth_strategy",
        default="noauth",
        choices=["noauth", "keystone", "http_basic"],
        help="noauth: the caller's identity comes from X-Project-Id/X-User-Id/X-Roles "
        "headers; keystone: tokens are validated by keystonemiddleware ([keystone_authtoken]); "
        "http_basic: HTTP Basic users from http_basic_auth_user_file.",
    ),
    cfg.IntOpt("api_workers", default=1, min=1, help="Number of API server processes."),
    cfg.StrOpt("state_path", default=DEFAULT_STATE_PATH, help="Where neutrino keeps its state."),
    cfg.BoolOpt("debug", default=False, help="Log at DEBUG level."),
]

default_opts = [
    cfg.StrOpt(
        "http_basic_auth_user_file",
        help="auth_strategy = http_basic: the users file (Neutron's option), htpasswd lines "
        "with bcrypt hashes, optionally followed by :project and :role,role (default: the "
        "user's name as project, roles member,reader). Default: htpasswd in state_path.",
    ),
    cfg.IntOpt("wsgi_threads", default=16, min=1, help="Request threads per API process."),
    cfg.StrOpt(
        "base_mac",
        default="fa:16:3e:00:00:00",
        help="Base MAC address; the non-zero octets are kept, zero octets are random.",
    ),
    cfg.IntOpt("mac_generation_retries", default=16, help="Attempts to find a free MAC."),
    cfg.IntOpt(
        "global_physnet_mtu", default=1500, help="MTU of the underlying physical network."
    ),
    cfg.IntOpt("max_dns_nameservers", default=5, help="Maximum DNS nameservers per subnet."),
    cfg.IntOpt("max_subnet_host_routes", default=20, help="Maximum host routes per subnet."),
    cfg.IntOpt(
        "pagination_max_limit",
        default=-1,
        help="Largest page a list returns; -1 means no limit.",
    ),
    cfg.IntOpt("max_retries", default=20, help="Retries of a transaction on DB conflicts."),
    # agents, as Neutron's
    cfg.IntOpt(
        "agent_down_time",
        default=75,
        min=1,
        help="Seconds after an agent's last heartbeat at which it is considered dead "
        "(at least twice the agents' report_interval).",
    ),
    cfg.BoolOpt(
        "enable_new_agents",
        default=True,
        help="Agents that report for the first time start admin-up (else an admin enables "
        "them before ports are bound or networks scheduled to them).",
    ),
    cfg.IntOpt(
        "dhcp_agents_per_network",
        default=1,
        min=1,
        help="DHCP agents that serve each network with a DHCP-enabled subnet.",
    ),
    cfg.BoolOpt(
        "allow_automatic_dhcp_failover",
        default=True,
        help="Move the networks of a DHCP agent that is dead (no heartbeat for "
        "agent_down_time) to live admin-up DHCP agents, with its DHCP port.",
    ),
    # availability zones (services/availability_zones.py), as Neutron's
    cfg.ListOpt(
        "default_availability_zones",
        default=[],
        help="Availability zone hints of networks and routers created without any (each "
        "must be a zone of a DHCP, resp. L3, agent); empty: none.",
    ),
    cfg.StrOpt(
        "clock_offset_file",
        help="For tests only: seconds (read from this file, relative to state_path) by "
        "which agent liveness runs ahead of the system clock (neutrino/clock.py).",
    ),
]

# Serving limits and timeouts (Neutron's names where Neutron has the option). Requests are
# received whole by an event loop before a thread runs them, so idle and slow clients cost
# a socket and a buffer each, never a thread; these bound what each of them may cost.
serving_opts = [
    cfg.IntOpt(
        "max_request_body_size",
        default=114688,
        min=0,
        deprecated_opts=[cfg.DeprecatedOpt("max_request_body_size", group="oslo_middleware")],
        help="Largest request body in bytes (Neutron's option and default). A larger "
        "Content-Length is answered 413 before any of the body is read; a chunked body is "
        "cut off at this size with 413.",
    ),
    cfg.IntOpt(
        "max_request_header_size",
        default=65536,
        min=1024,
        help="Largest request line plus headers in bytes; larger: 431.",
    ),
    cfg.IntOpt(
        "client_socket_timeout",
        default=900,
        min=1,
        help="Seconds an idle client connection (between requests) is kept open "
        "(Neutron's option and default).",
    ),
    cfg.IntOpt(
        "client_request_timeout",
        default=60,
        min=1,
        help="Seconds a client has to send a whole request (line, headers and body) once "
        "it has started one; a slower client (slowloris) is answered 408 and disconnected.",
    ),
    cfg.BoolOpt(
        "wsgi_keep_alive",
        default=True,
        help="Keep client connections open between requests (Neutron's option); false: "
        "close after every response.",
    ),
    cfg.IntOpt(
        "max_connections",
        default=4096,
        min=16,
        help="Open client connections per API process; beyond it new connections wait in "
        "the listen backlog. The open-files limit is raised to fit.",
    ),
    cfg.IntOpt(
        "api_graceful_timeout",
        default=10,
        min=0,
        help="Seconds a stopping API process lets requests in progress finish.",
    ),
]

database_opts = [
    cfg.StrOpt(
        "connection",
        secret=True,
        help="SQLAlchemy URL; default: SQLite file neutrino.sqlite in state_path.",
    ),
    cfg.IntOpt("max_pool_size", default=10, help="Connections kept per API process."),
    cfg.IntOpt("max_overflow", default=20, help="Extra connections allowed under load."),
]

ml2_opts = [
    cfg.ListOpt(
        "type_drivers",
        default=["local", "flat", "vlan", "gre", "vxlan", "geneve"],
        help="Network type drivers to load (entry points neutrino.ml2.type_drivers).",
    ),
    cfg.ListOpt(
        "tenant_network_types",
        default=["vxlan"],
        help="Ordered network types for project networks; the next is tried when one is "
        "exhausted.",
    ),
    cfg.ListOpt(
        "mechanism_drivers",
        default=["linuxbridge", "l2population"],
        help="Mechanism drivers to load (entry points neutrino.ml2.mechanism_drivers): "
        "linuxbridge binds ports to hosts with a live Linux bridge agent, openvswitch to "
        "hosts with a live Open vSwitch agent, l2population "
        "gives agents the forwarding entries of the other hosts; logger logs every call.",
    ),
    cfg.ListOpt(
        "extension_drivers",
        default=["port_security", "port_device_profile", "port_numa_affinity_policy"],
        help="Port extension drivers to load (entry points neutrino.ml2.extension_drivers), "
        "Neutron's names: port_security (port_security_enabled, security groups and "
        "allowed address pairs of ports), port_device_profile (device_profile), "
        "port_numa_affinity_policy (numa_affinity_policy). binding:*, extra_dhcp_opts "
        "and tags are always on.",
    ),
    cfg.IntOpt("path_mtu", default=0, help="Maximum IP packet size of the overlay underlay."),
    cfg.ListOpt(
        "physical_network_mtus", default=[], help="physnet:mtu pairs overriding global MTU."
    ),
    cfg.IntOpt(
        "overlay_ip_version", default=4, choices=[4, 6], help="IP version of tunnel endpoints."
    ),
]

ml2_type_flat_opts = [
    cfg.ListOpt(
        "flat_networks",
        default=["*"],
        help="Physical networks usable for flat networks; '*' allows any.",
    ),
]
ml2_type_vlan_opts = [
    cfg.ListOpt(
        "network_vlan_ranges",
        default=[],
        help="physnet:vlan_min:vlan_max (tenant-allocatable) or physnet (provider only).",
    ),
]
ml2_type_vxlan_opts = [
    cfg.ListOpt("vni_ranges", default=["1:10000"], help="min:max VNI ranges for tenants."),
    cfg.StrOpt("vxlan_group", help="Multicast group for VXLAN; unset means unicast."),
]
ml2_type_gre_opts = [
    cfg.ListOpt("tunnel_id_ranges", default=[], help="min:max GRE ids for tenants."),
]
ml2_type_geneve_opts = [
    cfg.ListOpt("vni_ranges", default=[], help="min:max Geneve VNIs for tenants."),
    cfg.IntOpt(
        "max_header_size",
        default=30,
        help="Geneve header size including options (bytes) beyond the outer IP header.",
    ),
]

# [QUOTAS], as Neutron's: per-project limits of each resource; -1 means unlimited.
quota_opts = [
    cfg.IntOpt(
        "default_quota",
        default=-1,
        help="Default number of any resource without a quota_<resource> option allowed "
        "per project; negative means unlimited.",
    ),
    cfg.IntOpt("quota_network", default=100, help="Networks allowed per project; -1: "
               "unlimited."),
    cfg.IntOpt("quota_subnet", default=100, help="Subnets allowed per project; -1: "
               "unlimited."),
    cfg.IntOpt("quota_port", default=500, help="Ports allowed per project; -1: unlimited."),
    cfg.IntOpt("quota_router", default=10, help="Routers allowed per project; -1: "
               "unlimited."),
    cfg.IntOpt("quota_floatingip", default=50, help="Floating IPs allowed per project; -1: "
               "unlimited."),
    cfg.IntOpt("quota_security_group", default=10, help="Security groups allowed per "
               "project; -1: unlimited."),
    cfg.IntOpt("quota_security_group_rule", default=100, help="Security group rules allowed "
               "per project; -1: unlimited."),
    cfg.IntOpt("quota_rbac_policy", default=10, help="RBAC policies allowed per project; "
               "-1: unlimited."),
]


# [service_providers] (service-type; branch flavors; services/flavors/providers.py)
service_provider_opts = [
    cfg.MultiStrOpt(
        "service_provider", default=[],
        help="A service provider: <service_type>:<name>:<driver>[:default], as Neutron's "
             "(repeat for several). Shown by GET /v2.0/service-providers; a service "
             "profile's driver must be one of theirs. The L3 provider single_node "
             "(neutron.services.l3_router.service_providers.single_node.SingleNodeDriver) "
             "is always there."),
]


def register_opts(conf: cfg.ConfigOpts) -> None:
    from neutrino.bus.options import register_bus_opts

    conf.register_cli_opts(cli_default_opts)
    register_bus_opts(conf)
    conf.register_opts(default_opts)
    conf.register_opts(serving_opts)
    conf.register_opts(database_opts, group="database")
    conf.register_opts(ml2_opts, group="ml2")
    conf.register_opts(ml2_type_flat_opts, group="ml2_type_flat")
    conf.register_opts(ml2_type_vlan_opts, group="ml2_type_vlan")
    conf.register_opts(ml2_type_vxlan_opts, group="ml2_type_vxlan")
    conf.register_opts(ml2_type_gre_opts, group="ml2_type_gre")
    conf.register_opts(ml2_type_geneve_opts, group="ml2_type_geneve")
    conf.register_opts(quota_opts, group="QUOTAS")
    conf.register_opts(service_provider_opts, group="service_providers")


# shown by every command's --help: the options above are only the command-line ones
REFERENCE_EPILOG = (
    "Every option of the config files, with its default and meaning: etc/neutrino.conf.sample "
    "(server) and etc/{linuxbridge,dhcp,l3}_agent.ini.sample (agents), generated by "
    "oslo-config-generator --config-file etc/oslo-config-generator/<file>.conf.")


def make_conf(
    args: Sequence[str] = (),
    *,
    prog: str | None = None,
    overrides: dict[str, dict[str, object]] | None = None,
    default_config_files: Sequence[str] | None = (),
) -> cfg.ConfigOpts:
    """Build a parsed configuration: ``--config-file`` repeatable, later files win.

    ``overrides`` maps group ("DEFAULT" for the top level) to option values; it is how
    command-line shortcuts such as ``--bind-port`` and tests set values.
    """
    conf = cfg.ConfigOpts()
    register_opts(conf)
    conf(
        list(args),
        project="neutrino",
        prog=prog,
        default_config_files=list(default_config_files or []),
        default_config_dirs=[],
        validate_default_values=True,
        epilog=REFERENCE_EPILOG,
    )
    for group, values in (overrides or {}).items():
        for name, value in values.items():
            conf.set_override(name, value, group=None if group == "DEFAULT" else group)
    return conf


def database_url(conf: cfg.ConfigOpts) -> str:
    if conf.database.connection:
        return conf.database.connection
    return "sqlite:///" + os.path.join(conf.state_path, "neutrino.sqlite")
