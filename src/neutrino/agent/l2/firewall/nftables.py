"""Programs the security-group ruleset (render.py) into the agent's host namespace.

One ``nft -f -`` per change, so every change is one kernel transaction: either the set
element additions/deletions of a membership change, or — when anything else changed — the
replacement of both ``neutrino_sg`` tables. Neither touches conntrack: established
connections survive reloads and agent restarts (zones are kept, see render.py).

The applier remembers what it last applied, so a security-group hint costs one nft call
(no kernel read); full resyncs read the kernel back (digest, set elements, zones) and
repair whatever drifted.
"""

from __future__ import annotations

import contextlib
import ipaddress
import json
import logging
import time
from dataclasses import dataclass
from typing import Any

from neutrino.agent.l2.firewall import render, scripts
from neutrino.agent.l2.firewall.model import FirewallState
from neutrino.agent.linux import namespaces
from neutrino.agent.linux.errors import CommandError

LOG = logging.getLogger(__name__)

BR_NETFILTER_SYSCTLS = ("net.bridge.bridge-nf-call-iptables",
                        "net.bridge.bridge-nf-call-ip6tables")


@dataclass
class ApplyResult:
    full: bool  # the tables were (re)written
    changed: bool  # anything was sent to the kernel
    seconds: float


def _elem_network(e: Any) -> str:
    """A set element of ``nft -j`` output as canonical network text."""
    if isinstance(e, dict) and "elem" in e:
        e = e["elem"].get("val")
    if isinstance(e, str):
        return str(ipaddress.ip_network(e, strict=False))
    if isinstance(e, dict) and "prefix" in e:
        return str(ipaddress.ip_network(f"{e['prefix']['addr']}/{e['prefix']['len']}",
                                        strict=False))
    if isinstance(e, dict) and "range" in e:
        lo, hi = (ipaddress.ip_address(a) for a in e["range"])
        nets = list(ipaddress.summarize_address_range(lo, hi))  # type: ignore[arg-type]
        if len(nets) == 1:
            return str(nets[0])
        return ",".join(str(n) for n in nets)
    raise ValueError(f"unexpected set element {e!r}")


def parse_tables(inet: dict[str, Any] | None,
                 bridge: dict[str, Any] | None) -> render.KernelFirewall | None:
    """``nft -j list table`` output of both tables -> KernelFirewall (None: none there)."""
    if inet is None and bridge is None:
        return None
    sets: dict[str, frozenset[str]] = {}
    zones: dict[str, int] = {}
    digests: list[str | None] = [None, None]
    for i, doc in enumerate((inet, bridge)):
        for item in (doc or {}).get("nftables", ()):
            if "set" in item and item["set"]["name"] == render.DIGEST_SET:
                elems = item["set"].get("elem") or []
                digests[i] = str(elems[0]) if len(elems) == 1 else None
            elif "set" in item and i == 0:
                s = item["set"]
                members: set[str] = set()
                for e in s.get("elem") or ():
                    members.update(_elem_network(e).split(","))
                sets[s["name"]] = frozenset(members)
            elif "map" in item and item["map"]["name"] == "zones" and i == 0:
                for key, value in item["map"].get("elem") or ():
                    zones[str(key)] = int(value)
    digest = digests[0] if digests[0] is not None and digests[0] == digests[1] else None
    return render.KernelFirewall(digest=digest, sets=sets, zones=zones)


