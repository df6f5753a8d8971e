"""One model of "what an agent changes on its host", shared by the Linux bridge, DHCP and
L3 agents: ovsdbapp's Command/Transaction idea for netlink and a few commands.

An agent works in three steps. It *observes* the host (through ``agent/linux``), *plans*
with a pure function of the desired and the observed state (unit-tested without root) that
returns a list of ``Action``\\ s, and *executes* them. Each action is a small frozen
dataclass that knows how to apply itself (``apply``: netlink through ``agent/linux``,
idempotent: "make it so") and, where iproute2 can do it, how to render itself into a batch
(``render``: lines of ``ip -batch`` / ``bridge -batch``, which apply thousands of changes
in well under a second). An empty plan is a converged host: nothing is written.

``execute`` applies actions in order; ``Batch`` collects rendered lines and runs them
(best effort, ``-force``), after which the agent observes again and applies what is left
one action at a time.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from neutrino.agent.base import ReconcileIncomplete
from neutrino.agent.linux import devices, namespaces

LOG = logging.getLogger(__name__)


@dataclass(frozen=True)
class Target:
    """Where actions run: ``netns``, the namespace they program (the router's or the
    DHCP namespace, or the host's for the Linux bridge agent), and ``host_netns``, the
    host namespace (where taps live; None: the agent's own). ``background``: processes an
    action left running (the agent reaps them)."""

    netns: str | None = None
    host_netns: str | None = None
    background: list[Any] = field(default_factory=list, compare=False)
    # interface_driver openvswitch: plugs taps into br-int (agent/interface.py); None:
    # the Linux bridge agent attaches them
    interface: Any = field(default=None, compare=False)


class Action:
    """A change to the host. Subclasses are frozen dataclasses (compared in tests)."""

    # A failure of a soft action is collected and the next actions still run (e.g. an
    # extra route whose next hop is not reachable yet); a hard one stops the list.
    soft = False

    def apply(self, target: Target) -> None:
        raise NotImplementedError

    def render(self, batch: Batch) -> bool:
        """Add this action's lines to ``batch``; False if it cannot be batched (it is
        then applied one by one after the batch)."""
        return False


@dataclass
class Batch:
    """Lines for ``ip -batch`` and ``bridge -batch`` (run in that order). ``observed``:
    what the plan was made from (an action renders differently when, say, its device
    exists already)."""

    observed: Any = None
    ip: list[str] = field(default_factory=list)
    bridge: list[str] = field(default_factory=list)

    def add(self, actions: Iterable[Action]) -> list[Action]:
        """Render ``actions``; returns those that could not be."""
        return [a for a in actions if not a.render(self)]

    def run(self, netns: str | None) -> int:
        """Run the lines with ``-force`` (every line is tried; the caller re-observes and
        finishes one by one). Returns the number of lines run."""
        for tool, lines in (("ip", self.ip), ("bridge", self.bridge)):
            if not lines:
                continue
            cmd = [tool, *(["-n", netns] if netns else []), "-force", "-batch", "-"]
            proc = namespaces.execute(cmd, None, check=False, input="\n".join(lines) + "\n")
            if proc.returncode != 0:
                LOG.info("%s -batch: some of %d change(s) failed (retried one by one): %s",
                         tool, len(lines), proc.stderr.strip().splitlines()[-1:])
        return len(self.ip) + len(self.bridge)


class ExecutionError(Exception):
    """An action failed; ``action`` is the one, ``done`` the actions applied before it,
    ``soft`` the failures of soft actions until then."""

    def __init__(self, action: Action, cause: BaseException, done: int,
                 soft: list[str]) -> None:
        super().__init__(str(cause))
        self.action = action
        self.cause = cause
        self.done = done
        self.soft = soft


def execute(actions: Iterable[Action], target: Target) -> list[str]:
    """Apply ``actions`` in order. Returns the failures of soft actions (the rest of the
    list still ran); raises the first failure of a hard action (the rest did not run),
    as ExecutionError with the cause."""
    soft: list[str] = []
    for i, action in enumerate(actions):
        try:
            action.apply(target)
        except Exception as e:
            if action.soft:
                soft.append(f"{action}: {e}")
                continue
            raise ExecutionError(action, e, i, soft) from e
    return soft


# --- actions the agents share ------------------------------------------------------------------
@dataclass(frozen=True)
class CreateNamespace(Action):
    def apply(self, target: Target) -> None:
        assert target.netns is not None
        namespaces.create_namespace(target.netns)


@dataclass(frozen=True)
class DeleteDevice(Action):
    """Remove a device of the namespace (stale, or of something no longer wanted)."""

    device: str

    def apply(self, target: Target) -> None:
        LOG.info("%s: removing %s", target.netns or "host", self.device)
        devices.delete_device(self.device, target.netns)
        if target.interface is not None:
            target.interface.unplug_device(self.device)

    def render(self, batch: Batch) -> bool:
        batch.ip.append(f"link del {self.device}")
        return True


@dataclass(frozen=True)
class WireVeth(Action):
    """A port as a veth pair: ``tap`` in the host namespace (the Linux bridge agent
    plugs it into the network's bridge) and ``device`` in the namespace, with the port's
    MAC and MTU, both up. ``replace``: delete what holds the names first (half a pair,
    or a device of another kind); the kernel removes a tap whose peer's namespace is
    gone asynchronously, so that is waited for."""

    device: str
    tap: str
    mac_address: str
    mtu: int | None
    replace: bool = False
    # the port's id, for an OVS port's external_ids:iface-id (interface_driver
    # openvswitch); not compared: the plan's shape does not depend on the driver
    port_id: str = field(default="", compare=False)

    def apply(self, target: Target) -> None:
        if self.replace:
            LOG.info("%s: re-making %s/%s", target.netns, self.tap, self.device)
            devices.delete_device(self.device, target.netns)
            if devices.delete_device(self.tap, target.host_netns):
                _wait_gone(self.tap, target.host_netns)
        devices.ensure_veth(self.tap, self.device, peer_netns=target.netns, mtu=self.mtu,
                            netns=target.host_netns, up=False)
        devices.set_mac_address(self.device, self.mac_address, target.netns)
        devices.set_up(self.device, target.netns)
        devices.set_up(self.tap, target.host_netns)
        if target.interface is not None:
            target.interface.plug(self.tap, self.device, port_id=self.port_id,
                                  mac_address=self.mac_address, netns=target.netns,
                                  host_netns=target.host_netns)


def _wait_gone(device: str, netns: str | None, timeout: float = 2.0) -> None:
    deadline = time.monotonic() + timeout
    while devices.get_device(device, netns) is not None:
        if time.monotonic() > deadline:
            raise ReconcileIncomplete(f"{device} is still being deleted")
        time.sleep(0.01)


@dataclass(frozen=True)
class RemoveAddress(Action):
    device: str
    cidr: str

    def apply(self, target: Target) -> None:
        devices.delete_address(self.device, self.cidr, target.netns)


@dataclass(frozen=True)
class AddAddress(Action):
    """An address of a service's own (IPv6 without duplicate address detection)."""

    device: str
    cidr: str

    def apply(self, target: Target) -> None:
        devices.add_address(self.device, self.cidr, target.netns, nodad=True)
