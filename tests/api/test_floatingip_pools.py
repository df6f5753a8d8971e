"""floatingip-pools: GET /v2.0/floatingip_pools lists the IPv4 subnets of the external
networks the caller sees (neutron-tempest-plugin's test_floatingip_pools), on every
backend."""

from __future__ import annotations

import uuid

from tests.api.l3_support import error, external_net, network, ok, subnet
from tests.support.server import Server, project_headers

PATH = "/v2.0/floatingip_pools"


def test_pools_are_the_external_ipv4_subnets_a_caller_sees(server: Server) -> None:
    ext, ext_sub = external_net(server, "198.51.100.0/24")
    subnet(server, ext, "2001:db8:70::/64", ip_version=6, enable_dhcp=False)
    internal = network(server)
    subnet(server, internal, "10.70.0.0/24")
    # an external network opened to one project only
    private_ext = network(server)
    private_sub = subnet(server, private_ext, "203.0.113.0/24", enable_dhcp=False)
    chosen = uuid.uuid4().hex
    ok(server, "POST", "/v2.0/rbac-policies", {"rbac_policy": {
        "object_type": "network", "object_id": private_ext["id"],
        "action": "access_as_external", "target_tenant": chosen}})

    def pools(headers: dict[str, str] | None, query: str = "") -> list[dict[str, str]]:
        return ok(server, "GET", f"{PATH}{query}", headers=headers)["floatingip_pools"]

    stranger = project_headers(f"p-{uuid.uuid4().hex[:12]}")
    seen = pools(stranger)
    assert {"subnet_id": ext_sub["id"], "subnet_name": ext_sub["name"],
            "cidr": "198.51.100.0/24", "network_id": ext["id"],
            "project_id": ext_sub["project_id"], "tenant_id": ext_sub["project_id"]} in seen
    assert {p["subnet_id"] for p in seen} & {private_sub["id"]} == set()
    assert all(p["cidr"] != "2001:db8:70::/64" for p in seen)
    assert private_sub["id"] in {p["subnet_id"] for p in pools(project_headers(chosen))}
    assert private_sub["id"] in {p["subnet_id"] for p in pools(None)}  # the operator
    assert {p["network_id"] for p in pools(None)} & {internal["id"]} == set()

    only = pools(stranger, f"?network_id={ext['id']}&fields=subnet_id&fields=cidr")
    assert only == [{"subnet_id": ext_sub["id"], "cidr": "198.51.100.0/24"}]
    code, _, _ = error(server, "GET", f"{PATH}?bogus=1", headers=stranger)
    assert code == 400
    code, _, _ = error(server, "POST", PATH, {"floatingip_pool": {}})
    assert code == 405
    aliases = {e["alias"] for e in ok(server, "GET", "/v2.0/extensions")["extensions"]}
    assert "floatingip-pools" in aliases
