"""Option discovery for ``oslo-config-generator`` (the ``oslo.config.opts`` entry points).

    oslo-config-generator --config-file etc/oslo-config-generator/neutrino.conf

writes etc/neutrino.conf.sample, and likewise each agent's sample, as Neutron's do. The
options stay where they are defined (config.py, bus/options.py, each agent's
``register_opts``): each list here is what those functions register on a fresh ConfigOpts,
so an option added there appears in the samples without touching this file. An agent's
list holds only what its own ``register_opts`` adds beyond the options every agent has
(``neutrino.agent``); the message bus options are ``neutrino.bus``.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Iterable

from oslo_config import cfg

OptList = list[tuple[str | None, list[cfg.Opt]]]

# Defaults computed on the machine that generates the sample: shown as placeholders, so a
# sample is the same wherever it is generated (the CI check compares them byte for byte).
_SAMPLE_DEFAULTS = {"state_path": "/var/lib/neutrino (root) or ~/.local/state/neutrino",
                    "host": "<hostname>"}
# the options every process reads from [DEFAULT], whatever its role
_COMMON = ("debug", "state_path")


def _registered(register: Callable[[cfg.ConfigOpts], None]) -> dict[str | None, list[cfg.Opt]]:
    """{group: options} that ``register`` puts on an empty ConfigOpts, in definition order.

    oslo.config has no public listing of registered options; _opts and _groups are what its
    own generator-adjacent tools (oslo-config-validator) read."""
    conf = cfg.ConfigOpts()
    own = set(conf._opts)  # oslo.config's own (config_source, shell_completion)
    register(conf)
    out: dict[str | None, list[cfg.Opt]] = {
        None: [i["opt"] for name, i in conf._opts.items() if name not in own]}
    for name, group in conf._groups.items():
        out[name] = [i["opt"] for i in group._opts.values()]
    return out


def _sample(opt: cfg.Opt) -> cfg.Opt:
    if opt.dest in _SAMPLE_DEFAULTS and opt.sample_default is None:
        opt = copy.copy(opt)
        opt.sample_default = _SAMPLE_DEFAULTS[opt.dest]
    return opt


def _as_list(groups: dict[str | None, list[cfg.Opt]]) -> OptList:
    return [(None if g is None else g, [_sample(o) for o in opts])
            for g, opts in groups.items() if opts]


def _minus(groups: dict[str | None, list[cfg.Opt]],
           *others: dict[str | None, list[cfg.Opt]]) -> dict[str | None, list[cfg.Opt]]:
    seen = {(g, o.dest) for other in others for g, opts in other.items() for o in opts}
    return {g: [o for o in opts if (g, o.dest) not in seen] for g, opts in groups.items()}


def _only(groups: dict[str | None, list[cfg.Opt]], names: Iterable[str]) -> list[cfg.Opt]:
    wanted = set(names)
    return [o for o in groups.get(None, []) if o.dest in wanted]


def _server(conf: cfg.ConfigOpts) -> None:
    from neutrino import config

    config.register_opts(conf)


def _bus(conf: cfg.ConfigOpts) -> None:
    from neutrino.bus.options import register_bus_opts

    register_bus_opts(conf)


def _agent(conf: cfg.ConfigOpts) -> None:
    from neutrino.agent import base

    base.register_agent_opts(conf)


def list_server_opts() -> OptList:
    """``neutrino server`` (and ``neutrino up``): API, database, ML2, quotas; not the bus."""
    return _as_list(_minus(_registered(_server), _registered(_bus)))


def list_bus_opts() -> OptList:
    """The message bus (RabbitMQ) every process with agents uses: transport_url, ..."""
    return _as_list(_registered(_bus))


def list_agent_opts() -> OptList:
    """What every agent reads: host, host_namespace, [AGENT], and debug/state_path."""
    groups = _registered(_agent)
    groups[None] = _only(_registered(_server), _COMMON) + groups.get(None, [])
    return _as_list(groups)


def _role(module_register: Callable[[cfg.ConfigOpts], None]) -> OptList:
    return _as_list(_minus(_registered(module_register), _registered(_agent),
                           {None: _only(_registered(_server), _COMMON)}))


def list_linuxbridge_agent_opts() -> OptList:
    from neutrino.agent.l2 import linuxbridge

    return _role(linuxbridge.register_opts)


def list_dhcp_agent_opts() -> OptList:
    from neutrino.agent.dhcp import agent

    return _role(agent.register_opts)


def list_l3_agent_opts() -> OptList:
    from neutrino.agent.l3 import agent

    return _role(agent.register_opts)


def list_openvswitch_agent_opts() -> OptList:
    from neutrino.agent.ovs import agent

    return _role(agent.register_opts)
