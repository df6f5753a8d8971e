"""Errors, by Neutron's type names, status codes and message texts: the generic classes and
the core's (networks, subnets, ports, quotas, RBAC, agents, bindings, L3) here, those of
other areas in this package's modules (security_groups, segments, subnetpools, ...).

The API turns any ``NeutronError`` into ``{"NeutronError": {"type", "message", "detail"}}``;
``type`` is the class name, which is what Neutron clients match on. Each error is one
declaration, ``class Name(Base, message="... %(key)s ..."): ...``: the base gives the
status (NotFound's 404, Conflict's 409, ...) and what ``except`` catches it as.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar

# How much of a caller's value an error message quotes: a prefix, so that a 5 MB name
# is not echoed back (nor logged) in full.
EXCERPT_LEN = 256  # names and descriptions (255) are still quoted whole, as Neutron does
# The longest message any error carries (a backstop for messages that quote several
# values or that were built elsewhere).
MAX_MESSAGE_LEN = 1024


def excerpt(value: Any, limit: int = EXCERPT_LEN) -> str:
    """``str(value)``, cut to its first ``limit`` characters (then "...") if longer: how
    every error message quotes a value it was given."""
    if isinstance(value, str):
        text = value
    else:
        try:
            text = str(value)
        except ValueError:  # an int too long to print (sys.set_int_max_str_digits)
            return f"<{type(value).__name__}>"
    return text if len(text) <= limit else text[:limit] + "..."


class NeutronError(Exception):
    status: ClassVar[int] = 500
    message: ClassVar[str] = "An unknown exception occurred."
    # what a message says where the caller gives no value (neutron-lib's InUse reasons)
    defaults: ClassVar[Mapping[str, str]] = {}

    def __init_subclass__(cls, /, *, status: int | None = None, message: str | None = None,
                          defaults: Mapping[str, str] | None = None, **kw: Any) -> None:
        """The class keywords of a declaration; what is not given is the base's."""
        super().__init_subclass__(**kw)
        if status is not None:
            cls.status = status
        if message is not None:
            cls.message = message
        if defaults is not None:
            cls.defaults = defaults

    def __init__(self, msg: str | None = None, /, **kwargs: Any) -> None:
        self.kwargs = {**self.defaults, **kwargs}
        if msg is None:
            try:
                msg = self.message % self.kwargs
            except (KeyError, TypeError):
                msg = self.message
        self.msg = excerpt(msg, MAX_MESSAGE_LEN)
        super().__init__(self.msg)

    @property
    def type(self) -> str:
        return type(self).__name__


# --- generic classes -----------------------------------------------------------------------
class BadRequest(NeutronError, status=400, message="Bad %(resource)s request: %(msg)s."): ...
class InvalidInput(BadRequest, message="Invalid input for operation: %(error_message)s."): ...
class NotAuthorized(NeutronError, status=403, message="Not authorized."): ...
class NotFound(NeutronError, status=404): ...
class Conflict(NeutronError, status=409): ...
class ServiceUnavailable(NeutronError, status=503): ...
# Structural problems with a request (what webob's HTTPBadRequest is in Neutron).
class HTTPBadRequest(NeutronError, status=400, message=(
    "The server could not comply with the request since it is either malformed or "
    "otherwise incorrect.")): ...
class HTTPNotFound(NotFound, message="The resource could not be found."): ...
# What webob's HTTPForbidden is in Neutron (its ownership hook).
class HTTPForbidden(NotAuthorized, message="Access was denied to this resource."): ...
class HTTPMethodNotAllowed(NeutronError, status=405, message=(
    "The server could not comply with the request since it is either malformed or "
    "otherwise incorrect.")): ...
class HTTPNotAcceptable(NeutronError, status=406, message=(
    "The requested content type is not acceptable.")): ...
class HTTPPreconditionFailed(NeutronError, status=412, message="Constraints not met."): ...


