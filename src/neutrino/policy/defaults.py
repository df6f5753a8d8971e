"""Neutron's default policy rules (secure RBAC, "new defaults"), in neutrino's words.

Rule names and check strings are Neutron's, so an operator's policy.yaml written for
Neutron applies unchanged. Every rule is project scoped, as in Neutron.
"""

from __future__ import annotations

from oslo_policy import policy

ADMIN = "rule:admin_only"
SERVICE = "rule:service_api"
PROJECT_MEMBER = "role:member and project_id:%(project_id)s"
PROJECT_READER = "role:reader and project_id:%(project_id)s"
PROJECT_MANAGER = "role:manager and project_id:%(project_id)s"
ADMIN_OR_PROJECT_MEMBER = f"({ADMIN}) or ({PROJECT_MEMBER})"
ADMIN_OR_PROJECT_READER = f"({ADMIN}) or ({PROJECT_READER})"
NET_OWNER_MEMBER = "role:member and rule:network_owner"
NET_OWNER_READER = "role:reader and rule:network_owner"
NET_OWNER_MANAGER = "role:manager and rule:network_owner"

BASE = {
    "context_is_admin": "role:admin",
    "service_api": "role:service",
    "owner": "project_id:%(project_id)s",
    "admin_or_owner": "rule:context_is_admin or rule:owner",
    "context_is_advsvc": "role:advsvc",
    "admin_or_network_owner": "rule:context_is_admin or project_id:%(network:project_id)s",
    "admin_owner_or_network_owner": "rule:owner or rule:admin_or_network_owner",
    "network_owner": "project_id:%(network:project_id)s",
    "admin_only": "rule:context_is_admin",
    "regular_user": "",
    "shared": "field:networks:shared=True",
    "external": "field:networks:router:external=True",
    "network_device": "field:port:device_owner=~^network:",
    "default": "rule:admin_or_owner",
}

_NETWORK = {
    "create_network": ADMIN_OR_PROJECT_MEMBER,
    "create_network:shared": ADMIN,
    "create_network:router:external": ADMIN,
    "create_network:is_default": ADMIN,
    "create_network:segments": ADMIN,
    "create_network:provider:network_type": ADMIN,
    "create_network:provider:physical_network": ADMIN,
    "create_network:provider:segmentation_id": ADMIN,
    "get_network": f"({ADMIN}) or ({PROJECT_READER}) or {SERVICE} or rule:shared or "
                   "rule:external or rule:context_is_advsvc",
    "get_network:segments": ADMIN,
    "get_network:provider:network_type": ADMIN,
    "get_network:provider:physical_network": ADMIN,
    "get_network:provider:segmentation_id": ADMIN,
    "update_network": ADMIN_OR_PROJECT_MEMBER,
    "update_network:segments": ADMIN,
    "update_network:shared": ADMIN,
    "update_network:provider:network_type": ADMIN,
    "update_network:provider:physical_network": ADMIN,
    "update_network:provider:segmentation_id": ADMIN,
    "update_network:router:external": ADMIN,
    "update_network:is_default": ADMIN,
    # branch policyattr: port_security_enabled is enforce_policy (Neutron's rules)
    "create_network:port_security_enabled": ADMIN_OR_PROJECT_MEMBER,
    "update_network:port_security_enabled": ADMIN_OR_PROJECT_MEMBER,
    "delete_network": ADMIN_OR_PROJECT_MEMBER,
}

_SUBNET = {
    "create_subnet": f"({ADMIN}) or ({NET_OWNER_MEMBER})",
    "create_subnet:segment_id": ADMIN,
    "create_subnet:service_types": ADMIN,
    "get_subnet": f"{PROJECT_READER} or rule:shared or rule:external_network or ({ADMIN}) or "
                  f"({NET_OWNER_READER}) or {SERVICE}",
    "get_subnet:segment_id": ADMIN,
    "update_subnet": f"{PROJECT_MEMBER} or ({ADMIN}) or ({NET_OWNER_MEMBER})",
    "update_subnet:segment_id": ADMIN,
    "update_subnet:service_types": ADMIN,
    "delete_subnet": f"{PROJECT_MEMBER} or ({ADMIN}) or ({NET_OWNER_MEMBER})",
    "external_network": "field:subnets:router:external=True",
}

