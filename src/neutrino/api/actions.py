"""Member actions a schema module declares (``Operation(kind="action")``), e.g. PUT
/v2.0/routers/{id}/add_extraroutes: routed by the action's name, 404 on another
collection or a longer path, 405 on another method; each authorized by the policy rule of
its name against the item the service read in its transaction (its 404 first, then the
policy's 403, as Neutron), so no read of its own."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from neutrino import exceptions as exc
from neutrino.api import body as bodies
from neutrino.api.app import Collection, MemberHandler, Request
from neutrino.schema.base import Operation

Authorize = Callable[[dict[str, Any]], None]
# (request, the action's operation, the item's id, its authorization) -> the answer's body
Run = Callable[[Request, Operation, str, Authorize], Any]


def declared(req: Request, op: Operation, body: Any = None) -> dict[str, Any]:
    """The request's body (or ``body``) checked against the action's declaration."""
    assert op.request is not None
    return bodies.for_declared(op.request, req.json() if body is None else body, req.ctx)


def member_actions(resource: str, operations: Iterable[Operation],
                   runs: dict[str, Run]) -> dict[str, MemberHandler]:
    """The member routes of ``resource``'s actions named in ``runs``."""
    ops = {op.route: op for op in operations}
    return {action: _handler(resource, ops[action], run) for action, run in runs.items()}


def _handler(resource: str, op: Operation, run: Run) -> MemberHandler:
    action = op.route

    def handle(req: Request, coll: Collection, item_id: str, rest: list[str]
               ) -> tuple[int, Any]:
        if coll.resource.name != resource or rest:
            raise exc.HTTPNotFound()
        if req.method != op.method:
            raise exc.HTTPMethodNotAllowed()
        return op.status, run(req, op, item_id,
                              lambda item: req.policy.enforce(action, item))

    return handle