# --- resources -----------------------------------------------------------------------------
class NetworkNotFound(NotFound, message="Network %(net_id)s could not be found."): ...
class SubnetNotFound(NotFound, message="Subnet %(subnet_id)s could not be found."): ...
class PortNotFound(NotFound, message="Port %(port_id)s could not be found."): ...
class ExtensionNotFound(NotFound, message=(
    "Extension with alias %(extension_alias)s does not exist.")): ...
class TagNotFound(NotFound, message="Tag %(tag)s could not be found."): ...

class NetworkInUse(Conflict, message=(
    "Unable to complete operation on network %(net_id)s. %(reason)s."), defaults={
    "reason": "There are one or more ports still in use on the network"}): ...
class SubnetInUse(Conflict, message=(
    "Unable to complete operation on subnet %(subnet_id)s: %(reason)s."), defaults={
    "reason": "One or more ports have an IP allocation from this subnet"}): ...
class MacAddressInUse(Conflict, message=(
    "Unable to complete operation for network %(net_id)s. The mac address %(mac)s is in "
    "use.")): ...
class IpAddressInUse(Conflict, message=(
    "Unable to complete operation for network %(net_id)s. The IP address %(ip_address)s is "
    "in use.")): ...
class IpAddressAlreadyAllocated(Conflict, message=(
    "IP address %(ip)s already allocated in subnet %(subnet_id)s")): ...
class IpAddressGenerationFailure(Conflict, message=(
    "No more IP addresses available on network %(net_id)s.")): ...
class InvalidIpForSubnet(BadRequest, message=(
    "IP address %(ip_address)s is not a valid IP for the specified subnet.")): ...
class InvalidIpForNetwork(BadRequest, message=(
    "IP address %(ip_address)s is not a valid IP for any of the subnets on the specified "
    "network.")): ...
class InvalidAllocationPool(BadRequest, message="The allocation pool %(pool)s is not valid."): ...
class OverlappingAllocationPools(Conflict, message=(
    "Found overlapping allocation pools: %(pool_1)s %(pool_2)s for subnet %(subnet_cidr)s.")): ...
class OutOfBoundsAllocationPool(BadRequest, message=(
    "The allocation pool %(pool)s spans beyond the subnet cidr %(subnet_cidr)s.")): ...
class GatewayConflictWithAllocationPools(Conflict, message=(
    "Gateway ip %(ip_address)s conflicts with allocation pool %(pool)s.")): ...
class GatewayIpInUse(Conflict, message=(
    "Current gateway ip %(ip_address)s already in use by port %(port_id)s. Unable to "
    "update.")): ...
class DNSNameServersExhausted(BadRequest, message=(
    "Unable to complete operation for %(subnet_id)s. The number of DNS nameservers exceeds "
    "the limit %(quota)s.")): ...
class HostRoutesExhausted(BadRequest, message=(
    "Unable to complete operation for %(subnet_id)s. The number of host routes exceeds the "
    "limit %(quota)s.")): ...
class InvalidSharedSetting(Conflict, message=(
    "Unable to reconfigure sharing settings for network %(network)s. Multiple projects are "
    "using it.")): ...
class NoNetworkAvailable(ServiceUnavailable, message=(
    "Unable to create the network. No project network is available for allocation.")): ...
class VlanIdInUse(Conflict, message=(
    "Unable to create the network. The VLAN %(vlan_id)s on physical network "
    "%(physical_network)s is in use.")): ...
class TunnelIdInUse(Conflict, message=(
    "Unable to create the network. The tunnel ID %(tunnel_id)s is in use.")): ...
# IPAM refusing a value it was handed (e.g. the default gateway of a /31).
class IpamValueInvalid(Conflict): ...
class NetworkMTUSubnetConflict(Conflict, message=(
    "MTU of %(net_id)s is not valid, subnet requires a minimum of %(mtu)s")): ...
class SegmentsSetInConjunctionWithProviders(BadRequest, message=(
    "Segments and provider values cannot both be set.")): ...
