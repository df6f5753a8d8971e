"""The extensions neutrino implements, under Neutron's aliases: /v2.0/extensions lists
exactly these, so clients that probe for a feature find what is really there."""

from __future__ import annotations

from neutrino.schema import jsonschema as js
from neutrino.schema import port_device_profile, port_numa_affinity_policy
from neutrino.schema import validators as v
from neutrino.schema.base import Attr, Body, Extension, Operation, Resource

IMPLEMENTED: tuple[Extension, ...] = (
    Extension("revision-if-match", "If-Match constraints based on revision_number",
              "Extension indicating that If-Match based on revision_number is supported.",
              "2016-12-11T00:00:00-00:00"),
    Extension("project-id", "project_id field enabled",
              "Extension that indicates that project_id field is enabled.",
              "2016-09-09T09:09:09-09:09"),
    Extension("standard-attr-description", "standard-attr-description",
              "Extension to add descriptions to standard attributes",
              "2016-02-10T10:00:00-00:00"),
    Extension("standard-attr-timestamp", "Resource timestamps",
              "Adds created_at and updated_at fields to all Neutron resources that have "
              "Neutron standard attributes.", "2016-09-12T10:00:00-00:00"),
    Extension("standard-attr-revisions", "Resource revision numbers",
              "This extension will display the revision number of neutron resources.",
              "2016-04-11T10:00:00-00:00"),
    Extension("provider", "Provider Network",
              "Expose mapping of virtual networks to physical networks",
              "2012-09-07T10:00:00-00:00"),
    Extension("multi-provider", "Multi Provider Network",
              "Expose mapping of virtual networks to multiple physical networks",
              "2013-06-27T10:00:00-00:00"),
    Extension("net-mtu", "Network MTU", "Provides MTU attribute for a network resource.",
              "2015-03-25T10:00:00-00:00"),
    Extension("net-mtu-writable", "Network MTU (writable)",
              "Provides a writable MTU attribute for a network resource.",
              "2017-07-12T00:00:00-00:00"),
    Extension("sorting", "Sorting support", "Extension that indicates that sorting is enabled.",
              "2016-06-12T00:00:00-00:00"),
    Extension("pagination", "Pagination support",
              "Extension that indicates that pagination is enabled.",
              "2016-06-12T00:00:00-00:00"),
    # /v2.0/rbac-policies (services/rbac.py): networks shared with chosen projects
    Extension("rbac-policies", "RBAC Policies",
              "Allows creation and modification of policies that control project access "
              "to resources.", "2015-06-17T12:15:12-00:00"),
    Extension("filter-validation", "Filter parameters validation",
              "Provides validation on filter parameters.", "2018-07-04T10:00:00-00:00"),
    Extension("sort-key-validation", "Sort keys validation",
              "Provides validation on sort keys.", "2018-07-04T10:00:00-00:00"),
    Extension("empty-string-filtering", "Empty String Filtering Extension",
              "Allow filtering by attributes with empty string value",
              "2018-05-01T10:00:00-00:00"),
    Extension("ip-substring-filtering", "IP address substring filtering",
              "Provides IP address substring filtering when listing ports",
              "2017-11-28T09:00:00-00:00"),
    # /v2.0/quotas (api/quotas.py, core/quotas.py)
    Extension("quotas", "Quota management support",
              "Expose functions for quotas management per project",
              "2012-07-29T10:00:00-00:00"),
    Extension("quota_details", "Quota details management support",
              "Expose functions for quotas usage statistics per project",
              "2017-02-10T10:00:00-00:00"),
    Extension("quota-check-limit", "Quota engine limit check",
              "Support for checking the resource usage before applying a new quota limit",
              "2021-09-08T16:00:00-00:00"),
    Extension("quota-check-limit-default", "Quota engine limit check by default",
              "By default, the Neutron quota engine checks the resource usage before "
              "applying a new quota limit", "2024-08-21T16:00:00-00:00"),
    # /v2.0/agents (services/agents.py) and ports' binding:* (core/binding.py)
    Extension("agent", "agent", "The agent management extension.",
              "2013-02-03T10:00:00-00:00"),
    Extension("binding", "Port Binding",
              "Expose port bindings of a virtual port to external application",
              "2014-02-03T10:00:00-00:00"),
    # /v2.0/ports/{id}/bindings (api/port_bindings.py, core/binding_extended.py)
    Extension("binding-extended", "Port Bindings Extended",
              "Expose port bindings of a virtual port to external application",
              "2017-07-17T10:00:00-00:00"),
    # ports' extra_dhcp_opts (core/extra_dhcp_opts.py), served by the DHCP agent
    Extension("extra_dhcp_opt", "Neutron Extra DHCP options",
              "Extra options configuration for DHCP. For example PXE boot options to DHCP "
              "clients can be specified (e.g. tftp-server, server-ip-address, bootfile-name)",
              "2013-03-17T12:00:00-00:00"),
    # external networks, routers, floating IPs (services/l3/)
    Extension("external-net", "Neutron external network",
              "Adds external network attribute to network resource.",
              "2013-01-14T10:00:00-00:00"),
    Extension("router", "Neutron L3 Router",
              "Router abstraction for basic L3 forwarding between L2 Neutron networks and "
              "access to external networks via a NAT gateway.",
              "2012-07-20T10:00:00-00:00"),
    Extension("ext-gw-mode", "Neutron L3 Configurable external gateway mode",
              "Extension of the router abstraction for specifying whether SNAT should "
              "occur on the external gateway", "2013-03-28T10:00:00-00:00"),
    Extension("extraroute", "Neutron Extra Route",
              "Extra routes configuration for L3 router", "2013-02-01T10:00:00-00:00"),
    Extension("extraroute-atomic", "Atomically add/remove extra routes",
              "Edit extra routes of a router on server side by atomically adding/removing "
              "extra routes", "2019-07-10T00:00:00-00:00"),
    Extension("fip-port-details", "Floating IP Port Details Extension",
              "Add port_details attribute to Floating IP resource",
              "2018-04-09T10:00:00-00:00"),
    # security groups, port security, address pairs (services/securitygroups/)
    Extension("security-group", "security-group", "The security groups extension.",
              "2012-10-05T10:00:00-00:00"),
    Extension("stateful-security-group", "Stateful security group",
              "Indicates if the security group is stateful or not",
              "2019-11-26T09:00:00-00:00"),
    Extension("port-security", "Port Security",
              "Provides port security", "2012-07-23T10:00:00-00:00"),
    Extension("allowed-address-pairs", "Allowed Address Pairs",
              "Provides allowed address pairs", "2013-07-23T10:00:00-00:00"),
    Extension("security-groups-normalized-cidr", "Security group rule normalized CIDR",
              "Add new field with normalized remote_ip_prefix cidr in SG rule",
              "2020-07-31T00:00:00-00:00"),
    # subnet pools and address scopes (services/subnetpools/)
    Extension("subnet_allocation", "Subnet Allocation",
              "Enables allocation of subnets from a subnet pool",
              "2015-03-30T10:00:00-00:00"),
    Extension("default-subnetpools", "Default Subnetpools",
              "Provides ability to mark and use a subnetpool as the default.",
              "2016-02-18T18:00:00-00:00"),
    Extension("subnetpool-prefix-ops", "Subnet Pool Prefix Operations",
              "Provides support for adjusting the prefix list of subnet pools",
              "2019-02-08T10:00:00-00:00"),
    Extension("subnet_onboard", "Subnet Onboard",
              "Provides support for onboarding subnets into subnet pools",
              "2018-05-25T10:00:00-00:00"),
    Extension("address-scope", "Address scope",
              "Address scopes extension.", "2015-07-26T10:00:00-00:00"),
    Extension("rbac-subnetpool", "Add subnetpool type to RBAC",
              "Add subnetpool type to RBAC", "2019-10-21T10:00:00-00:00"),
    Extension("rbac-address-scope", "Add address_scope type to RBAC",
              "Add address_scope type to RBAC", "2019-10-21T10:00:00-00:00"),
    Extension("security-groups-rules-belongs-to-default-sg",
              "Security group rule belongs to the project's default security group",
              "Flag to determine if the security group rule belongs to the project's "
              "default security group", "2023-05-17T00:00:00-00:00"),
    # /v2.0/default-security-group-rules (services/securitygroups/default_rules.py)
    Extension("security-groups-default-rules", "Default rules for security groups",
              "Configure set of security group rules used as default rules for every "
              "new security group", "2022-12-19T10:00:00-00:00"),
    # security groups shared by RBAC entries (services/securitygroups/rbac.py), their
    # ``shared`` attribute and filter
    Extension("rbac-security-groups", "Add security_group type to network RBAC",
              "Add security_group type to network RBAC", "2019-04-19T00:00:00-00:00"),
    Extension("security-groups-shared-filtering", "Security group filtering on the shared "
              "field", "Support filtering security groups on the shared field",
              "2021-04-09T00:00:00-00:00"),
    # ?security_groups=<id> on port lists (services/securitygroups/ports_ext.py)
    Extension("port-security-groups-filtering", "Port filtering on security groups",
              "Provides security groups filtering when listing ports",
              "2018-01-09T09:00:00-00:00"),
    # --- address groups, statefulness (branch addrgroups; services/addressgroups/) ---
    Extension("address-group", "Address group", "Support address group",
              "2020-07-15T10:00:00-00:00"),
    Extension("rbac-address-group", "Add address_group type to RBAC",
              "Add address_group type to network RBAC", "2021-01-20T00:00:00-00:00"),
    Extension("security-groups-remote-address-group",
              "Remote address group id field for security group rules",
              "Add new field of remote address group id in SG rules",
              "2020-08-25T10:00:00-00:00"),
    Extension("security-groups-default-statefulness", "Security Groups Default Statefulness",
              "Allows configuring the default value of the 'stateful' attribute for new "
              "security groups, on a per-project or system-wide basis",
              "2026-04-13T00:00:00-00:00"),
    # --- end address groups ---
    # ports' mac_address: null on update (core/ports.py)
    Extension("port-mac-address-regenerate", "Neutron Port MAC address regenerate",
              "Network port MAC address regenerate", "2018-05-03T10:00:00-00:00"),
    # /v2.0/floatingip_pools (api/floatingip_pools.py)
    Extension("floatingip-pools", "Floating IP Pools Extension",
              "Provides a floating IP pools API.", "2018-03-21T10:00:00-00:00"),
    # /v2.0/network-ip-availabilities (api/ip_availability.py)
    Extension("network-ip-availability", "Network IP Availability",
              "Provides IP availability data for each network and subnet.",
              "2015-09-24T00:00:00-00:00"),
    Extension("network-ip-availability-details", "Network IP Availability Details",
              "Provides IP availability details for each network and subnet.",
              "2024-10-14T00:00:00-00:00"),
    # --- agent scheduling, availability zones (branch agentsaz: api/agent_scheduler.py,
    # api/availability_zones.py, services/agent_scheduler.py, availability_zones.py);
    # listed while the dhcp_agent_scheduler / router plugins claiming them are loaded
    Extension("dhcp_agent_scheduler", "DHCP Agent Scheduler",
              "Schedule networks among dhcp agents", "2013-02-07T10:00:00-00:00"),
    Extension("l3_agent_scheduler", "L3 Agent Scheduler",
              "Schedule routers among l3 agents", "2013-02-07T10:00:00-00:00"),
    Extension("agent-resources-synced", "Agent's Resource View Synced to Placement",
              "Stores success/failure of last sync to Placement",
              "2018-12-19T00:00:00-00:00"),
    Extension("agent_sort_key", "Agents Sort Key",
              "Enabling the keyword sort_key for sorting in agents.",
              "2013-02-03T10:00:00-00:00"),
    Extension("availability_zone", "Availability Zone", "The availability zone extension.",
              "2015-01-01T10:00:00-00:00"),
    Extension("availability_zone_filter", "Availability Zone Filter Extension",
              "Add filter parameters to AvailabilityZone resource",
              "2018-06-22T10:00:00-00:00"),
    Extension("network_availability_zone", "Network Availability Zone",
              "Availability zone support for network.", "2015-01-01T10:00:00-00:00"),
    Extension("router_availability_zone", "Router Availability Zone",
              "Availability zone support for router.", "2015-01-01T10:00:00-00:00"),
    # --- branch plugins: port extension drivers (core/extensions.py, [ml2]
    # extension_drivers); listed only when their driver is loaded (api/factory.py)
    Extension("aap-reject-multicast", "Allowed address pairs reject multicast extension",
              "Reject multicast addresses in Allowed Address Pairs",
              "2026-04-01T00:00:00-00:00"),
    *port_device_profile.EXTENSIONS,
    *port_numa_affinity_policy.EXTENSIONS,
    # --- branch flavors: service plugins flavors (flavors, service-type, l3-flavors) and
    # auto_allocate (auto-allocated-topology); listed only when loaded (api/factory.py)
    Extension("flavors", "Neutron Service Flavors",
              "Flavor specification for Neutron advanced services.",
              "2015-09-17T10:00:00-00:00"),
    Extension("service-type", "Neutron Service Type Management",
              "API for retrieving service providers for Neutron advanced services",
              "2013-01-20T00:00:00-00:00"),
    Extension("l3-flavors", "Router Flavor Extension", "Flavor support for routers.",
              "2016-05-17T00:00:00-00:00"),
    Extension("auto-allocated-topology", "Auto Allocated Topology Services",
              "Auto Allocated Topology Services.", "2016-01-01T00:00:00-00:00"),
)


def resource() -> Resource:
    """An extension as /v2.0/extensions shows it."""
    r = Resource("extension", "extensions")
    ro = {"allow_post": False, "allow_put": False}
    r.add(*(Attr(name, schema=js.STRING, **ro)
            for name in ("name", "alias", "description", "updated")),
          Attr("links", schema=js.array(js.OBJECT), **ro))
    return r


def operations() -> tuple[Operation, ...]:
    """Paths relative to /v2.0/."""
    ext = resource()
    return (
        Operation("GET", "extensions", 200, "The extensions this server implements",
                  response=Body(ext, many=True)),
        Operation("GET", "extensions/{alias}", 200, "One extension, by alias",
                  response=Body(ext), params=(Attr("alias", v.string(255)),)),
    )
