"""Security groups enforced by the Linux bridge agent (Neutron's option names):

    [securitygroup]
    enable_security_group = true
    firewall_driver = nftables        # or noop; default nftables when running as root

model.py parses the security-group parts of get_host_state; render.py turns them into an
nftables ruleset (pure; its docstring says why the ruleset has the shape it has);
scripts.py works out the nft script from what the kernel has; nftables.py programs it
atomically in the host namespace.
"""

from __future__ import annotations

import os

from oslo_config import cfg

from neutrino.agent.l2.firewall.nftables import NftablesFirewall, NoopFirewall

DRIVERS = {"nftables": NftablesFirewall, "noop": NoopFirewall}

securitygroup_opts = [
    cfg.BoolOpt("enable_security_group", default=True,
                help="Enforce security groups (and anti-spoofing) on this host's ports."),
    cfg.StrOpt("firewall_driver", default="nftables" if os.geteuid() == 0 else "noop",
               sample_default="nftables", choices=sorted(DRIVERS),
               help="How security groups are enforced: nftables (stateful, per port, "
               "remote groups as sets) or noop (nothing)."),
]


def register_opts(conf: cfg.ConfigOpts) -> None:
    conf.register_opts(securitygroup_opts, group="securitygroup")


def make_firewall(conf: cfg.ConfigOpts, netns: str | None) -> NftablesFirewall | NoopFirewall:
    register_opts(conf)
    sg = conf.securitygroup
    driver = sg.firewall_driver if sg.enable_security_group else "noop"
    return DRIVERS[driver](netns)
