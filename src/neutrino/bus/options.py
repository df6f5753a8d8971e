"""Message bus options, with oslo.messaging's names, sections and defaults where the concept
is the same, so an operator's neutron.conf keeps working:

    [DEFAULT]
    transport_url = rabbit://neutron:secret@rabbit1:5672,neutron:secret@rabbit2:5672/vhost
    control_exchange = neutron
    rpc_response_timeout = 60

    [oslo_messaging_rabbit]
    heartbeat_timeout_threshold = 60

    [oslo_messaging_notifications]
    driver = messagingv2
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from urllib.parse import unquote, urlsplit

from oslo_config import cfg

default_opts = [
    cfg.StrOpt(
        "transport_url",
        secret=True,
        help="Message bus URL, as oslo.messaging writes it: "
        "rabbit://user:pass@host:port[,user:pass@host:port]/virtual_host. Unset, or "
        "inprocess://, means the in-process bus of the all-in-one.",
    ),
    cfg.StrOpt(
        "control_exchange",
        default="neutron",
        help="Exchange that notifications are sent to (oslo.messaging's option).",
    ),
    cfg.IntOpt(
        "rpc_response_timeout",
        default=60,
        min=1,
        help="Seconds to wait for a reply to a call.",
    ),
    cfg.StrOpt(
        "bus_exchange",
        default="neutrino",
        help="Topic exchange for neutrino's own hints and RPC (queue names start with it).",
    ),
]

# [oslo_messaging_rabbit]: the options of oslo.messaging's rabbit driver that mean something
# here, with its defaults.
rabbit_opts = [
    cfg.IntOpt(
        "heartbeat_timeout_threshold",
        default=60,
        min=0,
        help="Seconds after which the broker is considered down if heartbeats stop "
        "(0 disables heartbeats).",
    ),
    cfg.IntOpt(
        "heartbeat_rate",
        default=3,
        min=1,
        help="How many heartbeats are sent within heartbeat_timeout_threshold.",
    ),
    cfg.FloatOpt(
        "rabbit_retry_interval",
        default=1.0,
        min=0.01,
        help="Seconds before the second attempt to reconnect (the first is immediate).",
    ),
    cfg.FloatOpt(
        "rabbit_retry_backoff",
        default=2.0,
        min=1.0,
        help="Factor by which the reconnect delay grows after each failed attempt "
        "(each delay is jittered between half and all of it).",
    ),
    cfg.FloatOpt(
        "rabbit_interval_max",
        default=30.0,
        min=0.1,
        help="Longest delay between reconnect attempts.",
    ),
    cfg.FloatOpt(
        "kombu_reconnect_delay",
        default=1.0,
        min=0.0,
        help="Seconds to wait before reconnecting after the broker cancelled a consumer "
        "(its queue was deleted, or a cluster node went away).",
    ),
    cfg.BoolOpt(
        "amqp_durable_queues",
        default=False,
        help="Declare the notification exchange and queues durable. Must match what the "
        "notification consumers (Ceilometer, Designate) declare.",
    ),
    cfg.BoolOpt(
        "amqp_auto_delete",
        default=False,
        help="Declare the notification exchange and queues auto-delete.",
    ),
]

notification_opts = [
    cfg.MultiStrOpt(
        "driver",
        default=[],
        help="messagingv2 (what Ceilometer and Designate read), messaging (v1, no "
        "envelope) or noop. Unset sends no notifications, as in oslo.messaging.",
    ),
    cfg.ListOpt(
        "topics",
        default=["notifications"],
        help="Topics notifications are sent on, as <topic>.<priority>.",
    ),
]


def register_bus_opts(conf: cfg.ConfigOpts) -> None:
    """Register the bus options on ``conf`` (idempotent)."""
    conf.register_opts(default_opts)
    conf.register_opts(rabbit_opts, group="oslo_messaging_rabbit")
    conf.register_opts(notification_opts, group="oslo_messaging_notifications")


def list_opts() -> list[tuple[str | None, Sequence[cfg.Opt]]]:
    return [
        (None, default_opts),
        ("oslo_messaging_rabbit", rabbit_opts),
        ("oslo_messaging_notifications", notification_opts),
    ]


@dataclass(frozen=True)
class TransportHost:
    hostname: str
    port: int | None = None
    username: str | None = None
    password: str | None = field(default=None, repr=False)


@dataclass(frozen=True)
class TransportURL:
    """A parsed oslo.messaging transport URL."""

    transport: str
    hosts: tuple[TransportHost, ...] = ()
    virtual_host: str | None = None


def parse_transport_url(url: str) -> TransportURL:
    """Parse ``transport://user:pass@host:port[,user:pass@host:port]/virtual_host`` as
    oslo.messaging does (user, password and virtual host are percent-decoded; IPv6 hosts
    in brackets)."""
    parts = urlsplit(url)
    if not parts.scheme:
        raise ValueError(f"transport_url has no transport: {url!r}")
    hosts = []
    for netloc in parts.netloc.split(","):
        if not netloc:
            continue
        creds, _, hostport = netloc.rpartition("@")
        username = password = None
        if creds:
            user, sep, pw = creds.partition(":")
            username = unquote(user) or None
            password = unquote(pw) if sep else None
        hostname, port = hostport, None
        if hostport.startswith("["):
            end = hostport.find("]")
            if end < 0:
                raise ValueError(f"bad IPv6 host in transport_url: {hostport!r}")
            hostname, rest = hostport[1:end], hostport[end + 1:]
            if rest.startswith(":") and rest[1:]:
                port = int(rest[1:])
        elif ":" in hostport:
            hostname, _, p = hostport.rpartition(":")
            port = int(p) if p else None
        hosts.append(TransportHost(hostname, port, username, password))
    virtual_host = None
    if parts.path.startswith("/"):
        virtual_host = unquote(parts.path[1:])
    return TransportURL(parts.scheme, tuple(hosts), virtual_host)