_ADMIN_SERVICE_NETOWNER = f"({ADMIN}) or ({SERVICE}) or {NET_OWNER_MEMBER}"
_PORT = {
    "create_port": f"({ADMIN}) or ({PROJECT_MEMBER}) or ({SERVICE})",
    "create_port:device_id": f"{ADMIN_OR_PROJECT_MEMBER} or ({SERVICE})",
    "create_port:device_owner": f"not rule:network_device or {_ADMIN_SERVICE_NETOWNER}",
    "create_port:mac_address": _ADMIN_SERVICE_NETOWNER,
    "create_port:fixed_ips": f"{_ADMIN_SERVICE_NETOWNER} or rule:shared",
    "create_port:fixed_ips:ip_address": _ADMIN_SERVICE_NETOWNER,
    "create_port:fixed_ips:subnet_id": f"{_ADMIN_SERVICE_NETOWNER} or rule:shared",
    "create_port:port_security_enabled": _ADMIN_SERVICE_NETOWNER,
    "create_port:binding:host_id": f"({ADMIN}) or ({SERVICE})",
    "create_port:binding:profile": SERVICE,
    "create_port:binding:vnic_type": f"{ADMIN_OR_PROJECT_MEMBER} or ({SERVICE})",
    "create_port:allowed_address_pairs": _ADMIN_SERVICE_NETOWNER,
    "create_port:allowed_address_pairs:mac_address": _ADMIN_SERVICE_NETOWNER,
    "create_port:allowed_address_pairs:ip_address": _ADMIN_SERVICE_NETOWNER,
    "get_port": f"({ADMIN}) or ({SERVICE}) or {NET_OWNER_READER} or {PROJECT_READER}",
    "get_port:binding:vif_type": f"({ADMIN}) or ({SERVICE})",
    "get_port:binding:vif_details": f"({ADMIN}) or ({SERVICE})",
    "get_port:binding:host_id": f"({ADMIN}) or ({SERVICE})",
    "get_port:binding:profile": f"({ADMIN}) or ({SERVICE})",
    "update_port": f"({ADMIN}) or ({SERVICE}) or {PROJECT_MEMBER}",
    "update_port:device_id": f"{ADMIN_OR_PROJECT_MEMBER} or ({SERVICE})",
    "update_port:device_owner": f"not rule:network_device or {_ADMIN_SERVICE_NETOWNER}",
    "update_port:mac_address": f"({ADMIN}) or ({SERVICE}) or {NET_OWNER_MANAGER}",
    "update_port:fixed_ips": _ADMIN_SERVICE_NETOWNER,
    "update_port:fixed_ips:ip_address": _ADMIN_SERVICE_NETOWNER,
    "update_port:fixed_ips:subnet_id": f"{_ADMIN_SERVICE_NETOWNER} or rule:shared",
    "update_port:port_security_enabled": _ADMIN_SERVICE_NETOWNER,
    "update_port:binding:host_id": f"({ADMIN}) or ({SERVICE})",
    "update_port:binding:profile": SERVICE,
    "update_port:binding:vnic_type": f"{ADMIN_OR_PROJECT_MEMBER} or ({SERVICE})",
    "update_port:allowed_address_pairs": _ADMIN_SERVICE_NETOWNER,
    "update_port:allowed_address_pairs:mac_address": _ADMIN_SERVICE_NETOWNER,
    "update_port:allowed_address_pairs:ip_address": _ADMIN_SERVICE_NETOWNER,
    "delete_port": f"({ADMIN}) or ({SERVICE}) or {NET_OWNER_MEMBER} or {PROJECT_MEMBER}",
}

_RBAC = {
    "restrict_wildcard": "(not field:rbac_policy:target_tenant=* and "
                         "not field:rbac_policy:target_project=*) or rule:admin_only",
    "create_rbac_policy": ADMIN_OR_PROJECT_MEMBER,
    "create_rbac_policy:target_tenant": "rule:restrict_wildcard",
    "update_rbac_policy": ADMIN_OR_PROJECT_MEMBER,
    "update_rbac_policy:target_tenant": "rule:restrict_wildcard",
    "get_rbac_policy": ADMIN_OR_PROJECT_READER,
    "delete_rbac_policy": ADMIN_OR_PROJECT_MEMBER,
}

_QUOTA = {
    "get_quota": f"({ADMIN}) or ({PROJECT_MANAGER})",
    "update_quota": ADMIN,
    "delete_quota": ADMIN,
}

