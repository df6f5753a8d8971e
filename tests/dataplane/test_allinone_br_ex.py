"""The all-in-one's br-ex (issue 13): ``neutrino host cleanup`` removes a ``br-ex`` /
``ex-public`` veth pair left behind (a killed ``neutrino up``) and leaves an operator's own
``br-ex`` bridge alone; ``allinone_net.remove_host_side`` (what ``neutrino up`` runs as it
stops) deletes only its own pair. Each case in a namespace of its own, as simulated hosts."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from neutrino.agent.linux import devices, namespaces
from neutrino.cli import allinone_net
from tests.dataplane.conftest import Features


def _cleanup(ns: str, prefix: str, state: Path) -> subprocess.CompletedProcess[str]:
    # our prefix and state only: never another session's namespaces or dnsmasq
    return subprocess.run(
        [sys.executable, "-m", "neutrino.cli.main", "host", "cleanup", "--host-namespace", ns,
         "--namespace-prefix", prefix, "--instance-prefix", "", "--state-path", str(state)],
        capture_output=True, text=True, timeout=120, check=False)


def _names(ns: str) -> dict[str, str | None]:
    return {d.name: d.kind for d in devices.list_devices("", ns)}


def test_cleanup_removes_the_allinone_pair_only(features: Features, run_prefix: str,
                                                tmp_path: Path) -> None:
    features.require()
    pair_ns, bridge_ns = f"{run_prefix}brex-a", f"{run_prefix}brex-b"
    try:
        for ns in (pair_ns, bridge_ns):
            namespaces.create_namespace(ns)
        devices.ensure_veth("br-ex", "ex-public", netns=pair_ns)
        devices.ensure_bridge("br-ex", netns=bridge_ns)  # an operator's
        assert _names(pair_ns).get("br-ex") == "veth"

        dry = subprocess.run(
            [sys.executable, "-m", "neutrino.cli.main", "host", "cleanup", "--dry-run",
             "--host-namespace", pair_ns, "--namespace-prefix", run_prefix,
             "--instance-prefix", "", "--state-path", str(tmp_path)],
            capture_output=True, text=True, timeout=120, check=True)
        assert f"delete veth br-ex in {pair_ns}" in dry.stdout
        assert "br-ex" in _names(pair_ns)  # a dry run changes nothing

        done = _cleanup(pair_ns, run_prefix, tmp_path)
        assert done.returncode == 0, done.stderr
        assert not {"br-ex", "ex-public"} & set(_names(pair_ns))
        done = _cleanup(bridge_ns, run_prefix, tmp_path)
        assert done.returncode == 0, done.stderr
        assert _names(bridge_ns).get("br-ex") == "bridge"
    finally:
        for ns in (pair_ns, bridge_ns):
            namespaces.delete_namespace(ns)


def test_stop_removes_only_its_own_pair(features: Features, run_prefix: str) -> None:
    """remove_host_side in the root namespace acts on the real br-ex: here it runs inside
    a namespace of its own (``ip netns exec``), with a pair and then with a bridge."""
    features.require()
    ns = f"{run_prefix}brex-c"
    code = ("import sys; from neutrino.cli import allinone_net as a; "
            "sys.exit(0 if a.remove_host_side() else 3)")

    def remove() -> int:
        return subprocess.run(["ip", "netns", "exec", ns, sys.executable, "-c", code],
                              capture_output=True, text=True, timeout=60).returncode

    try:
        namespaces.create_namespace(ns)
        devices.ensure_veth(allinone_net.HOST_DEVICE, allinone_net.MAPPED_DEVICE, netns=ns)
        assert remove() == 0
        assert not {"br-ex", "ex-public"} & set(_names(ns))
        devices.ensure_bridge(allinone_net.HOST_DEVICE, netns=ns)
        assert remove() == 3
        assert _names(ns).get("br-ex") == "bridge"
    finally:
        namespaces.delete_namespace(ns)
