"""The basic documents and a network/subnet/port round trip over HTTP."""

from __future__ import annotations

from tests.support.server import Server


def test_versions_and_resources(server: Server) -> None:
    status, body = server.request("GET", "/")
    assert status == 200
    assert body["versions"][0]["id"] == "v2.0"
    assert body["versions"][0]["links"][0]["href"].endswith("/v2.0/")
    status, body = server.request("GET", "/v2.0/")
    assert status == 200
    assert {r["collection"] for r in body["resources"]} >= {"networks", "subnets", "ports"}


def test_network_subnet_port_round_trip(server: Server, headers: dict[str, str]) -> None:
    status, body = server.request("POST", "/v2.0/networks", {"network": {"name": "n"}},
                                  headers=headers)
    assert status == 201, body
    net = body["network"]
    status, body = server.request(
        "POST", "/v2.0/subnets",
        {"subnet": {"network_id": net["id"], "cidr": "10.9.0.0/24", "ip_version": 4}},
        headers=headers)
    assert status == 201, body
    subnet = body["subnet"]
    assert subnet["gateway_ip"] == "10.9.0.1"
    assert subnet["allocation_pools"] == [{"start": "10.9.0.2", "end": "10.9.0.254"}]
    status, body = server.request("POST", "/v2.0/ports", {"port": {"network_id": net["id"]}},
                                  headers=headers)
    assert status == 201, body
    port = body["port"]
    assert port["status"] == "DOWN"
    assert port["fixed_ips"][0]["subnet_id"] == subnet["id"]
    status, body = server.request("DELETE", f"/v2.0/networks/{net['id']}", headers=headers)
    assert status == 409 and body["NeutronError"]["type"] == "NetworkInUse"
    assert server.request("DELETE", f"/v2.0/ports/{port['id']}", headers=headers)[0] == 204
    assert server.request("DELETE", f"/v2.0/networks/{net['id']}", headers=headers)[0] == 204
    status, body = server.request("GET", f"/v2.0/subnets/{subnet['id']}", headers=headers)
    assert status == 404 and body["NeutronError"]["type"] == "SubnetNotFound"
