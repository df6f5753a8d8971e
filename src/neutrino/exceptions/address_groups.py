"""Address groups' errors (neutron-lib's names, codes and texts)."""

from __future__ import annotations

from neutrino.exceptions import BadRequest, Conflict, NotFound


class AddressGroupNotFound(NotFound, message=(
    "Address group %(address_group_id)s could not be found.")): ...
# neutron-lib's InUse: a 409
class AddressGroupInUse(Conflict, message=(
    "Address group %(address_group_id)s is in use on one or more security group rules.")): ...
class AddressesNotFound(NotFound, message=(
    "Addresses %(addresses)s not found in the address group %(address_group_id)s.")): ...
class AddressesAlreadyExist(BadRequest, message=(
    "Addresses %(addresses)s already exist in the address group %(address_group_id)s.")): ...
