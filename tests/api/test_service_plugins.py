"""A server without the optional service plugins and port extension drivers
(``service_plugins =``, ``[ml2] extension_drivers =``): their collections are not served,
their aliases not listed, their attributes not shown; the always-loaded plugins are."""

from __future__ import annotations

from tests.api.l3_support import network, ok, port
from tests.support.server import Server

SERVER_CONF = {"DEFAULT": {"service_plugins": ""}, "ml2": {"extension_drivers": ""}}


def test_only_loaded_plugins_are_served(server: Server) -> None:
    aliases = {e["alias"] for e in ok(server, "GET", "/v2.0/extensions")["extensions"]}
    for gone in ("router", "external-net", "extraroute", "floatingip-pools",
                 "port-security", "allowed-address-pairs", "port-device-profile",
                 "port-numa-affinity-policy", "floating-ip-port-forwarding",
                 "expose-port-forwarding-in-fip", "l3-port-ip-change-not-allowed",
                 "floating-ip-router-writable"):
        assert gone not in aliases
    for kept in ("security-group", "rbac-policies", "agent", "subnet_allocation",
                 "network-ip-availability", "binding", "extra_dhcp_opt", "quotas",
                 "port-mac-override"):
        assert kept in aliases
    code, _ = server.request("GET", "/v2.0/routers")
    assert code == 404
    code, _ = server.request("GET", "/v2.0/floatingips")
    assert code == 404
    assert ok(server, "GET", "/v2.0/security-groups")["security_groups"] is not None
    net = network(server)
    assert "router:external" not in net
    p = port(server, net)
    for attr in ("device_profile", "port_security_enabled", "security_groups"):
        assert attr not in p
    assert p["binding:vif_type"] == "unbound" and p["extra_dhcp_opts"] == []
