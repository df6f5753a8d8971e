"""A stand-in for the API server's side of the agent protocol (docs/agent-protocol.md), for
testing agents against a model the test controls, without HTTP or a database.

It serves topic ``plugin`` (report_state, get_host_state for the Linux bridge agent,
update_device_up/down), computes l2population entries the way the protocol describes
(remote hosts' ports, VTEP = the remote agent's ``tunneling_ip``) and publishes hints to
``host.<host>`` for every host concerned by a change. The end-to-end tests use the real
server; this one lets the agent's own tests say exactly what the server wants.
"""

from __future__ import annotations

import threading
import uuid
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from neutrino.agent.linux import names
from neutrino.bus import Bus

LB = "Linux bridge agent"


@dataclass
class Port:
    id: str
    network_id: str
    host: str
    mac_address: str
    ip: str
    admin_state_up: bool = True
    device_owner: str = "compute:nova"

    def wire(self) -> dict[str, Any]:
        return {"id": self.id, "mac_address": self.mac_address,
                "fixed_ips": [{"subnet_id": "s", "ip_address": self.ip}],
                "admin_state_up": self.admin_state_up, "device_owner": self.device_owner,
                "device": names.tap_name(self.id)}


@dataclass
class Net:
    id: str
    network_type: str
    segmentation_id: int | None = None
    physical_network: str | None = None
    mtu: int = 1450


@dataclass
class StubServer:
    bus: Bus
    networks: dict[str, Net] = field(default_factory=dict)
    ports: dict[str, Port] = field(default_factory=dict)
    agents: dict[str, dict[str, Any]] = field(default_factory=dict)  # host -> report
    up: set[str] = field(default_factory=set)
    calls: list[tuple[str, dict[str, Any]]] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def __post_init__(self) -> None:
        self.sub = self.bus.serve("plugin", self.handle, workers=2)

    def close(self) -> None:
        self.sub.close()

    # --- protocol ----------------------------------------------------------------------------
    def handle(self, req: dict[str, Any]) -> dict[str, Any]:
        method, args = req["method"], req.get("args") or {}
        if method == "update_device_up":
            # a port going up changes the other hosts' l2pop view: hint them
            with self.lock:
                new = set(args["port_ids"]) - self.up
                self.up.update(args["port_ids"])
                self.calls.append((method, args))
                nets = {self.ports[p].network_id for p in new if p in self.ports}
            for net in nets:
                self.hint(net)
            return {}
        with self.lock:
            self.calls.append((method, args))
            if method == "report_state":
                agent = args["agent"]
                self.agents[agent["host"]] = agent
                return {}
            if method == "get_host_state":
                return self._host_state(args["host"], args.get("network_ids"))
            if method == "update_device_down":
                self.up.difference_update(args["port_ids"])
                return {}
        raise ValueError(f"unknown method {method}")

    def _vtep(self, host: str) -> str | None:
        agent = self.agents.get(host)
        return agent["configurations"].get("tunneling_ip") if agent else None

    def _host_state(self, host: str, network_ids: Iterable[str] | None) -> dict[str, Any]:
        wanted = set(network_ids) if network_ids is not None else None
        out = []
        for net in self.networks.values():
            if wanted is not None and net.id not in wanted:
                continue
            local = [p for p in self.ports.values() if p.network_id == net.id
                     and p.host == host]
            if not local:
                continue
            flood, unicast, neigh = set(), {}, {}
            for p in self.ports.values():
                vtep = self._vtep(p.host)
                if p.network_id != net.id or p.host == host or vtep is None:
                    continue
                flood.add(vtep)
                unicast[p.mac_address] = vtep
                neigh[p.ip] = p.mac_address
            out.append({"id": net.id, "network_type": net.network_type,
                        "physical_network": net.physical_network,
                        "segmentation_id": net.segmentation_id, "mtu": net.mtu,
                        "ports": [p.wire() for p in local],
                        "l2pop": {"flood": sorted(flood), "unicast": unicast,
                                  "neigh": neigh}})
        return {"host": host, "networks": out}

    # --- the model -----------------------------------------------------------------------------
    def add_network(self, network_type: str = "vxlan", *, segmentation_id: int | None = None,
                    physical_network: str | None = None, mtu: int = 1450) -> Net:
        net = Net(str(uuid.uuid4()), network_type, segmentation_id, physical_network, mtu)
        with self.lock:
            self.networks[net.id] = net
        return net

    def add_port(self, net: Net, host: str, mac: str, ip: str) -> Port:
        port = Port(str(uuid.uuid4()), net.id, host, mac, ip)
        with self.lock:
            self.ports[port.id] = port
        self.hint(net.id)
        return port

    def update_port(self, port: Port, **changes: Any) -> None:
        with self.lock:
            for k, v in changes.items():
                setattr(port, k, v)
        self.hint(port.network_id)

    def delete_port(self, port: Port) -> None:
        hosts = self._hosts(port.network_id)
        with self.lock:
            self.ports.pop(port.id, None)
            self.up.discard(port.id)
        self.hint(port.network_id, hosts)

    def delete_network(self, net: Net) -> None:
        hosts = self._hosts(net.id)
        with self.lock:
            for p in [p for p in self.ports.values() if p.network_id == net.id]:
                del self.ports[p.id]
            del self.networks[net.id]
        self.hint(net.id, hosts)

    def _hosts(self, network_id: str) -> set[str]:
        with self.lock:
            return {p.host for p in self.ports.values() if p.network_id == network_id}

    def hint(self, network_id: str, extra_hosts: Iterable[str] = ()) -> None:
        for host in self._hosts(network_id) | set(extra_hosts):
            self.bus.publish(f"host.{host}", {"networks": [network_id]})

    def count(self, method: str) -> int:
        with self.lock:
            return sum(1 for m, _ in self.calls if m == method)
