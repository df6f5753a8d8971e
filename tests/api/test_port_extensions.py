"""Port extension drivers of issue #11 (core/port_columns.py, schema/port_device_profile.py,
schema/port_numa_affinity_policy.py) and aap-reject-multicast (schema/port_security.py),
as Neutron's, on every backend: attributes shown on create, show, list and update, bad
values refused with nothing written, the aliases listed."""

from __future__ import annotations

import uuid

import pytest

from tests.api.l3_support import error, network, ok, port
from tests.support.server import Server, project_headers


@pytest.fixture
def net(server: Server) -> dict[str, object]:
    return network(server, headers=project_headers(f"p-{uuid.uuid4().hex[:12]}"))


def test_aliases_listed(server: Server) -> None:
    aliases = {e["alias"] for e in ok(server, "GET", "/v2.0/extensions")["extensions"]}
    assert {"port-device-profile", "port-numa-affinity-policy",
            "port-numa-affinity-policy-socket", "aap-reject-multicast",
            "port-mac-override"} <= aliases  # neutron-lib's port_mac_address_override


def test_device_profile(server: Server, net: dict[str, object]) -> None:
    plain = port(server, net)
    assert plain["device_profile"] is None
    p = port(server, net, device_profile="dp-gpu")
    assert p["device_profile"] == "dp-gpu"
    assert ok(server, "GET", f"/v2.0/ports/{p['id']}")["port"]["device_profile"] == "dp-gpu"
    listed = {x["id"]: x for x in ok(server, "GET", f"/v2.0/ports?network_id={net['id']}")[
        "ports"]}
    assert listed[p["id"]]["device_profile"] == "dp-gpu"
    assert listed[plain["id"]]["device_profile"] is None
    # allow_put False, as neutron-lib's definition
    code, _, _ = error(server, "PUT", f"/v2.0/ports/{p['id']}",
                       {"port": {"device_profile": "other"}})
    assert code == 400
    code, _, message = error(server, "POST", "/v2.0/ports", {"port": {
        "network_id": net["id"], "device_profile": "x" * 256}})
    assert code == 400 and "exceeds maximum length of 255" in message


def test_numa_affinity_policy(server: Server, net: dict[str, object]) -> None:
    p = port(server, net, numa_affinity_policy="required")
    assert p["numa_affinity_policy"] == "required"
    before = p["revision_number"]
    for value in ("socket", "preferred", "legacy", None):
        got = ok(server, "PUT", f"/v2.0/ports/{p['id']}",
                 {"port": {"numa_affinity_policy": value}})["port"]
        assert got["numa_affinity_policy"] == value
        assert got["revision_number"] > before
        before = got["revision_number"]
        shown = ok(server, "GET", f"/v2.0/ports/{p['id']}")["port"]
        assert shown["numa_affinity_policy"] == value
    # the same value again is no change, no new revision
    same = ok(server, "PUT", f"/v2.0/ports/{p['id']}",
              {"port": {"numa_affinity_policy": None}})["port"]
    assert same["revision_number"] == before
    code, type_, _ = error(server, "PUT", f"/v2.0/ports/{p['id']}",
                           {"port": {"numa_affinity_policy": "sometimes"}})
    assert (code, type_) == (400, "HTTPBadRequest")
    assert ok(server, "GET", f"/v2.0/ports/{p['id']}")["port"]["numa_affinity_policy"] is None
    assert port(server, net)["numa_affinity_policy"] is None


@pytest.mark.parametrize(("pair", "message"), [
    ({"ip_address": "224.0.0.5"}, "IP 224.0.0.5 is a multicast address, which is not "
                                  "supported."),
    ({"ip_address": "ff02::1"}, "IP ff02::1 is a multicast address"),
    ({"ip_address": "224.0.0.0/24"}, "Subnet 224.0.0.0/24 overlaps with multicast range "
                                     "224.0.0.0/4, which is not supported."),
    ({"ip_address": "192.0.0.0/2"}, "overlaps with multicast range 224.0.0.0/4"),
    ({"ip_address": "10.0.0.7", "mac_address": "01:00:5e:00:00:01"},
     "MAC address 01:00:5e:00:00:01 is a multicast address, which is not supported."),
])
def test_multicast_address_pairs_refused(server: Server, net: dict[str, object],
                                         pair: dict[str, str], message: str) -> None:
    before = ok(server, "GET", f"/v2.0/ports?network_id={net['id']}")["ports"]
    code, type_, text = error(server, "POST", "/v2.0/ports", {"port": {
        "network_id": net["id"], "allowed_address_pairs": [pair]}})
    assert (code, type_) == (400, "HTTPBadRequest") and message in text
    assert ok(server, "GET", f"/v2.0/ports?network_id={net['id']}")["ports"] == before
    p = port(server, net, allowed_address_pairs=[{"ip_address": "10.0.0.9"}])
    code, type_, text = error(server, "PUT", f"/v2.0/ports/{p['id']}",
                              {"port": {"allowed_address_pairs": [pair]}})
    assert (code, type_) == (400, "HTTPBadRequest") and message in text
    kept = ok(server, "GET", f"/v2.0/ports/{p['id']}")["port"]["allowed_address_pairs"]
    assert [x["ip_address"] for x in kept] == ["10.0.0.9"]


def test_unicast_pairs_and_everything_still_allowed(server: Server,
                                                    net: dict[str, object]) -> None:
    p = port(server, net, allowed_address_pairs=[
        {"ip_address": "0.0.0.0/0"}, {"ip_address": "10.1.0.0/16"},
        {"ip_address": "2001:db8::5", "mac_address": "fa:16:3e:00:00:01"}])
    assert sorted(x["ip_address"] for x in p["allowed_address_pairs"]) == [
        "0.0.0.0/0", "10.1.0.0/16", "2001:db8::5"]