# Agents are the operator's business only (as Neutron's agent rules).
_AGENT = {
    "get_agent": ADMIN,
    "update_agent": ADMIN,
    "delete_agent": ADMIN,
    # network-ip-availability (api/ip_availability.py)
    "get_network_ip_availability": ADMIN,
    # floatingip-pools (api/floatingip_pools.py): anyone, of the networks it sees
    "get_floatingip_pool": "rule:regular_user",
}

# --- agent scheduling and availability zones (branch agentsaz) -------------------------------
# dhcp_agent_scheduler, l3_agent_scheduler (api/agent_scheduler.py): Neutron's names, admin;
# availability_zone (api/availability_zones.py): any reader, as Neutron's "role:reader".
_AGENT.update({
    "create_dhcp-network": ADMIN,
    "get_dhcp-networks": ADMIN,
    "delete_dhcp-network": ADMIN,
    "get_dhcp-agents": ADMIN,
    "create_l3-router": ADMIN,
    "get_l3-routers": ADMIN,
    "update_l3-router": ADMIN,
    "delete_l3-router": ADMIN,
    "get_l3-agents": ADMIN,
    "get_availability_zone": "role:reader",
})


# binding-extended (api/port_bindings.py): Neutron's rule names. Neutron's defaults since
# 2023.2 let only the service role (Nova) create, delete and activate; admins may too here,
# as in Neutron before that. update_port_binding has no rule of its own in Neutron (its
# "default" would let a port's owner rewrite bindings): admin or service.
_PORT_BINDING = {
    "get_port_binding": f"({ADMIN}) or ({SERVICE})",
    "create_port_binding": f"({ADMIN}) or ({SERVICE})",
    "update_port_binding": f"({ADMIN}) or ({SERVICE})",
    "delete_port_binding": f"({ADMIN}) or ({SERVICE})",
    "activate": f"({ADMIN}) or ({SERVICE})",
}


# Routers and floating IPs (services/l3/): Neutron's defaults. SNAT and the choice of
# gateway addresses are the operator's.
_ROUTER = {
    "create_router": ADMIN_OR_PROJECT_MEMBER,
    "create_router:external_gateway_info": ADMIN_OR_PROJECT_MEMBER,
    "create_router:external_gateway_info:network_id": ADMIN_OR_PROJECT_MEMBER,
    "create_router:external_gateway_info:enable_snat": ADMIN,
    "create_router:external_gateway_info:external_fixed_ips": ADMIN,
    "create_router:distributed": ADMIN,
    "create_router:ha": ADMIN,
    "get_router": ADMIN_OR_PROJECT_READER,
    "get_router:distributed": ADMIN,
    # Neutron's is ADMIN, with l3-ha. Without it (not offered yet) every router is a
    # legacy one and says so to its readers, as clients finding no l3-ha expect
    # (openstacksdk's router tests read is_ha as a project member). Back to ADMIN with
    # l3-ha.
    "get_router:ha": ADMIN_OR_PROJECT_READER,
    "update_router": ADMIN_OR_PROJECT_MEMBER,
    "update_router:external_gateway_info": ADMIN_OR_PROJECT_MEMBER,
    "update_router:external_gateway_info:network_id": ADMIN_OR_PROJECT_MEMBER,
    "update_router:external_gateway_info:enable_snat": ADMIN,
    "update_router:external_gateway_info:external_fixed_ips": ADMIN,
    "update_router:distributed": ADMIN,
    "update_router:ha": ADMIN,
    "delete_router": ADMIN_OR_PROJECT_MEMBER,
    "add_router_interface": ADMIN_OR_PROJECT_MEMBER,
    "remove_router_interface": ADMIN_OR_PROJECT_MEMBER,
    "add_extraroutes": ADMIN_OR_PROJECT_MEMBER,
    "remove_extraroutes": ADMIN_OR_PROJECT_MEMBER,
}

_FLOATINGIP = {
    "create_floatingip": ADMIN_OR_PROJECT_MEMBER,
    "create_floatingip:floating_ip_address": ADMIN,
    "get_floatingip": ADMIN_OR_PROJECT_READER,
    "update_floatingip": ADMIN_OR_PROJECT_MEMBER,
    # branch smallext: floating-ip-router-writable
    "create_floatingip:router_id": ADMIN_OR_PROJECT_MEMBER,
    "update_floatingip:router_id": ADMIN_OR_PROJECT_MEMBER,
    "delete_floatingip": ADMIN_OR_PROJECT_MEMBER,
}


