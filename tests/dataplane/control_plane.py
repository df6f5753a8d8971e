"""The real server side of the agent protocol for the agents' data-plane tests.

An ``Ml2Plugin`` on a migrated SQLite file serves topic ``plugin`` (``agent_rpc.serve``,
as every API process does) on an in-process bus that the agents under test share; the
test changes the cloud through the real API application, called in-process as an admin
(no HTTP): networks with provider attributes, subnets, ports bound to a host. So the
agents get exactly what a server sends (binding, l2population, security groups, hints)
and the tests look at the results through the API (port status, agents).

``slow_network_replies`` delays get_host_state replies that are not narrowed to security
groups (a slow server), for the race tests of the firewall.
"""

from __future__ import annotations

import io
import ipaddress
import threading
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson

from neutrino import config, protocol
from neutrino.api.factory import build_app, open_database
from neutrino.bus import Bus, make_bus
from neutrino.core.plugin import Ml2Plugin
from neutrino.db import migrate
from neutrino.protocol import rpc
from neutrino.services.agent_rpc import AgentRpc

ADMIN = {"HTTP_X_PROJECT_ID": "dataplane-admin", "HTTP_X_USER_ID": "tester",
         "HTTP_X_ROLES": "admin,member,reader"}
LB = protocol.linuxbridge.AGENT_TYPE


@dataclass
class Net:
    id: str
    mtu: int
    subnets: dict[str, str] = field(default_factory=dict)  # cidr -> subnet id


@dataclass
class Port:
    id: str
    network_id: str
    host: str
    mac_address: str
    ip: str


class ApiError(AssertionError):
    pass


