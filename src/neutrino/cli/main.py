"""Command line: ``neutrino up | server | db upgrade|current`` and ``neutrino-server``.

Options after the sub-command are oslo.config's: ``--config-file`` (repeatable, later files
win), ``--config-dir``, and the server options that are also accepted in [DEFAULT]:
``--bind-host``, ``--bind-port``, ``--api-workers``, ``--state-path``, ``--debug``.
"""

from __future__ import annotations

import logging
import os
import sys
import threading
from collections.abc import Sequence

from oslo_config import cfg

from neutrino import config
from neutrino.cli import allinone_net

USAGE = """usage: neutrino <command> [options]

commands:
  up            all-in-one on this host: API server on an embedded SQLite database and,
                as root, the host's agents; users admin/demo/alt_demo (http_basic) and a
                clouds.yaml in the state path; as root devstack's public network on
                br-ex (172.24.4.1) and demo's private network and router1
                and a default subnet pool (--auth-strategy noauth, --no-agents,
                --no-public, --no-private, --no-subnetpool)
  server        the API server only (same as neutrino-server)
  db upgrade    bring the database schema to the latest version
  db current    print the schema version of the database
  agent         a host agent: agent --role linuxbridge|dhcp|l3 (same as neutrino-agent)
  instance      instances as namespaces: instance boot|delete|list (the Nova side)
  lab           lab up --hosts N | lab down: simulated hosts (namespaces) with agents
  host cleanup  remove what the agents made on this host (namespaces, devices, tables)

options (any command): --config-file FILE (repeatable), --bind-host, --bind-port,
  --api-workers, --state-path, --debug; 'neutrino <command> --help' lists them all.
"""


def _setup_logging(conf: cfg.ConfigOpts) -> None:
    logging.basicConfig(
        level=logging.DEBUG if conf.debug else logging.INFO,
        format="%(asctime)s %(process)d %(levelname)s %(name)s: %(message)s",
    )


def _dashes_to_underscores(args: Sequence[str]) -> list[str]:
    """oslo.config spells CLI options as in the config file (--bind_port); accept the
    conventional --bind-port too."""
    names = {"--" + o.dest.replace("_", "-"): "--" + o.dest for o in config.cli_default_opts}
    out = []
    for a in args:
        key, sep, value = a.partition("=")
        out.append(names.get(key, key) + sep + value)
    return out


def _conf(args: Sequence[str], prog: str) -> cfg.ConfigOpts:
    conf = config.make_conf(_dashes_to_underscores(args), prog=prog)
    _setup_logging(conf)
    return conf


def server_main(argv: Sequence[str] | None = None) -> int:
    from neutrino.api.server import serve

    conf = _conf(sys.argv[1:] if argv is None else argv, "neutrino-server")
    serve(conf)
    return 0


def _endpoint(conf: cfg.ConfigOpts) -> str:
    host = conf.bind_host
    if host in ("0.0.0.0", "::", ""):
        host = "127.0.0.1"  # listening everywhere: this host reaches it on loopback
    return f"http://[{host}]:{conf.bind_port}/" if ":" in host else \
        f"http://{host}:{conf.bind_port}/"


def _cloud_users(conf: cfg.ConfigOpts, log: logging.Logger) -> None:
    """http_basic: the all-in-one's admin, demo and alt_demo users and their clouds.yaml."""
    from neutrino.api.auth import users_file
    from neutrino.cli import cloud_users

    made = cloud_users.ensure(conf.state_path, users_file(conf), _endpoint(conf))
    log.info("users admin, demo, alt_demo (projects of the same names) in %s; to use them:"
             "\n    export OS_CLIENT_CONFIG_FILE=%s\n    openstack --os-cloud demo network list",
             made.users_file, made.clouds)


ALLINONE_ROLES = ("linuxbridge", "dhcp", "l3")
ALLINONE_OVS_ROLES = ("openvswitch", "dhcp", "l3")


