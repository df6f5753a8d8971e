"""OpenStack notifications of API changes (``network.create.start`` / ``.end``, ...), sent
on the bus as oslo.messaging sends them (``Bus.notify``), when
``[oslo_messaging_notifications] driver`` asks for them."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from neutrino.bus import Bus
from neutrino.context import Context

if TYPE_CHECKING:
    from neutrino.api.app import Notify

LOG = logging.getLogger(__name__)


def context_dict(ctx: Context) -> dict[str, Any]:
    """The request context as oslo.context serializes it (the ``_context_*`` fields)."""
    return {
        "user_id": ctx.user_id,
        "user": ctx.user_id,
        "project_id": ctx.project_id,
        "tenant_id": ctx.project_id,
        "tenant": ctx.project_id,
        "roles": list(ctx.roles),
        "is_admin": ctx.is_admin,
        "request_id": ctx.request_id,
    }


def api_notifier(bus: Bus | None) -> Notify | None:
    """The App's ``notify``, or None when no notification is to be sent (no bus, no
    driver, or ``noop``): the API then spends nothing on them."""
    if bus is None or not [d for d in bus.notification_driver if d != "noop"]:
        return None

    def notify(event_type: str, payload: dict[str, Any], ctx: Context) -> None:
        try:
            bus.notify(event_type, payload, context=context_dict(ctx))
        except Exception:  # a notification is never worth a failed request
            LOG.exception("notification %s failed", event_type)

    return notify
