"""neutrino's message bus: fanout hints, RPC and OpenStack notifications.

    from neutrino.bus import make_bus
    bus = make_bus(conf)            # [DEFAULT] transport_url chooses the transport
    bus.publish("port", {"id": port_id, "revision_number": 7})
    bus.subscribe("port", on_port_hint)
    bus.serve("q-plugin", handle_rpc, workers=4)
    bus.call("q-plugin", {"method": "get_devices", "host": "h1"}, timeout=30)
    bus.notify("network.create.end", {"network": net})
    bus.on_reconnect(full_resync)

Transports: ``inprocess://`` (or no transport_url) for the all-in-one, and
``rabbit://user:pass@host:5672/vhost`` for RabbitMQ. Create the bus after forking worker
processes: its threads do not survive a fork.
"""

from __future__ import annotations

import socket
from typing import Any
from urllib.parse import urlsplit

from oslo_config import cfg

from neutrino.bus.base import (
    Bus,
    BusClosed,
    BusError,
    BusTimeout,
    RemoteError,
    Subscription,
    default_publisher_id,
)
from neutrino.bus.options import parse_transport_url, register_bus_opts

__all__ = [
    "Bus",
    "BusClosed",
    "BusError",
    "BusTimeout",
    "RemoteError",
    "Subscription",
    "make_bus",
    "register_bus_opts",
    "transport_kind",
]

RABBIT_SCHEMES = ("rabbit", "amqp", "kombu", "kombu+pyamqp")


def transport_kind(url: str | None) -> str:
    """"inprocess" or "rabbit" for a transport_url; ValueError for anything else."""
    if not url or url.startswith("inprocess:"):
        return "inprocess"
    scheme = parse_transport_url(url).transport
    if scheme in RABBIT_SCHEMES:
        return "rabbit"
    raise ValueError(f"unsupported transport_url scheme {scheme}:// (use rabbit:// or "
                     "inprocess://)")


def make_bus(conf: cfg.ConfigOpts, *, client_name: str | None = None,
             publisher_id: str | None = None, **overrides: Any) -> Bus:
    """The bus ``conf`` asks for. ``client_name`` names the process's broker connections
    (visible in ``rabbitmqctl list_connections``); ``overrides`` go to the transport's
    constructor."""
    register_bus_opts(conf)
    url = conf.transport_url
    host = None
    try:
        host = conf.host
    except cfg.NoSuchOptError:
        host = socket.gethostname()
    notifications = conf.oslo_messaging_notifications
    common: dict[str, Any] = {
        "publisher_id": publisher_id or default_publisher_id(host),
        "notification_driver": notifications.driver,
        "notification_topics": notifications.topics,
        "rpc_response_timeout": conf.rpc_response_timeout,
    }
    if transport_kind(url) == "inprocess":
        from neutrino.bus.inprocess import InProcessBroker, InProcessBus

        name = urlsplit(url).netloc if url else ""  # inprocess://NAME: a named broker
        return InProcessBus(InProcessBroker.named(name), **{**common, **overrides})

    from neutrino.bus.rabbit import RabbitBus

    rabbit = conf.oslo_messaging_rabbit
    return RabbitBus(
        url,
        **{
            **common,
            "exchange": conf.bus_exchange,
            "control_exchange": conf.control_exchange,
            "client_name": client_name,
            "heartbeat": rabbit.heartbeat_timeout_threshold,
            "heartbeat_rate": rabbit.heartbeat_rate,
            "retry_interval": rabbit.rabbit_retry_interval,
            "retry_backoff": rabbit.rabbit_retry_backoff,
            "interval_max": rabbit.rabbit_interval_max,
            "reconnect_delay": rabbit.kombu_reconnect_delay,
            "durable_notifications": rabbit.amqp_durable_queues,
            "auto_delete_notifications": rabbit.amqp_auto_delete,
            **overrides,
        },
    )
