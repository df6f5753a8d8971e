"""port-numa-affinity-policy and port-numa-affinity-policy-socket: a port's
``numa_affinity_policy`` (how Nova places the instance against the NUMA node of the
port's device), as neutron-lib's definitions: ``required``, ``preferred``, ``legacy``,
``socket`` (the -socket extension) or null (the default), on create and update. Kept by
the ``port_numa_affinity_policy`` extension driver (core/port_columns.py)."""

from __future__ import annotations

from neutrino.schema import jsonschema as js
from neutrino.schema import validators as v
from neutrino.schema.base import Attr, Extension

ATTR = "numa_affinity_policy"
POLICIES = ("required", "preferred", "legacy", "socket")  # neutron-lib PORT_NUMA_POLICIES
EXTENSIONS = (
    Extension("port-numa-affinity-policy", "Port NUMA affinity policy",
              "Expose the port NUMA affinity policy", "2020-07-08T10:00:00-00:00"),
    Extension("port-numa-affinity-policy-socket", 'Port NUMA affinity policy "socket"',
              'Adds "socket" to the supported port NUMA affinity policies',
              "2024-02-09T10:00:00-00:00"),
)


def attrs() -> list[Attr]:
    return [Attr(ATTR, v.one_of(*POLICIES, nullable=True), default=None, is_filter=False,
                 is_sort_key=False, extension="port-numa-affinity-policy",
                 schema=js.nullable(js.enum(*POLICIES)),
                 computed=True)]  # shown by its driver (core/port_columns.py)
