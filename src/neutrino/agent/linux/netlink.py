"""One pyroute2 ``IPRoute`` per network namespace, opened once and kept.

Opening a handle inside a namespace forks a short-lived helper to create the netlink socket
there (~5-15 ms); a request on an open handle costs ~1-2 ms. An agent reconciles hundreds of
devices a pass, so handles are cached per namespace name and closed when the namespace is
deleted or the agent shuts down (``close_all``).

Handles are opened with ``groups=0``: they only send requests. A socket subscribed to the
rtnetlink multicast groups (pyroute2's default) is also sent every link/address/neighbour
event of its namespace, work and buffer space a request-only handle has no use for.

pyroute2 gives each thread its own socket behind a handle, so a cached handle may be used
from several threads; each thread pays the socket setup once.
"""

from __future__ import annotations

import contextlib
import errno as errno_mod
import os
import threading
from collections.abc import Iterator

from pyroute2 import IPRoute
from pyroute2.netlink.exceptions import NetlinkError

from neutrino.agent.linux.errors import DeviceError, NamespaceError

# What every call in this package accepts as its namespace: an open handle bound to it, a
# namespace name (the cached handle is used), or None for the process's own namespace.
Netns = IPRoute | str | None


NETNS_RUN_DIR = "/run/netns"


def _ns_identity(netns: str | None) -> tuple[int, int] | None:
    """(device, inode) of the namespace's bind mount: it identifies the namespace itself,
    so a namespace deleted and re-created under the same name is told apart."""
    if netns is None:
        return None
    try:
        st = os.stat(os.path.join(NETNS_RUN_DIR, netns))
    except FileNotFoundError:
        raise NamespaceError(netns, "open netlink handle", "namespace does not exist") from None
    return st.st_dev, st.st_ino


class HandleCache:
    """Open ``IPRoute`` handles keyed by namespace name (None: the process's namespace).

    A cached handle's socket pins the namespace it was opened in. If that namespace is
    deleted (by an operator, or another agent) and re-created under the same name, the old
    handle would silently keep programming the dead one; so each ``get`` checks the name
    still refers to the same namespace (one stat) and reopens if not."""

    def __init__(self) -> None:
        self._handles: dict[str | None, tuple[IPRoute, tuple[int, int] | None]] = {}
        self._lock = threading.Lock()

    def get(self, netns: str | None = None) -> IPRoute:
        with self._lock:
            try:
                identity = _ns_identity(netns)
            except NamespaceError:
                self._drop(netns)
                raise
            cached = self._handles.get(netns)
            if cached is not None and cached[1] == identity:
                return cached[0]
            self._drop(netns)
            ipr = _open(netns)
            self._handles[netns] = (ipr, identity)
            return ipr

    def _drop(self, netns: str | None) -> None:
        cached = self._handles.pop(netns, None)
        if cached is not None:
            cached[0].close()

    def close(self, netns: str | None) -> None:
        with self._lock:
            self._drop(netns)

    def close_all(self) -> None:
        with self._lock:
            cached, self._handles = list(self._handles.values()), {}
        for ipr, _ in cached:
            ipr.close()

    def __contains__(self, netns: object) -> bool:
        return netns in self._handles


def _open(netns: str | None) -> IPRoute:
    if netns is None:
        return IPRoute(groups=0)
    try:
        # flags=0: never create the namespace as a side effect of opening a handle
        # (pyroute2's default is O_CREAT); creating is namespaces.create_namespace's job.
        return IPRoute(netns=netns, flags=0, groups=0)
    except FileNotFoundError as e:
        raise NamespaceError(netns, "open netlink handle", "namespace does not exist") from e
    except OSError as e:
        raise NamespaceError(netns, "open netlink handle", e) from e


# The process-wide cache used when a call is given a namespace name or None.
handles = HandleCache()


def ipr_for(netns: Netns) -> IPRoute:
    """The handle to act through for ``netns`` (see ``Netns``)."""
    if netns is None or isinstance(netns, str):
        return handles.get(netns)
    return netns


def netns_name(netns: Netns) -> str | None:
    """The namespace name behind ``netns`` (None for the process's own namespace)."""
    if netns is None or isinstance(netns, str):
        return netns
    name = netns.status.get("netns")
    return name if isinstance(name, str) else None


def is_errno(exc: BaseException, *codes: int) -> bool:
    return isinstance(exc, NetlinkError) and exc.code in codes


@contextlib.contextmanager
def device_errors(device: str, action: str, netns: Netns,
                  ignore: tuple[int, ...] = ()) -> Iterator[None]:
    """Turn a NetlinkError into a DeviceError naming the device, action and namespace;
    errno values in ``ignore`` mean "already so" and are swallowed."""
    try:
        yield
    except NetlinkError as e:
        if e.code in ignore:
            return
        raise DeviceError(device, action, _describe(e), netns=netns_name(netns),
                          errno=e.code) from e


def _describe(e: NetlinkError) -> str:
    name = errno_mod.errorcode.get(e.code, str(e.code))
    msg = e.args[1] if len(e.args) > 1 else str(e)
    return f"{msg} ({name})"
