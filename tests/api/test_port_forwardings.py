"""Floating IP port forwardings (floating-ip-port-forwarding, -description,
expose-port-forwarding-in-fip/-detail) over raw HTTP, on every backend: Neutron's
attributes, errors and rules (services/portforwarding/service.py)."""

from __future__ import annotations

import uuid
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from tests.api.l3_support import error, network, ok, port, subnet, topology
from tests.support.server import Server, project_headers

# port forwardings are the port_forwarding service plugin's (over the router plugin's)
SERVER_CONF = {"DEFAULT": {"service_plugins": "router,port_forwarding"}}


def _base(fip_id: str) -> str:
    return f"/v2.0/floatingips/{fip_id}/port_forwardings"


def _pf(server: Server, fip_id: str, headers: dict[str, str], **body: Any) -> dict:
    return ok(server, "POST", _base(fip_id), {"port_forwarding": body},
              headers)["port_forwarding"]


def _setup(server: Server, headers: dict[str, str], n: int) -> dict[str, Any]:
    topo = topology(server, headers, f"198.51.{n}.0/24", f"10.{n}.0.0/24")
    fip = ok(server, "POST", "/v2.0/floatingips",
             {"floatingip": {"floating_network_id": topo["ext"]["id"]}},
             headers)["floatingip"]
    topo["fip"] = fip
    topo["ip"] = topo["port"]["fixed_ips"][0]["ip_address"]
    return topo


def _not_the_port_s(topo: dict[str, Any]) -> str:
    """An address of the subnet that is not the port's (ports get random addresses)."""
    prefix = topo["ip"].rsplit(".", 1)[0]
    return next(a for a in (f"{prefix}.250", f"{prefix}.251") if a != topo["ip"])


def _body(topo: dict[str, Any], **extra: Any) -> dict[str, Any]:
    return {"external_port": 2222, "internal_port": 22, "protocol": "tcp",
            "internal_port_id": topo["port"]["id"], "internal_ip_address": topo["ip"],
            **extra}


def test_lifecycle(server: Server, headers: dict[str, str]) -> None:
    topo = _setup(server, headers, 11)
    fip, base = topo["fip"], _base(topo["fip"]["id"])
    assert fip["port_forwardings"] == [] and fip["router_id"] is None

    pf = _pf(server, fip["id"], headers, **_body(topo, description="ssh"))
    assert set(pf) == {"id", "external_port", "internal_port", "internal_ip_address",
                       "protocol", "internal_port_id", "description"}
    assert (pf["external_port"], pf["internal_port"], pf["protocol"], pf["description"]) \
        == (2222, 22, "tcp", "ssh")
    shown = ok(server, "GET", f"/v2.0/floatingips/{fip['id']}", headers=headers)["floatingip"]
    # the first forwarding puts the floating IP on the router; it shows its forwardings
    assert shown["router_id"] == topo["router"]["id"] and shown["port_id"] is None
    assert shown["port_forwardings"] == [{
        "id": pf["id"], "internal_ip_address": topo["ip"], "protocol": "tcp",
        "internal_port": 22, "external_port": 2222,
        "internal_port_id": topo["port"]["id"]}]

    udp = _pf(server, fip["id"], headers, **_body(topo, protocol="udp"))  # same port, udp
    assert ok(server, "GET", f"{base}/{pf['id']}", headers=headers)["port_forwarding"] == pf
    listed = ok(server, "GET", f"{base}?protocol=udp", headers=headers)["port_forwardings"]
    assert [p["id"] for p in listed] == [udp["id"]]
    listed = ok(server, "GET", f"{base}?fields=id&sort_key=external_port&sort_dir=asc",
                headers=headers)["port_forwardings"]
    assert sorted(p["id"] for p in listed) == sorted([pf["id"], udp["id"]])
    assert all(list(p) == ["id"] for p in listed)
    page = ok(server, "GET", f"{base}?limit=1&sort_key=protocol&sort_dir=asc",
              headers=headers)
    assert [p["id"] for p in page["port_forwardings"]] == [pf["id"]]  # tcp < udp
    nxt = next(link["href"] for link in page["port_forwardings_links"]
               if link["rel"] == "next")
    page = ok(server, "GET", nxt[nxt.index("/v2.0/"):], headers=headers)
    assert [p["id"] for p in page["port_forwardings"]] == [udp["id"]]
    code, kind, msg = error(server, "GET", f"{base}?internal_port=22", headers=headers)
    assert (code, kind) == (400, "PortForwardingNotSupportFilterField")
    assert msg == "Port Forwarding filter internal_port is not supported."

    updated = ok(server, "PUT", f"{base}/{pf['id']}",
                 {"port_forwarding": {"external_port": 2223, "description": "x"}},
                 headers)["port_forwarding"]
    assert (updated["external_port"], updated["description"]) == (2223, "x")
    code, kind, _ = error(server, "PUT", f"{base}/{pf['id']}",
                          {"port_forwarding": {"internal_ip_address": _not_the_port_s(topo)}},
                          headers)
    assert (code, kind) == (400, "BadRequest")

    ok(server, "DELETE", f"{base}/{pf['id']}", headers=headers)
    code, kind, _ = error(server, "GET", f"{base}/{pf['id']}", headers=headers)
    assert (code, kind) == (404, "PortForwardingNotFound")
    shown = ok(server, "GET", f"/v2.0/floatingips/{fip['id']}", headers=headers)["floatingip"]
    assert shown["router_id"] == topo["router"]["id"]  # the udp one remains
    ok(server, "DELETE", f"{base}/{udp['id']}", headers=headers)
    shown = ok(server, "GET", f"/v2.0/floatingips/{fip['id']}", headers=headers)["floatingip"]
    assert (shown["router_id"], shown["port_forwardings"]) == (None, [])