def allinone_roles(conf: cfg.ConfigOpts) -> tuple[str, ...]:
    """The agents ``neutrino up`` runs: the Open vSwitch agent when the server's
    ``[ml2] mechanism_drivers`` has openvswitch and not linuxbridge (as a devstack
    with ``Q_AGENT=openvswitch``), else the Linux bridge agent; DHCP and L3 either way."""
    mechs = [m.strip() for m in conf.ml2.mechanism_drivers]
    return ALLINONE_OVS_ROLES if "openvswitch" in mechs and "linuxbridge" not in mechs \
        else ALLINONE_ROLES


def ovs_allinone_defaults(conf: cfg.ConfigOpts) -> dict[str, dict[str, str]]:
    """For an all-in-one on Open vSwitch (the roles registered): the DHCP and L3 agents
    plug into br-int (interface_driver openvswitch), tenant VXLAN networks are built (a
    single host: its endpoint 127.0.0.1 unless [ovs] local_ip says otherwise). Set as
    defaults here; returned as config sections for agents in their own processes."""
    conf.set_default("interface_driver", "openvswitch")
    out: dict[str, dict[str, str]] = {"DEFAULT": {"interface_driver":
                                                  conf.interface_driver}}
    if not conf.AGENT.tunnel_types:
        conf.set_default("tunnel_types", ["vxlan"], group="AGENT")
        out["agent"] = {"tunnel_types": "vxlan"}
    if not conf.ovs.local_ip:
        conf.set_default("local_ip", "127.0.0.1", group="ovs")
        out["ovs"] = {"local_ip": "127.0.0.1"}
    return out


def up(args: Sequence[str]) -> int:
    """The all-in-one: API server plus, as root, the Linux bridge, DHCP and L3 agents of this
    host: in the same process on the in-process bus, or, when transport_url names RabbitMQ,
    each in its own process, supervised (cli/supervisor.py).
    Without root, or with --no-agents, only the control plane runs, and it says so.

    Authentication defaults to http_basic here (users admin, demo, alt_demo and a
    clouds.yaml in state_path); ``--auth-strategy noauth`` (or the config file) keeps the
    header-based identity."""
    from neutrino.api.server import serve
    from neutrino.cli.agent import ROLES

    flags = {"--no-agents", "--no-public", "--no-private", "--no-subnetpool"}
    given = flags & set(args)
    args = [a for a in args if a not in flags]
    no_agents = "--no-agents" in given
    conf = _conf(args, "neutrino up")
    conf.set_default("auth_strategy", "http_basic")
    # one L2 agent: Open vSwitch or Linux bridge, as mechanism_drivers say
    roles = {r: ROLES[r] for r in allinone_roles(conf)}
    for register, _make in roles.values():
        register(conf)
    on_ovs = "openvswitch" in roles
    ovs_sections = ovs_allinone_defaults(conf) if on_ovs else {}
    log = logging.getLogger("neutrino.up")
    log.info("state in %s, database %s", conf.state_path, config.database_url(conf))
    if conf.auth_strategy == "http_basic":
        _cloud_users(conf, log)
    else:
        log.info("auth_strategy = %s", conf.auth_strategy)
    in_process = not conf.transport_url or conf.transport_url.startswith("inprocess:")
    if in_process and conf.api_workers > 1:
        # the in-process bus reaches only this process: agents and API must share it
        log.warning("api_workers=%d needs transport_url (RabbitMQ) to reach the agents; "
                    "serving with one API process", conf.api_workers)
        conf.set_override("api_workers", 1)
    agents: list = []  # agents in this process, or their supervisor
    public_ready: list[bool] = []

    def setup_networks() -> None:
        """devstack's public (as root, host side made) and the demo project's private
        network and router; in a thread: the API answers only once on_ready returned."""
        from neutrino.cli import cloud_users
        from neutrino.compute.client import NeutronClient

        found = cloud_users.load(os.path.join(conf.state_path, cloud_users.CREDENTIALS)) \
            if conf.auth_strategy == "http_basic" else None
        if found:
            users = found["users"]
            assert isinstance(users, dict)
            api = NeutronClient(_endpoint(conf), basic=("admin", users["admin"]["password"]),
                                project_users={u["project"]: (n, u["password"])
                                               for n, u in users.items()})
        else:
            api = NeutronClient(_endpoint(conf))
        allinone_net.setup(api, public=bool(public_ready),
                           private="--no-private" not in given, project="demo",
                           subnetpool="--no-subnetpool" not in given)

    def start_all() -> None:
        start_agents()
        threading.Thread(target=setup_networks, name="allinone-networks", daemon=True).start()

    def start_agents() -> None:
        if no_agents:
            log.info("--no-agents: control plane only, no host networking is programmed")
            return
        if os.geteuid() != 0:
            log.warning("not running as root: control plane only, no host networking is "
                        "programmed (ports stay unbound)")
            return
        if on_ovs:
            # the operator's Open vSwitch (ovsdb-server and ovs-vswitchd running); the
            # public network needs its physical network in [ovs] bridge_mappings
            if allinone_net.PHYSNET in dict(m.split(":", 1) for m in conf.ovs.bridge_mappings
                                            if ":" in m):
                public_ready.append(True)
            else:
                log.info("Open vSwitch: no public network (map physical network %r to a "
                         "bridge in [ovs] bridge_mappings)", allinone_net.PHYSNET)
        elif conf.vxlan.enable_vxlan and not conf.vxlan.local_ip:
            # one host: its VXLAN devices need an endpoint but never reach another one
            conf.set_override("local_ip", "127.0.0.1", group="vxlan")
            log.info("single host: VXLAN endpoint 127.0.0.1 ([vxlan] local_ip unset)")
        mappings = [] if on_ovs else list(conf.linux_bridge.physical_interface_mappings)
        if not on_ovs and "--no-public" not in given and not any(
                m.startswith(allinone_net.PHYSNET + ":") for m in mappings) \
                and allinone_net.ensure_host_side():
            mappings.append(f"{allinone_net.PHYSNET}:{allinone_net.MAPPED_DEVICE}")
            conf.set_override("physical_interface_mappings", mappings, group="linux_bridge")
            public_ready.append(True)
        if not in_process:
            # a bus between processes: each agent its own process, supervised
            from neutrino.cli.supervisor import AgentSupervisor, args_for_agents

            local_ip = None if on_ovs else (
                conf.vxlan.local_ip if conf.vxlan.enable_vxlan else None)
            supervisor = AgentSupervisor(
                list(roles), args_for_agents(args, conf.state_path, local_ip, mappings,
                                             ovs_sections),
                conf.state_path)
            supervisor.start()
            agents.append(supervisor)
            return
        for role, (_register, make) in roles.items():
            try:
                agent = make(conf)
            except ValueError as e:
                log.error("%s agent not started, invalid configuration: %s", role, e)
                continue
            agent.start()
            agents.append(agent)
            log.info("%s agent running for host %s", role, conf.host)

    try:
        serve(conf, on_ready=start_all)
    finally:
        for agent in agents:
            agent.stop()
        if public_ready:  # ours, made at start: no br-ex is left behind
            allinone_net.remove_host_side()
    return 0


