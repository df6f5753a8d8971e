"""``neutrino agent --role ROLE [--config-file FILE ...]`` (also ``neutrino-agent``).

Runs one host agent until SIGTERM/SIGINT. Roles: ``linuxbridge``, ``openvswitch``, ``dhcp``,
``l3``. The agent's options are registered by its module before the configuration files are
read, so a file written for Neutron's agent (same sections, same option names) works.
"""

from __future__ import annotations

import logging
import os
import signal
import sys
import threading
from collections.abc import Callable, Sequence

from oslo_config import cfg

from neutrino import config

USAGE = """usage: neutrino agent --role ROLE [--config-file FILE ...] [--debug]

roles:
  linuxbridge   Linux bridge L2 agent: bridges, VXLAN with l2population, flat/vlan
  openvswitch   Open vSwitch L2 agent: br-int/br-tun, tunnels with l2population, flat/vlan
  dhcp          DHCP agent: dnsmasq per network in qdhcp- namespaces
  l3            L3 agent: routers in qrouter- namespaces, SNAT and floating IPs (nftables)

options: every option of an agent's config file, with its default and meaning, is in
  etc/linuxbridge_agent.ini.sample, etc/dhcp_agent.ini.sample, etc/l3_agent.ini.sample
  (oslo-config-generator --config-file etc/oslo-config-generator/<role>_agent.conf)
"""


def _linuxbridge(conf: cfg.ConfigOpts):  # type: ignore[no-untyped-def]
    from neutrino.agent.l2 import linuxbridge

    return linuxbridge.make_agent(conf)


def _register_linuxbridge(conf: cfg.ConfigOpts) -> None:
    from neutrino.agent.l2 import linuxbridge

    linuxbridge.register_opts(conf)


def _openvswitch(conf: cfg.ConfigOpts):  # type: ignore[no-untyped-def]
    from neutrino.agent.ovs import agent

    return agent.make_agent(conf)


def _register_openvswitch(conf: cfg.ConfigOpts) -> None:
    from neutrino.agent.ovs import agent

    agent.register_opts(conf)


def _dhcp(conf: cfg.ConfigOpts):  # type: ignore[no-untyped-def]
    from neutrino.agent.dhcp import agent

    return agent.make_agent(conf)


def _register_dhcp(conf: cfg.ConfigOpts) -> None:
    from neutrino.agent.dhcp import agent

    agent.register_opts(conf)


def _l3(conf: cfg.ConfigOpts):  # type: ignore[no-untyped-def]
    from neutrino.agent.l3 import agent

    return agent.make_agent(conf)


def _register_l3(conf: cfg.ConfigOpts) -> None:
    from neutrino.agent.l3 import agent

    agent.register_opts(conf)


ROLES: dict[str, tuple[Callable[[cfg.ConfigOpts], None], Callable]] = {
    "linuxbridge": (_register_linuxbridge, _linuxbridge),
    "openvswitch": (_register_openvswitch, _openvswitch),
    "dhcp": (_register_dhcp, _dhcp),
    "l3": (_register_l3, _l3),
}


def split_role(args: Sequence[str]) -> tuple[str | None, list[str]]:
    """Take ``--role ROLE`` / ``--role=ROLE`` out of ``args``."""
    role = None
    rest: list[str] = []
    it = iter(args)
    for a in it:
        if a == "--role":
            role = next(it, None)
        elif a.startswith("--role="):
            role = a.split("=", 1)[1]
        else:
            rest.append(a)
    return role, rest


def agent_main(argv: Sequence[str] | None = None) -> int:
    from neutrino.cli.main import _dashes_to_underscores, _setup_logging

    args = list(sys.argv[1:] if argv is None else argv)
    if any(a in ("-h", "--help") for a in args):
        print(USAGE)
        return 0
    role, rest = split_role(args)
    if role not in ROLES:
        print(f"neutrino agent: --role must be one of {', '.join(ROLES)}\n\n{USAGE}",
              file=sys.stderr)
        return 2
    register, make = ROLES[role]
    conf = config.make_conf(_dashes_to_underscores(rest), prog=f"neutrino-agent ({role})")
    register(conf)
    _setup_logging(conf)
    log = logging.getLogger("neutrino.agent")
    try:
        agent = make(conf)
    except ValueError as e:  # bad configuration: say which option, exit non-zero
        log.error("invalid configuration: %s", e)
        return 2

    stopping = threading.Event()
    agent_pid = os.getpid()

    def on_signal(signum: int, _frame: object) -> None:
        if os.getpid() != agent_pid:
            # A forked helper (pyroute2 opens namespace handles in one) inherits this
            # handler; told to stop, it dies as it would without it, and says nothing.
            signal.signal(signum, signal.SIG_DFL)
            os.kill(os.getpid(), signum)
            return
        log.info("signal %d: stopping", signum)
        stopping.set()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    agent.start()
    try:
        while not stopping.wait(1.0):
            pass
    finally:
        agent.stop()
    return 0


if __name__ == "__main__":
    sys.exit(agent_main())