def test_bad_input(server: Server, headers: dict[str, str]) -> None:
    topo = _setup(server, headers, 12)
    base = _base(topo["fip"]["id"])
    for bad in ({"external_port": 0}, {"internal_port": 65536}, {"protocol": "TCP"},
                {"protocol": "gre"}, {"internal_ip_address": "nope"},
                {"internal_port_id": "x"}, {"bogus": 1}):
        code, kind, _ = error(server, "POST", base,
                              {"port_forwarding": _body(topo, **bad)}, headers)
        assert (code, kind) == (400, "HTTPBadRequest"), bad
    body = _body(topo)
    del body["external_port"]
    code, _, msg = error(server, "POST", base, {"port_forwarding": body}, headers)
    assert code == 400 and "Required attribute 'external_port'" in msg
    # not one of the port's addresses
    code, kind, msg = error(server, "POST", base, {"port_forwarding": _body(
        topo, internal_ip_address=_not_the_port_s(topo))}, headers)
    assert (code, kind) == (400, "BadRequest")
    assert "is not suitable for internal neutron port" in msg
    # a subnet the router has no interface on
    net = network(server, headers=headers)
    subnet(server, net, "10.112.0.0/24", headers=headers)
    far = port(server, net, headers)
    code, kind, msg = error(server, "POST", base, {"port_forwarding": _body(
        topo, internal_port_id=far["id"],
        internal_ip_address=far["fixed_ips"][0]["ip_address"])}, headers)
    assert (code, kind) == (400, "BadRequest") and "is not reachable from subnet" in msg
    # an unknown port, an unknown floating IP
    code, kind, _ = error(server, "POST", base, {"port_forwarding": _body(
        topo, internal_port_id=str(uuid.uuid4()))}, headers)
    assert (code, kind) == (404, "PortNotFound")
    code, kind, _ = error(server, "POST", _base(str(uuid.uuid4())),
                          {"port_forwarding": _body(topo)}, headers)
    assert (code, kind) == (404, "FloatingIPNotFound")
    assert ok(server, "GET", base, headers=headers)["port_forwardings"] == []


def test_collisions(server: Server, headers: dict[str, str]) -> None:
    topo = _setup(server, headers, 13)
    fip, base = topo["fip"], _base(topo["fip"]["id"])
    _pf(server, fip["id"], headers, **_body(topo))
    code, kind, msg = error(server, "POST", base, {"port_forwarding": _body(
        topo, internal_port=23)}, headers)
    assert (code, kind) == (400, "BadRequest")
    assert "port collision with the external_port_range" in msg
    code, kind, msg = error(server, "POST", base, {"port_forwarding": _body(
        topo, external_port=2000)}, headers)
    assert (code, kind) == (400, "BadRequest")
    assert "port collision with the internal_port_range" in msg


def test_association_rules(server: Server, headers: dict[str, str]) -> None:
    topo = _setup(server, headers, 14)
    fip, base = topo["fip"], _base(topo["fip"]["id"])
    _pf(server, fip["id"], headers, **_body(topo))
    other = port(server, topo["net"], headers)
    # a floating IP with forwardings takes no port, and is not deleted
    code, kind, _ = error(server, "PUT", f"/v2.0/floatingips/{fip['id']}",
                          {"floatingip": {"port_id": other["id"]}}, headers)
    assert (code, kind) == (409, "FipInUseByPortForwarding")
    code, kind, _ = error(server, "DELETE", f"/v2.0/floatingips/{fip['id']}",
                          headers=headers)
    assert (code, kind) == (409, "FipInUseByPortForwarding")
    # an empty update keeps it on the router its forwardings need
    shown = ok(server, "PUT", f"/v2.0/floatingips/{fip['id']}", {"floatingip": {}},
               headers)["floatingip"]
    assert shown["router_id"] == topo["router"]["id"]
    # a floating IP associated with a port takes no forwardings
    assoc = ok(server, "POST", "/v2.0/floatingips", {"floatingip": {
        "floating_network_id": topo["ext"]["id"], "port_id": other["id"]}},
        headers)["floatingip"]
    code, kind, _ = error(server, "POST", _base(assoc["id"]), {"port_forwarding": _body(
        topo, external_port=80, internal_port=80)}, headers)
    assert (code, kind) == (409, "FloatingIPPortAlreadyAssociated")
    # a port with a floating IP of its own is no target
    code, kind, _ = error(server, "POST", base, {"port_forwarding": _body(
        topo, external_port=81, internal_port=81, internal_port_id=other["id"],
        internal_ip_address=other["fixed_ips"][0]["ip_address"])}, headers)
    assert (code, kind) == (409, "PortHasBindingFloatingIP")
    # the interface its target needs stays
    code, kind, _ = error(server, "PUT",
                          f"/v2.0/routers/{topo['router']['id']}/remove_router_interface",
                          {"subnet_id": topo["sub"]["id"]}, headers)
    assert (code, kind) == (409, "RouterInterfaceInUseByFloatingIP")


