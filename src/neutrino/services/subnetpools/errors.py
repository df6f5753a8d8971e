"""Neutron's errors for subnet pools and address scopes (neutron-lib's names, codes and
texts)."""

from __future__ import annotations

from neutrino import exceptions as exc


class AddressScopeNotFound(exc.NotFound):
    message = "Address scope %(address_scope_id)s could not be found."


class AddressScopeInUse(exc.Conflict):
    message = ("Unable to complete operation on address scope %(address_scope_id)s. There "
               "are one or more subnet pools in use on the address scope.")


class AddressScopeUpdateError(exc.BadRequest):
    message = "Unable to update address scope %(address_scope_id)s : %(reason)s."


class AddressScopePrefixConflict(exc.Conflict):
    message = ("Failed to associate address scope: subnetpools within an address scope "
               "must have unique prefixes.")


class IllegalSubnetPoolAssociationToAddressScope(exc.BadRequest):
    message = ("Illegal subnetpool association: subnetpool %(subnetpool_id)s cannot be "
               "associated with address scope %(address_scope_id)s.")


class IllegalSubnetPoolIpVersionAssociationToAddressScope(exc.BadRequest):
    message = ("Illegal subnetpool association: subnetpool %(subnetpool_id)s cannot "
               "associate with address scope %(address_scope_id)s because subnetpool "
               "ip_version is not %(ip_version)s.")


class IllegalSubnetPoolPrefixBounds(exc.BadRequest):
    message = ("Illegal prefix bounds: %(prefix_type)s=%(prefixlen)s, "
               "%(base_prefix_type)s=%(base_prefixlen)s.")


class IllegalSubnetPoolPrefixUpdate(exc.BadRequest):
    message = "Illegal update to prefixes: %(msg)s."


class IllegalSubnetPoolUpdate(exc.BadRequest):
    message = "Illegal subnetpool update : %(reason)s."


class PrefixVersionMismatch(exc.BadRequest):
    message = "Cannot mix IPv4 and IPv6 prefixes in a subnet pool."


class SubnetPoolDeleteError(exc.BadRequest):
    message = "Unable to delete subnet pool: %(reason)s."


class SubnetPoolQuotaExceeded(exc.Conflict):
    message = "Per-tenant subnet pool prefix quota exceeded."


class MinPrefixSubnetAllocationError(exc.BadRequest):
    message = ("Unable to allocate subnet with prefix length %(prefixlen)s, minimum "
               "allowed prefix is %(min_prefixlen)s.")


class MaxPrefixSubnetAllocationError(exc.BadRequest):
    message = ("Unable to allocate subnet with prefix length %(prefixlen)s, maximum "
               "allowed prefix is %(max_prefixlen)s.")


class SubnetAllocationError(exc.Conflict):
    # Neutron's is a bare NeutronException (a 500); a full pool is the caller's problem
    # to solve, so neutrino answers 409 with the same type and text.
    message = "Failed to allocate subnet: %(reason)s."


class NetworkSubnetPoolAffinityError(exc.BadRequest):
    message = "Subnets hosted on the same network must be allocated from the same subnet pool."
