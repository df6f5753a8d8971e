"""``neutrino up`` on Open vSwitch: the agents it picks from ``[ml2] mechanism_drivers``
and what it sets for them (cli/main.py), and the override file its supervised agents read
(cli/supervisor.py). No root: nothing is started."""

from __future__ import annotations

from pathlib import Path

from neutrino.agent import interface
from neutrino.cli.agent import ROLES
from neutrino.cli.main import allinone_roles, ovs_allinone_defaults
from neutrino.cli.supervisor import args_for_agents
from neutrino.config import make_conf


def conf_for(mechs: str, **ovs: str):  # type: ignore[no-untyped-def]
    conf = make_conf([], overrides={"ml2": {"mechanism_drivers": mechs.split(",")}})
    for role in allinone_roles(conf):
        ROLES[role][0](conf)
    for k, v in ovs.items():
        conf.set_override(k, v, group="ovs")
    return conf


def test_mechanism_drivers_pick_the_l2_agent() -> None:
    assert allinone_roles(conf_for("openvswitch,l2population")) == (
        "openvswitch", "dhcp", "l3")
    assert allinone_roles(conf_for("linuxbridge,l2population")) == (
        "linuxbridge", "dhcp", "l3")
    # both drivers loaded (a mixed cloud's server): this host stays Linux bridge
    assert allinone_roles(conf_for("openvswitch,linuxbridge,l2population"))[0] == \
        "linuxbridge"


def test_ovs_allinone_plugs_dhcp_and_routers_into_br_int(tmp_path: Path) -> None:
    conf = conf_for("openvswitch,l2population")
    sections = ovs_allinone_defaults(conf)
    assert conf.interface_driver == "openvswitch"
    assert interface.make_interface(conf) is not None
    assert list(conf.AGENT.tunnel_types) == ["vxlan"] and conf.ovs.local_ip == "127.0.0.1"
    assert sections == {"DEFAULT": {"interface_driver": "openvswitch"},
                        "agent": {"tunnel_types": "vxlan"},
                        "ovs": {"local_ip": "127.0.0.1"}}
    args = args_for_agents([], str(tmp_path), None, (), sections)
    written = Path(args[args.index("--config-file") + 1]).read_text()
    assert "[DEFAULT]\ninterface_driver = openvswitch" in written
    assert "[ovs]\nlocal_ip = 127.0.0.1" in written
    # the operator's own endpoint is kept
    conf = conf_for("openvswitch", local_ip="192.0.2.5")
    assert "ovs" not in ovs_allinone_defaults(conf)
    assert conf.ovs.local_ip == "192.0.2.5"
