"""RBAC entries on address groups (rbac-address-group): ``access_as_shared`` to a
project lets it see the group and name it in its security group rules; to "*" it is the
group's hidden ``shared``. Served by /v2.0/rbac-policies through the ``ObjectRbac`` of
services/subnetpools/rbac.py (owner or admin writes entries; an entry is not removed or
retargeted while the project losing access has rules naming the group: 409
RbacPolicyInUse, Neutron's get_bound_project_ids)."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa

from neutrino.db import tables as t
from neutrino.exceptions import address_groups as errors
from neutrino.services.subnetpools.rbac import ObjectRbac

OBJECT_TYPE = "address_group"


def _users(group_id: str) -> sa.Select[Any]:
    r = t.security_group_rules.c
    return sa.select(r.project_id).where(r.remote_address_group_id == group_id)


def handlers() -> dict[str, ObjectRbac]:
    return {OBJECT_TYPE: ObjectRbac(
        OBJECT_TYPE, t.address_group_rbacs, t.address_groups,
        lambda id_: errors.AddressGroupNotFound(address_group_id=id_), _users)}