class NftablesFirewall:
    name = "nftables"

    def __init__(self, netns: str | None) -> None:
        self.netns = netns
        self.applied: render.Ruleset | None = None
        self._applied_state: FirewallState | None = None
        self.last_result: ApplyResult | None = None
        self._prepared = False
        self.last_script = ""

    def _nft(self, args: list[str], input: str | None = None, check: bool = True) -> Any:
        return namespaces.execute(["nft", *args], self.netns, input=input, check=check)

    def prepare(self) -> None:
        """Bridged IPv4/IPv6 through the inet hooks (br_netfilter), per namespace."""
        if self._prepared:
            return
        cmd = ["sysctl", "-qw", *(f"{s}=1" for s in BR_NETFILTER_SYSCTLS)]
        if namespaces.execute(cmd, self.netns, check=False).returncode != 0:
            # a modular kernel without br_netfilter loaded has no net.bridge sysctls yet
            with contextlib.suppress(CommandError):  # no modprobe: the sysctl says why
                namespaces.execute(["modprobe", "br_netfilter"], None, check=False)
            namespaces.execute(cmd, self.netns)
        self._prepared = True

    def read_kernel(self) -> render.KernelFirewall | None:
        """Digest, remote-group sets and zones of our tables. Only the named sets and
        maps are listed: listing the whole tables costs ~1 s with 1000 ports."""
        def listed(*what: str) -> list[dict[str, Any]] | None:
            proc = self._nft(["-j", "list", *what], check=False)
            return json.loads(proc.stdout)["nftables"] if proc.returncode == 0 else None

        sets = listed("sets", "table", "inet", render.TABLE)
        zones = listed("map", "inet", render.TABLE, "zones")
        digest = listed("set", "bridge", render.TABLE, render.DIGEST_SET)
        inet = None if sets is None else {"nftables": [*sets, *(zones or [])]}
        bridge = None if digest is None else {"nftables": digest}
        return parse_tables(inet, bridge)

    def converge(self, state: FirewallState, *, from_kernel: bool) -> ApplyResult:
        """Make the kernel ``state``'s ruleset. ``from_kernel``: read what the kernel has
        first (full resyncs); else trust what this object applied last."""
        started = time.monotonic()
        self.prepare()
        kernel: render.KernelFirewall | None
        if from_kernel or self.applied is None:
            kernel = self.read_kernel()
        else:
            kernel = render.KernelFirewall(self.applied.digest, self.applied.sets,
                                           self.applied.zones)
        zones = render.allocate_zones(state.bridges.values(), kernel.zones if kernel else {})
        if self.applied is not None and self._applied_state is not None:
            ruleset = render.rerender(self.applied, self._applied_state, state, zones)
        else:
            ruleset = render.render(state, zones)
        script, full = scripts.plan(ruleset, kernel, self.applied)
        if script:
            self.last_script = script
            try:
                self._nft(["-f", "-"], input=script)
            except CommandError as e:
                if full:
                    self.applied = None
                    raise
                # the kernel was not what we remembered (someone edited the sets)
                LOG.warning("set update failed (%s); rewriting the tables", e)
                full = True
                self.last_script = scripts.full_script(ruleset)
                self._nft(["-f", "-"], input=self.last_script)
        if script and kernel is not None:
            self._forget(render.connections_to_forget(kernel.sets, ruleset, state))
        self.applied, self._applied_state = ruleset, state
        took = time.monotonic() - started
        self.last_result = ApplyResult(full=full, changed=bool(script), seconds=took)
        if script:
            LOG.info("firewall: %s in %.3f s", "tables rewritten" if full
                     else "rules or remote-group sets updated", took)
        return ApplyResult(full=full, changed=bool(script), seconds=took)

    def _forget(self, commands: list[list[str]]) -> None:
        """End connections of removed remote-group members (best effort: logged)."""
        for args in commands:
            try:
                proc = namespaces.execute(["conntrack", *args], self.netns, check=False)
            except CommandError as e:  # conntrack-tools missing
                LOG.warning("cannot end connections of removed members: %s", e)
                return
            # exit 1 with "0 flow entries" when there was nothing to delete
            if proc.returncode not in (0, 1):
                LOG.warning("conntrack %s failed: %s", " ".join(args), proc.stderr.strip())
        if commands:
            LOG.info("firewall: connections of %d removed member(s)/zone(s) ended",
                     len(commands))

    def remove(self) -> None:
        """Drop our tables (the driver is switched off)."""
        for family in ("bridge", "inet"):
            self._nft(["delete", "table", family, render.TABLE], check=False)
        self.applied = None


class NoopFirewall:
    """enable_security_group = false or firewall_driver = noop: no filtering."""

    name = "noop"

    def __init__(self, netns: str | None) -> None:
        self.netns = netns
        self.applied = None
        self.last_script = ""
        self._cleaned = False

    def converge(self, state: FirewallState, *, from_kernel: bool) -> ApplyResult:
        if not self._cleaned:
            # tables left by an earlier run with the nftables driver would go on filtering
            self._cleaned = True
            for family in ("bridge", "inet"):
                try:
                    namespaces.execute(["nft", "delete", "table", family, render.TABLE],
                                       self.netns, check=False)
                except CommandError:
                    return ApplyResult(full=False, changed=False, seconds=0.0)  # no nft
        return ApplyResult(full=False, changed=False, seconds=0.0)