def _tag_rules() -> dict[str, str]:
    rules = {}
    for res, read, write in (
        ("network", f"{ADMIN_OR_PROJECT_READER} or rule:shared or rule:external or "
                    "rule:context_is_advsvc", ADMIN_OR_PROJECT_MEMBER),
        ("subnet", f"{PROJECT_READER} or rule:shared or rule:external_network or ({ADMIN}) or "
                   f"({NET_OWNER_READER})",
         f"{PROJECT_MEMBER} or ({ADMIN}) or ({NET_OWNER_MEMBER})"),
        ("port", f"({ADMIN}) or {NET_OWNER_READER} or {PROJECT_READER} or "
                 "rule:context_is_advsvc",
         f"({ADMIN}) or {NET_OWNER_MEMBER} or {PROJECT_MEMBER} or rule:context_is_advsvc"),
        ("router", ADMIN_OR_PROJECT_READER, ADMIN_OR_PROJECT_MEMBER),
        ("floatingip", ADMIN_OR_PROJECT_READER, ADMIN_OR_PROJECT_MEMBER),
    ):
        rules[f"get_{res}:tags"] = read
        for verb in ("create", "update", "delete"):
            rules[f"{verb}_{res}:tags"] = write
    return rules


# Security groups and rules (services/securitygroups/): Neutron's defaults. A rule's
# target carries ``security_group:project_id`` (its group's owner, rule:sg_owner).
_SECURITY_GROUP = {
    "admin_or_sg_owner": "rule:context_is_admin or "
                         "tenant_id:%(security_group:tenant_id)s",
    "admin_owner_or_sg_owner": "rule:owner or rule:admin_or_sg_owner",
    "sg_owner": "project_id:%(security_group:project_id)s",
    "shared_security_group": "field:security_groups:shared=True",
    "create_security_group": ADMIN_OR_PROJECT_MEMBER,
    "get_security_group": f"({ADMIN_OR_PROJECT_READER}) or rule:shared_security_group",
    "update_security_group": ADMIN_OR_PROJECT_MEMBER,
    "delete_security_group": ADMIN_OR_PROJECT_MEMBER,
    "create_security_group_rule": ADMIN_OR_PROJECT_MEMBER,
    "get_security_group_rule": f"({ADMIN_OR_PROJECT_READER}) or rule:sg_owner",
    "delete_security_group_rule": ADMIN_OR_PROJECT_MEMBER,
    # security-groups-default-rules: the template, admin-managed; any reader sees it (it
    # has no owner: what a new group will hold)
    "create_default_security_group_rule": ADMIN,
    "get_default_security_group_rule": "role:reader",
    "delete_default_security_group_rule": ADMIN,
}
_SECURITY_GROUP.update({f"{verb}_security_group:tags": rule for verb, rule in (
    ("get", ADMIN_OR_PROJECT_READER), ("create", ADMIN_OR_PROJECT_MEMBER),
    ("update", ADMIN_OR_PROJECT_MEMBER), ("delete", ADMIN_OR_PROJECT_MEMBER))})


# Subnet pools and address scopes (services/subnetpools/): Neutron's defaults.
_SUBNETPOOL = {
    "shared_subnetpools": "field:subnetpools:shared=True",
    "create_subnetpool": ADMIN_OR_PROJECT_MEMBER,
    "create_subnetpool:shared": ADMIN,
    "create_subnetpool:is_default": ADMIN,
    "get_subnetpool": f"({ADMIN_OR_PROJECT_READER}) or rule:shared_subnetpools",
    "update_subnetpool": ADMIN_OR_PROJECT_MEMBER,
    "update_subnetpool:is_default": ADMIN,
    "delete_subnetpool": ADMIN_OR_PROJECT_MEMBER,
    "add_prefixes": ADMIN_OR_PROJECT_MEMBER,
    "remove_prefixes": ADMIN_OR_PROJECT_MEMBER,
    "onboard_network_subnets": ADMIN_OR_PROJECT_MEMBER,
    "shared_address_scopes": "field:address_scopes:shared=True",
    "create_address_scope": ADMIN_OR_PROJECT_MEMBER,
    "create_address_scope:shared": ADMIN,
    "get_address_scope": f"({ADMIN_OR_PROJECT_READER}) or rule:shared_address_scopes",
    "update_address_scope": ADMIN_OR_PROJECT_MEMBER,
    "update_address_scope:shared": ADMIN,
    "delete_address_scope": ADMIN_OR_PROJECT_MEMBER,
}
for _res, _read in (("subnetpool", "rule:shared_subnetpools"),
                    ("address_scope", "rule:shared_address_scopes")):
    _SUBNETPOOL[f"get_{_res}:tags"] = f"({ADMIN_OR_PROJECT_READER}) or {_read}"
    for _verb in ("create", "update", "delete"):
        _SUBNETPOOL[f"{_verb}_{_res}:tags"] = ADMIN_OR_PROJECT_MEMBER


