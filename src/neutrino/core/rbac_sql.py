"""RBAC entries as SQL: which entry grants a project an action on an object."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa

from neutrino.db import tables as t

# RBAC actions on networks (network_rbacs.action) and the target meaning "every project"
ACCESS_SHARED = "access_as_shared"
# Lets the target project see the network and, once routers exist, use it as a router
# gateway; it does not make the network `shared` or let the project plug ports into it.
ACCESS_EXTERNAL = "access_as_external"
NETWORK_RBAC_ACTIONS = (ACCESS_SHARED, ACCESS_EXTERNAL)
WILDCARD = "*"


def rbac_entry_exists(network_id: sa.ColumnElement[Any], caller: Any,
                      actions: tuple[str, ...] = (ACCESS_SHARED,)) -> sa.Exists:
    """Whether an RBAC entry grants ``caller`` (a project id, or a bind parameter holding
    one) one of ``actions`` on the network ``network_id`` refers to: an entry targeting
    the project itself or "*". A correlated EXISTS, so a list asks it in its one query."""
    r = t.network_rbacs.c
    action = r.action == actions[0] if len(actions) == 1 else r.action.in_(actions)
    return sa.exists().where(
        r.object_id == network_id, action,
        sa.or_(r.target_project == WILDCARD, r.target_project == caller))
