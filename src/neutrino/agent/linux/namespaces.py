"""Network namespaces: create, delete and list them idempotently; run commands inside one.

Namespaces are the iproute2 kind (a bind mount under /run/netns), so ``ip netns`` and
operators see the same set the agents do. Commands run through ``ip netns exec`` rather than
a setns() in a forked Python: it also bind-mounts /etc/netns/<ns>/* over /etc, which is how
each instance or qdhcp namespace gets its own resolv.conf and hosts file.
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Mapping, Sequence

from pyroute2 import netns as pyroute2_netns

from neutrino.agent.linux.errors import CommandError, NamespaceError
from neutrino.agent.linux.netlink import NETNS_RUN_DIR, Netns, handles, netns_name

DEFAULT_TIMEOUT = 60.0


def _check_name(name: str) -> str:
    # The name becomes a file under /run/netns; anything that is not a plain file name
    # would escape that directory or fail late with a confusing error.
    if not name or name in (".", "..") or "/" in name or "\0" in name or len(name) > 255:
        raise NamespaceError(name, "validate name", "not a valid namespace name")
    return name


def namespace_exists(name: str) -> bool:
    return os.path.exists(os.path.join(NETNS_RUN_DIR, _check_name(name)))


def list_namespaces(prefix: str = "") -> list[str]:
    """Names of the namespaces starting with ``prefix``, sorted."""
    try:
        names = os.listdir(NETNS_RUN_DIR)
    except FileNotFoundError:
        return []
    return sorted(n for n in names if n.startswith(prefix))


def create_namespace(name: str, *, loopback_up: bool = True) -> bool:
    """Make namespace ``name`` exist; True if it was created now.

    ``lo`` is brought up because dnsmasq, metadata proxies and ping-to-self expect it, and a
    fresh namespace has it down."""
    _check_name(name)
    created = False
    if not namespace_exists(name):
        try:
            pyroute2_netns.create(name)
            created = True
        except FileExistsError:
            pass  # created concurrently: the state we want
        except OSError as e:
            raise NamespaceError(name, "create", e) from e
    if loopback_up:
        ipr = handles.get(name)
        try:
            lo = ipr.link_lookup(ifname="lo")
            if lo:
                ipr.link("set", index=lo[0], state="up")
        except OSError as e:
            raise NamespaceError(name, "bring lo up", e) from e
    return created


def delete_namespace(name: str) -> bool:
    """Make namespace ``name`` not exist; True if it existed.

    Devices inside die with it (a veth's peer elsewhere too, asynchronously). Processes still
    running inside keep the namespace alive, unnamed, until they exit: stop them first."""
    _check_name(name)
    handles.close(name)
    try:
        pyroute2_netns.remove(name)
    except FileNotFoundError:
        return False
    except OSError as e:
        raise NamespaceError(name, "delete", e) from e
    return True


def command_in(cmd: Sequence[str], netns: Netns = None) -> list[str]:
    """``cmd`` prefixed so that it runs inside ``netns`` (unchanged for None)."""
    name = netns_name(netns)
    if name is None:
        return list(cmd)
    return ["ip", "netns", "exec", _check_name(name), *cmd]


def execute(cmd: Sequence[str], netns: Netns = None, *, check: bool = True,
            timeout: float | None = DEFAULT_TIMEOUT, input: str | None = None,
            env: Mapping[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    """Run ``cmd`` inside ``netns`` and wait for it; text output captured.

    With ``check`` a non-zero exit raises CommandError carrying stderr; a timeout always
    raises CommandError (the child is killed by subprocess.run)."""
    full = command_in(cmd, netns)
    try:
        proc = subprocess.run(full, input=input, capture_output=True, text=True,
                              timeout=timeout, env=dict(env) if env is not None else None,
                              check=False)
    except subprocess.TimeoutExpired as e:
        stderr = e.stderr.decode() if isinstance(e.stderr, bytes) else (e.stderr or "")
        raise CommandError(cmd, None, stderr, netns=netns_name(netns)) from e
    except FileNotFoundError as e:
        raise CommandError(cmd, 127, f"{full[0]}: command not found",
                           netns=netns_name(netns)) from e
    if check and proc.returncode != 0:
        raise CommandError(cmd, proc.returncode, proc.stderr, netns=netns_name(netns))
    return proc


def spawn(cmd: Sequence[str], netns: Netns = None, **popen_kwargs: object) -> subprocess.Popen:
    """Start a long-running ``cmd`` (dnsmasq, a DHCP client) inside ``netns``.

    The caller owns the process: it must stop it by its pid and wait() for it."""
    return subprocess.Popen(command_in(cmd, netns), **popen_kwargs)  # type: ignore[call-overload]
