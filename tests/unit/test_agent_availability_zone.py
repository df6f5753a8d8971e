"""Agents' state reports carry their ``[AGENT] availability_zone`` (default "nova") when
they make zones (DHCP agents: of networks, L3 agents: of routers), not otherwise (L2
agents), as Neutron's agents report it."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from neutrino import config
from neutrino.agent.dhcp import agent as dhcp
from neutrino.agent.l2 import linuxbridge
from neutrino.agent.l3 import agent as l3

KINDS: list[tuple[Callable[..., None], Any, bool]] = [
    (dhcp.register_opts, dhcp.DhcpAgent, True),
    (l3.register_opts, l3.L3Agent, True),
    (linuxbridge.register_opts, linuxbridge.LinuxBridgeAgent, False),
]


@pytest.mark.parametrize(("register", "cls", "reports"), KINDS)
def test_state_report_zone(register: Callable[..., None], cls: Any, reports: bool) -> None:
    conf = config.make_conf([])
    register(conf)
    conf.set_override("host", "h1")
    agent = cls(conf, bus=None)
    assert agent.agent_state().availability_zone == ("nova" if reports else None)
    conf.set_override("availability_zone", "zone-7", group="AGENT")
    assert agent.agent_state().availability_zone == ("zone-7" if reports else None)
