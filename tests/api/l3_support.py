"""Helpers of the L3 API tests (routers, floating IPs, external networks): resources made
over raw HTTP, and the openstack CLI fixture."""

from __future__ import annotations

import uuid
from typing import Any

from tests.support.server import Server


def ok(server: Server, method: str, path: str, body: Any = None,
       headers: dict[str, str] | None = None, status: int | None = None) -> Any:
    code, data = server.request(method, path, body, headers=headers)
    expected = status or {"POST": 201, "DELETE": 204}.get(method, 200)
    assert code == expected, (method, path, code, data)
    return data


def error(server: Server, method: str, path: str, body: Any = None,
          headers: dict[str, str] | None = None) -> tuple[int, str, str]:
    """(status, NeutronError type, message) of a refused request."""
    code, data = server.request(method, path, body, headers=headers)
    assert code >= 400, (method, path, code, data)
    err = data["NeutronError"]
    return code, err["type"], err["message"]


def network(server: Server, *, external: bool = False,
            headers: dict[str, str] | None = None, **extra: Any) -> dict[str, Any]:
    body: dict[str, Any] = {"name": f"n-{uuid.uuid4().hex[:6]}", **extra}
    if external:
        body["router:external"] = True
    return ok(server, "POST", "/v2.0/networks", {"network": body}, headers)["network"]


def subnet(server: Server, net: dict[str, Any], cidr: str,
           headers: dict[str, str] | None = None, **extra: Any) -> dict[str, Any]:
    body = {"network_id": net["id"], "cidr": cidr, "ip_version": 4, **extra}
    return ok(server, "POST", "/v2.0/subnets", {"subnet": body}, headers)["subnet"]


def port(server: Server, net: dict[str, Any], headers: dict[str, str] | None = None,
         **extra: Any) -> dict[str, Any]:
    return ok(server, "POST", "/v2.0/ports", {"port": {"network_id": net["id"], **extra}},
              headers)["port"]


def router(server: Server, headers: dict[str, str] | None = None, **extra: Any
           ) -> dict[str, Any]:
    body = {"name": f"r-{uuid.uuid4().hex[:6]}", **extra}
    return ok(server, "POST", "/v2.0/routers", {"router": body}, headers)["router"]


def add_interface(server: Server, router_id: str, headers: dict[str, str] | None = None,
                  **info: str) -> dict[str, Any]:
    return ok(server, "PUT", f"/v2.0/routers/{router_id}/add_router_interface", info,
              headers)


def external_net(server: Server, cidr: str, **extra: Any
                 ) -> tuple[dict[str, Any], dict[str, Any]]:
    """An external network (admin's) with one subnet."""
    net = network(server, external=True)
    return net, subnet(server, net, cidr, enable_dhcp=False, **extra)


def topology(server: Server, headers: dict[str, str], ext_cidr: str, int_cidr: str
             ) -> dict[str, Any]:
    """An external network, a project network with a subnet, a router of the project
    with its gateway on the external network and an interface on the subnet, and a port
    of the project on that subnet."""
    ext, ext_sub = external_net(server, ext_cidr)
    net = network(server, headers=headers)
    sub = subnet(server, net, int_cidr, headers=headers)
    r = router(server, headers, external_gateway_info={"network_id": ext["id"]})
    add_interface(server, r["id"], headers, subnet_id=sub["id"])
    p = port(server, net, headers)
    return {"ext": ext, "ext_sub": ext_sub, "net": net, "sub": sub, "router": r,
            "port": p}