class ControlPlane:
    def __init__(self, workdir: Path, transport_url: str) -> None:
        workdir.mkdir(parents=True, exist_ok=True)
        self.conf = config.make_conf([], overrides={
            "DEFAULT": {"transport_url": transport_url, "state_path": str(workdir)},
            "database": {"connection": f"sqlite:///{workdir / 'neutrino.sqlite'}"},
            "ml2": {"type_drivers": ["local", "flat", "vlan", "vxlan"],
                    "tenant_network_types": ["vxlan"],
                    "mechanism_drivers": ["linuxbridge", "l2population"]},
            "ml2_type_flat": {"flat_networks": ["*"]},
            "ml2_type_vlan": {"network_vlan_ranges": ["provider"]},
        })
        self.db = open_database(self.conf)
        migrate.upgrade(self.db.engine)
        self.bus: Bus = make_bus(self.conf, client_name="dataplane-test-server")
        self.plugin = Ml2Plugin(self.conf, self.db, bus=self.bus)
        self.plugin.start()
        self.app = build_app(self.conf, self.db, self.plugin)
        self.network_delay = 0.0
        self.narrowed_calls: list[list[str]] = []  # security_group_ids asked, in order
        self._lock = threading.Lock()
        self._rpc = AgentRpc(self.plugin)
        self._sub = self.bus.serve(rpc.TOPIC, self._serve, workers=4)

    def _serve(self, request: dict[str, Any]) -> dict[str, Any]:
        args = request.get("args") or {}
        if request.get("method") == rpc.GET_HOST_STATE:
            if args.get("security_group_ids") is not None:
                with self._lock:
                    self.narrowed_calls.append(list(args["security_group_ids"]))
            elif self.network_delay:
                time.sleep(self.network_delay)  # a slow server
        return self._rpc(request)

    def close(self) -> None:
        self._sub.close()
        self.bus.close()
        self.db.dispose()

    # --- the API, in-process ---------------------------------------------------------------
    def api(self, method: str, path: str, body: Any = None) -> Any:
        path, _, qs = path.partition("?")
        data = orjson.dumps(body) if body is not None else b""
        environ = {
            "REQUEST_METHOD": method, "PATH_INFO": "/v2.0" + path, "QUERY_STRING": qs,
            "SERVER_NAME": "localhost", "SERVER_PORT": "9696", "SCRIPT_NAME": "",
            "wsgi.url_scheme": "http", "wsgi.input": io.BytesIO(data),
            "CONTENT_LENGTH": str(len(data)) if data else "", **ADMIN,
        }
        status: list[str] = []
        out = b"".join(self.app(environ, lambda s, _h: status.append(s)))
        code = int(status[0].split()[0])
        result = orjson.loads(out) if out else None
        if code >= 300:
            raise ApiError(f"{method} {path}: {code} {result}")
        return result

    # --- the cloud ---------------------------------------------------------------------------
    def add_network(self, network_type: str = "vxlan", *, segmentation_id: int | None = None,
                    physical_network: str | None = None) -> Net:
        body: dict[str, Any] = {"name": f"net-{uuid.uuid4().hex[:6]}",
                                "provider:network_type": network_type}
        if segmentation_id is not None:
            body["provider:segmentation_id"] = segmentation_id
        if physical_network is not None:
            body["provider:physical_network"] = physical_network
        net = self.api("POST", "/networks", {"network": body})["network"]
        return Net(net["id"], net["mtu"])

    def _subnet(self, net: Net, ip: str) -> str:
        cidr = str(ipaddress.ip_network(f"{ip}/24", strict=False))
        if cidr not in net.subnets:
            net.subnets[cidr] = self.api("POST", "/subnets", {"subnet": {
                "network_id": net.id, "cidr": cidr, "ip_version": 4, "gateway_ip": None,
                "enable_dhcp": False}})["subnet"]["id"]
        return net.subnets[cidr]

    def add_port(self, net: Net, host: str, mac: str, ip: str, *,
                 security_groups: list[str] | None = None) -> Port:
        """A port bound to ``host``; without ``security_groups`` it has no port security
        (not filtered), as the L2 tests want."""
        body: dict[str, Any] = {
            "network_id": net.id, "mac_address": mac, "device_owner": "compute:nova",
            "device_id": str(uuid.uuid4()), "binding:host_id": host,
            "fixed_ips": [{"subnet_id": self._subnet(net, ip), "ip_address": ip}]}
        if security_groups is None:
            body["port_security_enabled"] = False
        else:
            body["security_groups"] = security_groups
        port = self.api("POST", "/ports", {"port": body})["port"]
        return Port(port["id"], net.id, host, port["mac_address"], ip)

    def update_port(self, port: Port, **changes: Any) -> dict[str, Any]:
        return self.api("PUT", f"/ports/{port.id}", {"port": changes})["port"]

    def delete_port(self, port: Port) -> None:
        self.api("DELETE", f"/ports/{port.id}")

    def delete_network(self, net: Net) -> None:
        for p in self.api("GET", f"/ports?network_id={net.id}&fields=id")["ports"]:
            self.api("DELETE", f"/ports/{p['id']}")
        self.api("DELETE", f"/networks/{net.id}")

    def security_group(self, name: str, rules: list[dict[str, Any]]) -> str:
        """A group with Neutron's default egress rules plus ``rules`` (``remote_group_id``
        "self" names the group itself)."""
        sg = self.api("POST", "/security-groups", {"security_group": {"name": name}})
        sg_id = sg["security_group"]["id"]
        for rule in rules:
            self.add_rule(sg_id, rule)
        return sg_id

    def add_rule(self, sg_id: str, rule: dict[str, Any]) -> str:
        body = {"security_group_id": sg_id, **rule}
        if body.get("remote_group_id") == "self":
            body["remote_group_id"] = sg_id
        return self.api("POST", "/security-group-rules",
                        {"security_group_rule": body})["security_group_rule"]["id"]

    # --- what the server knows ------------------------------------------------------------------
    @property
    def up(self) -> set[str]:
        """Ids of the ACTIVE ports (those their host's L2 agent reported wired)."""
        return {p["id"] for p in self.api("GET", "/ports?status=ACTIVE&fields=id")["ports"]}

    def status(self, port: Port) -> str:
        return self.api("GET", f"/ports/{port.id}")["port"]["status"]

    @property
    def agents(self) -> dict[str, dict[str, Any]]:
        """Host -> its Linux bridge agent, as the API shows it."""
        rows = self.api("GET", f"/agents?agent_type={LB.replace(' ', '%20')}")["agents"]
        return {r["host"]: r for r in rows}

    def hint(self, host: str, **keys: Any) -> None:
        """A hint as the server sends it (for tests that make an agent resync)."""
        self.bus.publish(rpc.hint_topic(host), protocol.to_wire(rpc.Hint(**keys)))
