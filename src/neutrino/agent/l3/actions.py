"""What the L3 agent changes in a router namespace, as actions (agent/actions.py) that
apply themselves; ``plan.RouterPlan.actions`` lists them in the order they must run."""

from __future__ import annotations

import contextlib
import ipaddress
import logging
import subprocess
from dataclasses import dataclass

from neutrino.agent.actions import Action, Target
from neutrino.agent.linux import devices, names, namespaces
from neutrino.agent.linux.errors import LinuxNetError

LOG = logging.getLogger(__name__)


@dataclass(frozen=True)
class EnableForwarding(Action):
    sysctls: tuple[str, ...]

    def apply(self, target: Target) -> None:
        # IPv6 may be missing from the kernel: set what exists, check what matters
        namespaces.execute(["sysctl", "-q", "-w", *(f"{k}=1" for k in self.sysctls)],
                           target.netns, check=False)


@dataclass(frozen=True)
class RemoveRoute(Action):
    destination: str
    via: str

    def apply(self, target: Target) -> None:
        with contextlib.suppress(LinuxNetError):  # gone with its device meanwhile
            devices.delete_route(self.destination, via=self.via, netns=target.netns)


@dataclass(frozen=True)
class AddRoute(Action):
    destination: str
    via: str
    soft = True  # e.g. a next hop on no subnet of the router: the others still go in

    def apply(self, target: Target) -> None:
        devices.add_route(self.destination, via=self.via, netns=target.netns)


@dataclass(frozen=True)
class LoadNat(Action):
    """Replace (or delete) the NAT table in one ``nft -f`` transaction."""

    script: str

    def apply(self, target: Target) -> None:
        namespaces.execute(["nft", "-f", "-"], target.netns, input=self.script)


@dataclass(frozen=True)
class FlushConntrack(Action):
    """End the tracked connections of these floating IPs: inbound (to the address) and
    outbound (replies to it), so that NAT bindings of a floating IP gone or moved stop
    at once. One process for all (conntrack exits 1 when nothing matched)."""

    addresses: tuple[str, ...]

    def apply(self, target: Target) -> None:
        script = "; ".join(f"conntrack -D -d {a}; conntrack -D -q {a}"
                           for a in (str(ipaddress.ip_address(x)) for x in self.addresses))
        namespaces.execute(["sh", "-c", f"({script}) >/dev/null 2>&1; exit 0"], target.netns)


@dataclass(frozen=True)
class FlushForwardedConntrack(Action):
    """End the tracked connections of these port forwardings, (floating address,
    protocol, external port) each, and only those: the floating IP's other forwardings
    keep theirs."""

    forwardings: tuple[tuple[str, str, int], ...]

    def apply(self, target: Target) -> None:
        script = "; ".join(
            f"conntrack -D -p {proto} --orig-dst {ipaddress.ip_address(address)} "
            f"--orig-port-dst {int(port)}"
            for address, proto, port in self.forwardings
            if proto in ("tcp", "udp", "sctp", "dccp"))
        if script:
            namespaces.execute(["sh", "-c", f"({script}) >/dev/null 2>&1; exit 0"],
                               target.netns)


@dataclass(frozen=True)
class AnnounceAddresses(Action):
    """Gratuitous ARPs (``arping -U``, ``count`` each) for (device, address), in the
    background (arping takes a second per ARP; the reconcile does not wait): one shell
    running them in parallel, left in ``target.background`` for the agent to reap."""

    announce: tuple[tuple[str, str], ...]
    count: int

    def apply(self, target: Target) -> None:
        if self.count <= 0:
            return
        cmds = [f"arping -U -q -c {int(self.count)} -I {names.check_device_name(dev)} "
                f"{ipaddress.ip_address(address)} &" for dev, address in self.announce
                if ipaddress.ip_address(address).version == 4]
        if not cmds:
            return
        try:
            proc = namespaces.spawn(["sh", "-c", " ".join(cmds) + " wait"], target.netns,
                                    stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        except OSError as e:  # the router works; neighbours learn the addresses later
            LOG.warning("router namespace %s: gratuitous ARPs not sent: %s", target.netns, e)
            return
        target.background.append(proc)
