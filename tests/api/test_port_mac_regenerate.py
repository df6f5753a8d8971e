"""port-mac-address-regenerate: ``mac_address: null`` on a port update gives it a new
random MAC (admins, by update_port:mac_address; a bound port refuses it as any MAC
change), as neutron-tempest-plugin's test_port_mac_address_regenerate, on every backend."""

from __future__ import annotations

import uuid

from tests.api.l3_support import error, network, ok, port
from tests.support.server import Server, project_headers


def test_null_mac_regenerates(server: Server) -> None:
    headers = project_headers(f"p-{uuid.uuid4().hex[:12]}")
    net = network(server, headers=headers)
    p = port(server, net, headers)
    got = ok(server, "PUT", f"/v2.0/ports/{p['id']}", {"port": {"mac_address": None}})[
        "port"]
    assert got["mac_address"] != p["mac_address"]
    assert got["mac_address"].startswith("fa:16:3e:")  # the default base_mac
    assert got["revision_number"] > p["revision_number"]
    shown = ok(server, "GET", f"/v2.0/ports/{p['id']}")["port"]
    assert shown["mac_address"] == got["mac_address"]
    # a member may not (update_port:mac_address is admin only, as Neutron's)
    code, _, _ = error(server, "PUT", f"/v2.0/ports/{p['id']}",
                       {"port": {"mac_address": None}}, headers)
    assert code in (403, 404)
    # null on create: one is generated, as when it is left out
    q = ok(server, "POST", "/v2.0/ports", {"port": {"network_id": net["id"],
                                                   "mac_address": None}}, headers)["port"]
    assert q["mac_address"].startswith("fa:16:3e:")
    aliases = {e["alias"] for e in ok(server, "GET", "/v2.0/extensions")["extensions"]}
    assert "port-mac-address-regenerate" in aliases
