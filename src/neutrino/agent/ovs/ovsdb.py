"""OVSDB through ovsdbapp: reading the host's bridges and ports (``read``, from the IDL's
replica, no round trip) and applying phase-1 plans in one transaction (``apply``).

ovsdbapp's Open_vSwitch transactions wait for ovs-vswitchd to have taken a commit in
(``cur_cfg``), so the ofports of new ports are known when ``apply`` returns."""

from __future__ import annotations

import logging
from collections.abc import Iterable
from typing import Any

from ovsdbapp.backend.ovs_idl import connection
from ovsdbapp.schema.open_vswitch import impl_idl

from neutrino.agent.ovs import plan as p
from neutrino.agent.ovs.model import COOKIE_KEY, Observed, ObservedPort

LOG = logging.getLogger(__name__)


def _one(value: Any) -> Any:
    """An optional column (a list of zero or one value) as the value or None."""
    if isinstance(value, list):
        return value[0] if value else None
    return value


class _WatchedIdl(connection.OvsdbIdl):
    """The IDL replica, telling ``on_interface`` when an Interface row comes or goes or
    its ``external_ids`` or ``ofport`` change (an instance plugged: the agent looks at
    once instead of at its next poll). Called in the connection's thread: keep it cheap.
    Statistics updates (every few seconds for every interface) do not call it."""

    on_interface: Any = None

    def notify(self, event: str, row: Any, updates: Any = None) -> None:
        callback = self.on_interface
        if callback is None or getattr(getattr(row, "_table", None), "name", "") != \
                "Interface":
            return
        if event == "update":
            changed = getattr(updates, "_data", None) or {}
            if "external_ids" not in changed and "ofport" not in changed:
                return
        callback()


class Ovsdb:
    def __init__(self, connection_string: str, timeout: float,
                 on_interface: Any = None) -> None:
        idl = _WatchedIdl.from_server(connection_string, "Open_vSwitch")
        idl.on_interface = on_interface
        self._conn = connection.Connection(idl=idl, timeout=timeout)
        # ovsdbapp keeps the connection on the API class: a class of our own per
        # connection, so that two (a reconnect, a benchmark's second host) never share one
        api_class = type("HostOvsdbIdl", (impl_idl.OvsdbIdl,), {})
        self.api = api_class(self._conn)

    def close(self) -> None:
        try:
            self._conn.stop(timeout=5)
        except Exception:
            LOG.debug("closing the OVSDB connection failed", exc_info=True)

    def read(self, bridges: Iterable[str]) -> Observed:
        """The bridges named (those that exist) and every port of theirs."""
        wanted = set(bridges)
        tables = self.api.tables
        out_bridges: dict[str, str] = {}
        ports: dict[str, ObservedPort] = {}
        cookie = None
        for br in list(tables["Bridge"].rows.values()):
            if br.name not in wanted:
                continue
            out_bridges[br.name] = br.datapath_type or "system"
            ext = dict(br.external_ids)
            if COOKIE_KEY in ext:
                try:
                    cookie = int(ext[COOKIE_KEY], 0)
                except ValueError:
                    cookie = None
            for port in list(br.ports):
                ifaces = list(port.interfaces)
                iface = ifaces[0] if ifaces else None
                ofport = _one(iface.ofport) if iface is not None else None
                ports[port.name] = ObservedPort(
                    name=port.name, bridge=br.name,
                    type=(iface.type if iface is not None else "") or "",
                    ofport=int(ofport) if ofport is not None else -1,
                    tag=_one(port.tag),
                    iface_id=dict(iface.external_ids).get("iface-id") if iface else None,
                    options=dict(iface.options) if iface is not None else {},
                    other_config=dict(port.other_config),
                    mtu_request=_one(iface.mtu_request) if iface is not None else None)
        return Observed(bridges=out_bridges, ports=ports, cookie=cookie)

    def iface_ids(self, bridge: str) -> dict[str, str]:
        """port name -> iface-id of the ports on ``bridge`` that have one (cheap: from
        the replica), for noticing instances plugged and unplugged."""
        out: dict[str, str] = {}
        for br in list(self.api.tables["Bridge"].rows.values()):
            if br.name != bridge:
                continue
            for port in list(br.ports):
                for iface in list(port.interfaces):
                    iid = dict(iface.external_ids).get("iface-id")
                    if iid:
                        out[port.name] = iid
        return out

    def apply(self, ops: list[p.OvsdbOp]) -> None:
        """All of ``ops`` in one transaction (all or nothing)."""
        if not ops:
            return
        api = self.api
        with api.transaction(check_error=True) as txn:
            for op in ops:
                if isinstance(op, p.AddBridge):
                    txn.add(api.add_br(op.name, may_exist=True,
                                       datapath_type=op.datapath_type))
                    if op.fail_mode:
                        txn.add(api.set_fail_mode(op.name, op.fail_mode))
                elif isinstance(op, p.DelPort):
                    txn.add(api.del_port(op.name, bridge=op.bridge, if_exists=True))
                elif isinstance(op, p.AddPort):
                    txn.add(api.add_port(op.bridge, op.name, may_exist=False))
                    txn.add(api.db_set("Interface", op.name, ("type", op.type),
                                       ("options", dict(op.options))))
                elif isinstance(op, p.SetPort):
                    txn.add(api.db_set("Port", op.name, ("tag", op.tag)))
                    if op.other_config:
                        txn.add(api.db_set("Port", op.name,
                                           ("other_config", dict(op.other_config))))
                    else:
                        txn.add(api.db_remove("Port", op.name, "other_config",
                                              *p.OWN_KEYS, if_exists=True))
                elif isinstance(op, p.SetMtu):
                    txn.add(api.db_set("Interface", op.name, ("mtu_request", op.mtu)))
                elif isinstance(op, p.SetCookie):
                    txn.add(api.br_set_external_id(op.bridge, COOKIE_KEY, f"{op.cookie:#x}"))
        LOG.info("OVSDB: %d operation(s) applied", len(ops))
