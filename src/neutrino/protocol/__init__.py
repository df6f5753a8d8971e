"""The server <-> agent protocol as types: one definition, used by the server's builders
(services/host_state.py, services/l3/state.py, services/securitygroups/agent_view.py,
services/agent_rpc.py, services/agent_notifier.py), the agents' parsers (agent/) and the
tests. docs/agent-protocol.md says what the messages mean; the fields are here.

Modules: ``version`` (the version and its rule), ``base`` (Message, Envelope, convert),
``rpc`` (methods, arguments, replies, hints), ``linuxbridge``, ``ovs``, ``dhcp``, ``l3`` (the
replies of get_host_state per agent type).
"""

from __future__ import annotations

from typing import Any, TypeVar

import msgspec

from neutrino.protocol import dhcp, l3, linuxbridge, ovs, rpc
from neutrino.protocol.base import (
    Envelope,
    Message,
    ProtocolError,
    convert,
    decode,
    to_wire,
)
from neutrino.protocol.version import VERSION, ProtocolVersionError, check

__all__ = [
    "HOST_STATES",
    "VERSION",
    "Envelope",
    "Message",
    "ProtocolError",
    "ProtocolVersionError",
    "check",
    "convert",
    "decode",
    "decode_host_state",
    "dhcp",
    "l3",
    "linuxbridge",
    "ovs",
    "rpc",
    "to_wire",
]

S = TypeVar("S", bound=Envelope)

# agent type -> (get_host_state's reply type, its list field, the type of one entry)
HOST_STATES: dict[str, tuple[type[Envelope], str, type[Message]]] = {
    linuxbridge.AGENT_TYPE: (linuxbridge.HostState, "networks", linuxbridge.Network),
    ovs.AGENT_TYPE: (ovs.HostState, "networks", ovs.Network),
    dhcp.AGENT_TYPE: (dhcp.HostState, "networks", dhcp.Network),
    l3.AGENT_TYPE: (l3.HostState, "routers", l3.Router),
}


def decode_host_state(raw: Any, type_: type[S], *, peer: str = "server"
                      ) -> tuple[S, dict[str, str]]:
    """get_host_state's reply as ``type_``, and {id: error} of the entries of its list
    (networks, routers) that do not fit their type: those are left out, so one bad entry
    fails its own reconcile and the others converge. The version and the rest of the
    envelope must fit (ProtocolVersionError, ProtocolError)."""
    key, item_type = next((k, i) for t, k, i in HOST_STATES.values() if t is type_)
    if not isinstance(raw, dict):
        raise ProtocolError(f"{peer} sent {type(raw).__name__}, not an object")
    entries = raw.get(key)
    if not isinstance(entries, list):
        raise ProtocolError(f"{peer}'s {type_.__name__} has no {key} list")
    state = decode({**raw, key: []}, type_, peer=peer)
    good, errors = [], {}
    for entry in entries:
        what = f"{key[:-1]} {entry.get('id') if isinstance(entry, dict) else entry!r}"
        try:
            good.append(convert(entry, item_type, what=what))
        except ProtocolError as e:
            errors[str(entry.get("id") if isinstance(entry, dict) else entry)] = str(e)
    return msgspec.structs.replace(state, **{key: good}), errors