def test_port_changes_remove_forwardings(server: Server, headers: dict[str, str]) -> None:
    topo = _setup(server, headers, 15)
    fip, base = topo["fip"], _base(topo["fip"]["id"])
    pf = _pf(server, fip["id"], headers, **_body(topo))
    # the port's address changes (to one it does not hold: its own was drawn at random):
    # the forwarding to the old one goes
    moved = _not_the_port_s(topo)
    ok(server, "PUT", f"/v2.0/ports/{topo['port']['id']}", {"port": {"fixed_ips": [
        {"subnet_id": topo["sub"]["id"], "ip_address": moved}]}}, headers)
    assert ok(server, "GET", base, headers=headers)["port_forwardings"] == []
    shown = ok(server, "GET", f"/v2.0/floatingips/{fip['id']}", headers=headers)["floatingip"]
    assert shown["router_id"] is None
    pf = _pf(server, fip["id"], headers, **_body(topo, internal_ip_address=moved))
    assert pf["internal_ip_address"] == moved
    # the port goes: its forwardings too, and the floating IP leaves the router
    ok(server, "DELETE", f"/v2.0/ports/{topo['port']['id']}", headers=headers)
    assert ok(server, "GET", base, headers=headers)["port_forwardings"] == []
    shown = ok(server, "GET", f"/v2.0/floatingips/{fip['id']}", headers=headers)["floatingip"]
    assert (shown["router_id"], shown["port_forwardings"]) == (None, [])
    ok(server, "DELETE", f"/v2.0/floatingips/{fip['id']}", headers=headers)


def test_other_projects(server: Server, headers: dict[str, str],
                        admin_headers: dict[str, str]) -> None:
    topo = _setup(server, headers, 16)
    fip, base = topo["fip"], _base(topo["fip"]["id"])
    pf = _pf(server, fip["id"], headers, **_body(topo))
    stranger = project_headers(f"p-{uuid.uuid4().hex[:12]}")
    for method, path, body in (("GET", base, None), ("GET", f"{base}/{pf['id']}", None),
                               ("POST", base, {"port_forwarding": _body(
                                   topo, external_port=99)}),
                               ("PUT", f"{base}/{pf['id']}",
                                {"port_forwarding": {"description": "mine"}}),
                               ("DELETE", f"{base}/{pf['id']}", None)):
        code, kind, _ = error(server, method, path, body, stranger)
        assert (code, kind) == (404, "FloatingIPNotFound"), (method, path)
    # the admin sees and changes it
    got = ok(server, "GET", f"{base}/{pf['id']}", headers=admin_headers)["port_forwarding"]
    assert got["id"] == pf["id"]
    # a reader of the owner project reads; (Neutron's rule) the parent's owner may write
    reader = {**headers, "X-Roles": "reader"}
    assert ok(server, "GET", base, headers=reader)["port_forwardings"][0]["id"] == pf["id"]


def test_concurrent_creates_one_wins(server: Server, headers: dict[str, str]) -> None:
    topo = _setup(server, headers, 17)
    fip = topo["fip"]
    ports = [port(server, topo["net"], headers) for _ in range(6)]

    def create(p: dict[str, Any]) -> int:
        code, _ = server.request("POST", _base(fip["id"]), {"port_forwarding": {
            "external_port": 8080, "internal_port": 80, "protocol": "tcp",
            "internal_port_id": p["id"],
            "internal_ip_address": p["fixed_ips"][0]["ip_address"]}}, headers=headers)
        return code

    with ThreadPoolExecutor(6) as pool:
        codes = list(pool.map(create, ports))
    assert sorted(codes) == [201] + [400] * 5, codes
    assert len(ok(server, "GET", _base(fip["id"]), headers=headers)["port_forwardings"]) == 1


def test_extensions_advertised(server: Server) -> None:
    aliases = {e["alias"] for e in ok(server, "GET", "/v2.0/extensions")["extensions"]}
    assert {"floating-ip-port-forwarding", "floating-ip-port-forwarding-description",
            "expose-port-forwarding-in-fip", "floating-ip-port-forwarding-detail"} <= aliases
    assert "floating-ip-port-forwarding-port-ranges" not in aliases