# --- address groups, default statefulness (branch addrgroups): Neutron's defaults --------
_ADDRESS_GROUP = {
    "shared_address_groups": "field:address_groups:shared=True",
    "create_address_group": ADMIN_OR_PROJECT_MEMBER,
    "get_address_group": f"({ADMIN_OR_PROJECT_READER}) or rule:shared_address_groups",
    "update_address_group": ADMIN_OR_PROJECT_MEMBER,
    "delete_address_group": ADMIN_OR_PROJECT_MEMBER,
    "add_addresses": ADMIN_OR_PROJECT_MEMBER,
    "remove_addresses": ADMIN_OR_PROJECT_MEMBER,
    **{f"{verb}_security_groups_default_statefulness": rule for verb, rule in (
        ("create", f"({ADMIN}) or ({PROJECT_MANAGER})"), ("get", ADMIN_OR_PROJECT_READER),
        ("update", f"({ADMIN}) or ({PROJECT_MANAGER})"),
        ("delete", f"({ADMIN}) or ({PROJECT_MANAGER})"))},
}
# --- end address groups ------------------------------------------------------------------

# --- branch portfwd: floating IP port forwardings (Neutron's floatingip_port_forwarding
# rules: the parent floating IP's owner, ext_parent_owner) ---
_PORT_FORWARDING = {
    "ext_parent_owner": "tenant_id:%(ext_parent:tenant_id)s",
    "create_floatingip_port_forwarding": f"({ADMIN_OR_PROJECT_MEMBER}) or "
                                         "rule:ext_parent_owner",
    "get_floatingip_port_forwarding": f"({ADMIN_OR_PROJECT_READER}) or "
                                      "rule:ext_parent_owner",
    "update_floatingip_port_forwarding": f"({ADMIN_OR_PROJECT_MEMBER}) or "
                                         "rule:ext_parent_owner",
    "delete_floatingip_port_forwarding": f"({ADMIN_OR_PROJECT_MEMBER}) or "
                                         "rule:ext_parent_owner",
}
# --- end branch portfwd ---


# --- flavors, service-type, auto-allocated-topology (branch flavors): Neutron's defaults.
# Flavors and service providers belong to no project: any reader sees them.
_FLAVOR = {
    "create_flavor": ADMIN,
    "get_flavor": "role:reader",
    "update_flavor": ADMIN,
    "delete_flavor": ADMIN,
    "create_service_profile": ADMIN,
    "get_service_profile": ADMIN,
    "update_service_profile": ADMIN,
    "delete_service_profile": ADMIN,
    "get_flavor_service_profile": ADMIN_OR_PROJECT_READER,
    "create_flavor_service_profile": ADMIN,
    "delete_flavor_service_profile": ADMIN,
    "get_service_provider": "role:reader",
    "get_auto_allocated_topology": ADMIN_OR_PROJECT_READER,
    "delete_auto_allocated_topology": ADMIN_OR_PROJECT_MEMBER,
}


# --- branch segments: Neutron's segment rules (admins only), its tag rules
# (<verb>_segments_tags) and the <verb>_segment:tags names that api/tags.py asks ---
_SEGMENT = {f"{verb}_{name}": ADMIN for verb in ("create", "get", "update", "delete")
            for name in ("segment", "segments_tags", "segment:tags")}
# --- end branch segments ---


def rules() -> list[policy.RuleDefault]:
    out = []
    for group in (BASE, _NETWORK, _SUBNET, _PORT, _RBAC, _QUOTA, _AGENT, _PORT_BINDING,
                  _ROUTER, _FLOATINGIP, _SECURITY_GROUP, _SUBNETPOOL, _ADDRESS_GROUP,
                  _FLAVOR, _SEGMENT,  # _SEGMENT: branch segments
                  _tag_rules(), _PORT_FORWARDING):  # _PORT_FORWARDING: branch portfwd
        for name, check in group.items():
            scope = None if group is BASE else ["project"]
            out.append(policy.RuleDefault(name, check, scope_types=scope))
    return out
