"""Neutron's errors for address groups (neutron-lib's names, codes and texts)."""

from __future__ import annotations

from neutrino import exceptions as exc


class AddressGroupNotFound(exc.NotFound):
    message = "Address group %(address_group_id)s could not be found."


class AddressGroupInUse(exc.Conflict):
    # neutron-lib's InUse: a 409
    message = ("Address group %(address_group_id)s is in use on one or more security "
               "group rules.")


class AddressesNotFound(exc.NotFound):
    message = "Addresses %(addresses)s not found in the address group %(address_group_id)s."


class AddressesAlreadyExist(exc.BadRequest):
    message = ("Addresses %(addresses)s already exist in the address group "
               "%(address_group_id)s.")
