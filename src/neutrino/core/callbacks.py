"""A typed callback registry, as neutron-lib's ``callbacks.registry``: the core publishes
what happens to its resources, service plugins subscribe; neither holds the other.

- ``BEFORE_*`` and ``PRECOMMIT_*`` run inside the write's transaction (``payload.conn`` is
  its connection): a subscriber may refuse by raising — the exception reaches the caller
  and the transaction rolls back, nothing half-written.
- ``AFTER_*`` run once the transaction committed: a subscriber that fails is logged and the
  request still succeeds (the database is the truth; agents resync anyway).

Subscribers run by ascending ``priority`` (ties: in subscription order). The payload of a
write's PRECOMMIT and AFTER events shares one ``metadata`` dict, so what a subscriber reads
in the transaction (e.g. the hosts of a network about to be deleted) reaches its AFTER
half.
"""

from __future__ import annotations

import enum
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from neutrino.context import Context

LOG = logging.getLogger(__name__)


class Resource(enum.StrEnum):
    NETWORK = "network"
    SUBNET = "subnet"
    PORT = "port"
    # ports bound or rebound (core/binding.py): states are (original | None, current)
    # pairs, one per port, published after the binding committed
    PORT_BINDING = "port_binding"
    SECURITY_GROUP = "security_group"
    # services/l3/routers.py: BEFORE_CREATE in the create's transaction, before the insert
    # (the flavors plugin checks a router's flavor_id there, l3-flavors)
    ROUTER = "router"
    # an agent reported its state (services/agents.py report_state): PRECOMMIT_CREATE /
    # _UPDATE in its transaction, AFTER_* once committed; states (original agent dict or
    # None for a new agent, current); metadata {"start_flag": bool}
    AGENT = "agent"


class Event(enum.StrEnum):
    BEFORE_CREATE = "before_create"
    PRECOMMIT_CREATE = "precommit_create"
    AFTER_CREATE = "after_create"
    BEFORE_UPDATE = "before_update"
    PRECOMMIT_UPDATE = "precommit_update"
    AFTER_UPDATE = "after_update"
    BEFORE_DELETE = "before_delete"
    PRECOMMIT_DELETE = "precommit_delete"
    AFTER_DELETE = "after_delete"

    @property
    def is_after(self) -> bool:
        return self.value.startswith("after_")


PRIORITY_DEFAULT = 1000


@dataclass(slots=True)
class Payload:
    """What a subscriber is told: who asks (``context``), about what (``resource_id`` or
    ``resource_ids`` for a batch), the resource's states (``(original, current)`` for an
    update, ``(current,)`` otherwise), the request's body when there is one, and for
    events inside the transaction its open connection."""

    context: Context | None = None
    resource_id: str | None = None
    resource_ids: tuple[str, ...] = ()
    states: tuple[Any, ...] = ()
    request_body: dict[str, Any] | None = None
    conn: Any = None
    metadata: dict[str, Any] = field(default_factory=dict)

    @property
    def latest_state(self) -> Any:
        return self.states[-1] if self.states else None


Callback = Callable[[Resource, Event, Any, Payload], None]


class CallbackRegistry:
    def __init__(self) -> None:
        self._subscribers: dict[tuple[Resource, Event], list[tuple[int, int, Callback]]] = {}
        self._seq = 0

    def subscribe(self, callback: Callback, resource: Resource, event: Event,
                  priority: int = PRIORITY_DEFAULT) -> None:
        subs = self._subscribers.setdefault((resource, event), [])
        if any(cb == callback for _, _, cb in subs):
            return  # as neutron-lib: subscribing twice is subscribing once
        self._seq += 1
        subs.append((priority, self._seq, callback))
        subs.sort(key=lambda s: (s[0], s[1]))

    def unsubscribe(self, callback: Callback, resource: Resource, event: Event) -> None:
        subs = self._subscribers.get((resource, event), [])
        subs[:] = [s for s in subs if s[2] != callback]

    def publish(self, resource: Resource, event: Event, trigger: Any,
                payload: Payload) -> None:
        for _, _, callback in tuple(self._subscribers.get((resource, event), ())):
            if not event.is_after:
                callback(resource, event, trigger, payload)  # may abort the write
                continue
            try:
                callback(resource, event, trigger, payload)
            except Exception:
                LOG.exception("callback %s for %s %s failed", getattr(
                    callback, "__qualname__", callback), resource, event)