class SegmentsContainDuplicateEntry(BadRequest, message="Duplicate segment entry in request."): ...
class FlatNetworkInUse(Conflict, message=(
    "Unable to create the flat network. Physical network %(physical_network)s is in use.")): ...
class MechanismDriverError(NeutronError, message="%(method)s failed."): ...
# oslo.policy prints the check tree: a lone rule has no parentheses
# ("rule:update_network is disallowed by policy"), an AndCheck has them.
class PolicyNotAuthorized(NotAuthorized, message="rule:%(action)s is disallowed by policy"): ...
class AllocationOnAutoAddressSubnet(BadRequest, message=(
    "IPv6 address %(ip)s cannot be directly assigned to a port on subnet %(subnet_id)s as "
    "the subnet is configured for automatic addresses")): ...
class UnsupportedPortDeviceOwner(Conflict, message=(
    "Operation %(op)s is not supported for device_owner %(device_owner)s on port "
    "%(port_id)s.")): ...
class SubnetPoolNotFound(NotFound, message="Subnet pool %(subnetpool_id)s could not be found."): ...
class HTTPInternalServerError(NeutronError, message=(
    "Request Failed: internal server error while processing your request.")): ...


# --- quotas --------------------------------------------------------------------------------
class OverQuota(Conflict):
    message = "Quota exceeded for resources: %(overs)s."

    def __init__(self, *, overs: list[str]) -> None:
        # Neutron prints the sorted names as a Python list: ['port']
        super().__init__(overs=repr(sorted(overs)))


class TenantQuotaNotFound(NotFound, message=(
    "Quota for project %(project_id)s could not be found.")): ...
class QuotaMissingTenant(BadRequest, message="Tenant-id was missing from quota request."): ...
class AdminRequired(NotAuthorized, message="User does not have admin privileges: %(reason)s."): ...
class HTTPNotImplemented(NeutronError, status=501, message=(
    "The server has either erred or is incapable of performing the requested operation.")): ...


# --- RBAC policies -------------------------------------------------------------------------
class RbacPolicyNotFound(NotFound, message=(
    "RBAC policy of type %(object_type)s with ID %(id)s not found")): ...
class RbacPolicyInUse(Conflict, message=(
    "RBAC policy on object %(object_id)s cannot be removed because other objects depend on "
    "it.\nDetails: %(details)s")): ...
# Neutron's is no 400 itself: its callbacks' failures reach the API as InvalidInput
# (services/rbac.py reports it so, wrapped as they are)
class RbacPolicyInitError(InvalidInput, message=(
    "Failed to create RBAC policy on object %(object_id)s because %(reason)s.")): ...
class DuplicateRbacPolicy(Conflict, message="An RBAC policy already exists with those values."): ...
class InvalidActionForType(BadRequest, message=(
    "Invalid action '%(action)s' for object type '%(object_type)s'. Valid actions: "
    "%(valid_actions)s")): ...


# --- agents and port bindings --------------------------------------------------------------
class AgentNotFound(NotFound, message="Agent %(id)s could not be found."): ...
class PortBound(Conflict, message=(
    "Unable to complete operation on port %(port_id)s, port is already bound, port type: "
    "%(vif_type)s, old_mac %(old_mac)s, new_mac %(new_mac)s.")): ...
class RevisionNumberConstraintFailed(HTTPPreconditionFailed, message=(
    "Constrained to %(expected)s, but current revision is %(current)s")): ...


# --- L3: routers, floating IPs, external networks (services/l3/) --------------------------
class PortInUse(Conflict, message=(
    "Unable to complete operation on port %(port_id)s for network %(net_id)s. Port already "
    "has an attached device %(device_id)s.")): ...
class DeviceIDNotOwnedByTenant(Conflict, message=(
    "The following device_id %(device_id)s is not owned by your tenant or matches another "
    "tenants router.")): ...