def db_command(args: Sequence[str]) -> int:
    from neutrino.api.factory import open_database
    from neutrino.db import migrate

    if not args or args[0] not in ("upgrade", "current"):
        print("usage: neutrino db upgrade|current [--config-file FILE]", file=sys.stderr)
        return 2
    conf = _conf(args[1:], f"neutrino db {args[0]}")
    db = open_database(conf)
    try:
        if args[0] == "upgrade":
            migrate.upgrade(db.engine)
            from neutrino.core.plugin import Ml2Plugin

            Ml2Plugin(conf, db).start()
            print(f"database at revision {migrate.current(db.engine)}")
        else:
            print(migrate.current(db.engine) or "empty")
    finally:
        db.dispose()
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    if not args or args[0] in ("-h", "--help", "help"):
        print(USAGE)
        return 0 if args else 2
    command, rest = args[0], args[1:]
    if command == "up":
        return up(rest)
    if command == "server":
        return server_main(rest)
    if command == "db":
        return db_command(rest)
    if command == "agent":
        from neutrino.cli.agent import agent_main

        return agent_main(rest)
    if command == "instance":
        from neutrino.cli.instance import instance_main

        return instance_main(rest)
    if command == "host":
        from neutrino.cli.cleanup import host_main

        return host_main(rest)
    if command == "lab":
        from neutrino.cli.lab import lab_main

        return lab_main(rest)
    print(f"neutrino: unknown command {command!r}\n\n{USAGE}", file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main())
