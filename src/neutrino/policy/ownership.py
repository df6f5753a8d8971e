"""Neutron's network ownership check for new ports and subnets (its API's
OwnershipValidationHook), run before the policy rules.

Not a policy rule in Neutron either: a caller who is not an admin or the service role (as
the context rules decide, see Policy.judge) creates a port or subnet on a network only if
it sees the network (404 otherwise) and the network is shared with the item's project or
owned by it (403 otherwise: a network opened only as external is for routers' gateways
and floating IPs, not for a project's own ports).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from neutrino import exceptions as exc
from neutrino.context import Context

# Target keys the plugin's policy_targets adds for one item on a network: the network's
# owner, whether it is shared with the item's project, and whether any RBAC entry
# (shared or external) opens it to that project.
OWNER = "network:project_id"
SHARED = "shared"
ACCESSIBLE = "network:accessible"

CHECKED = ("port", "subnet")


def check_network_ownership(ctx: Context, resource: str, target: Mapping[str, Any]) -> None:
    if ctx.is_admin or ctx.is_service_role or resource not in CHECKED:
        return
    if OWNER not in target:
        return  # no network named: the body check answers
    owner = target[OWNER]
    if not (ctx.sees_all or owner == ctx.project_id or target.get(ACCESSIBLE)):
        # Neutron reads the network with the caller's visibility first
        raise exc.NetworkNotFound(net_id=target.get("network_id"))
    if target.get(SHARED) or owner == target.get("project_id"):
        return
    raise exc.HTTPForbidden(f"Tenant {target.get('project_id')} not allowed to create "
                            f"{resource} on this network")