class RouterNotFound(NotFound, message="Router %(router_id)s could not be found."): ...
class RouterInUse(Conflict, message="Router %(router_id)s %(reason)s", defaults={
    "reason": "still has ports"}): ...
class RouterInterfaceNotFound(NotFound, message=(
    "Router %(router_id)s does not have an interface with id %(port_id)s")): ...
class RouterInterfaceNotFoundForSubnet(NotFound, message=(
    "Router %(router_id)s has no interface on subnet %(subnet_id)s")): ...
class RouterInterfaceInUseByFloatingIP(Conflict, message=(
    "Router interface for subnet %(subnet_id)s on router %(router_id)s cannot be deleted, "
    "as it is required by one or more floating IPs.")): ...
class RouterInterfaceInUseByRoute(Conflict, message=(
    "Router interface for subnet %(subnet_id)s on router %(router_id)s cannot be deleted, "
    "as it is required by one or more routes.")): ...
class RouterExternalGatewayInUseByFloatingIp(Conflict, message=(
    "Gateway cannot be updated for router %(router_id)s, since a gateway to external "
    "network %(net_id)s is required by one or more floating IPs.")): ...
class FloatingIPNotFound(NotFound, message="Floating IP %(floatingip_id)s could not be found"): ...
class ExternalGatewayForFloatingIPNotFound(NotFound, message=(
    "External network %(external_network_id)s is not reachable from subnet %(subnet_id)s.  "
    "Therefore, cannot associate Port %(port_id)s with a Floating IP.")): ...
class FloatingIPPortAlreadyAssociated(Conflict, message=(
    "Cannot associate floating IP %(floating_ip_address)s (%(fip_id)s) with port "
    "%(port_id)s using fixed IP %(fixed_ip)s, as that fixed IP already has a floating IP "
    "on external network %(net_id)s.")): ...
class L3PortInUse(Conflict, message=(
    "Port %(port_id)s has owner %(device_owner)s and therefore cannot be deleted directly "
    "via the port API.")): ...
class ExternalNetworkInUse(Conflict, message=(
    "External network %(net_id)s cannot be updated to be made non-external, since it has "
    "existing gateway ports.")): ...
class IPAddressChangeNotAllowed(BadRequest, message=(
    "IP updates for port %(port_id)s are not allowed")): ...
class InvalidRoutes(BadRequest, message="Invalid format for routes: %(routes)s, %(reason)s"): ...
class RoutesExhausted(BadRequest, message=(
    "Unable to complete operation for %(router_id)s. The number of routes exceeds the "
    "maximum %(quota)s.")): ...


# --- binding-extended (core/binding_hosts.py) ------------------------------------------------
class PortBindingNotFound(NotFound, message=(
    "Binding for port %(port_id)s for host %(host)s could not be found.")): ...
class PortBindingAlreadyActive(Conflict, message=(
    "Binding for port %(port_id)s on host %(host)s is already active.")): ...
class PortBindingAlreadyExists(Conflict, message=(
    "Binding for port %(port_id)s on host %(host)s already exists.")): ...
# a 500 in Neutron too: no mechanism driver could bind the port on that host
class PortBindingError(NeutronError, message=(
    "Binding for port %(port_id)s on host %(host)s could not be created or updated.")): ...


# --- subnet-service-types (neutron-lib's and neutron.ipam's) -------------------------------
class InvalidSubnetServiceType(InvalidInput, message=(
    "Subnet service type %(service_type)s does not correspond to a valid device owner.")): ...
class InvalidInputSubnetServiceType(InvalidInput, message=(
    "Subnet service type %(service_type)s is not a string.")): ...
class IpAddressGenerationFailureNoMatchingSubnet(IpAddressGenerationFailure, message=(
    "No valid service subnet for the given device owner, network %(network_id)s, service "
    "type %(service_type)s.")): ...


class NeedsRetry(Exception):
    """Internal: the transaction lost a race (duplicate key, deadlock); run it again."""
