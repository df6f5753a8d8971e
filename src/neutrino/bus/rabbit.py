"""RabbitMQ transport, on kombu (and py-amqp, kombu's AMQP 0-9-1 transport).

Layout on the broker, for the bus exchange E (``bus_exchange``, default "neutrino"):

- E: one durable topic exchange for all of neutrino's own traffic.
- ``publish(topic)``: routing key ``fanout.<topic>``. Each ``subscribe(pattern)`` owns an
  exclusive, auto-delete queue ``E.fanout.<pattern>.<random>`` bound with
  ``fanout.<pattern>``, so every current subscriber gets every hint, and the queue goes
  away with its subscriber.
- ``serve(topic)``: the durable shared queue ``E.rpc.<topic>`` bound with ``rpc.<topic>``.
  Every server of the topic consumes from it (prefetch = its worker count) and acks after
  handling, so each request goes to one server, and a request in flight on a server that
  dies is redelivered to another. ``cast``/``call`` publish with routing key
  ``rpc.<topic>``, with publisher confirms, after declaring that queue themselves, so
  requests wait in it while no server runs. Casts are persistent (they survive a broker
  restart too); a call's request is transient and expires with the call's timeout.
- Replies: one exclusive queue per bus, ``E.reply.<random>``, through the default exchange,
  matched to calls by ``correlation_id``. Replies are confirmed too, and resent after a
  reconnect until the caller's timeout.
- Notifications: as oslo.messaging sends them. Topic exchange ``control_exchange``
  ("neutron"), routing key ``<topic>.<priority>`` ("notifications.info"), and a queue of
  that name bound with it, declared by the sender (durable and auto-delete as
  ``amqp_durable_queues``/``amqp_auto_delete`` say, oslo.messaging's defaults: neither),
  so notifications wait for Ceilometer or Designate to come.

Threads and connections (kombu connections are not thread-safe, so each connection has one
owner at a time):

- "publisher": one thread and connection sending from a bounded outbox. Callers only
  encode and enqueue, so a slow, blocked or absent broker never stalls them. Requests,
  replies and notifications are confirmed by the broker batch by batch (publish up to 256,
  then await their confirms together) and resent after a reconnect if unconfirmed. While it is
  disconnected, ``publish`` drops hints (logged; the periodic sync covers them), casts and
  notifications wait in the outbox until their deadline, calls until their timeout.
- "consumer": one thread and connection for every subscription and the reply queue. It
  waits on the socket, and takes the connection's lock only to read; ``subscribe`` (to
  declare at once) and the workers (to ack) take the same lock. Handlers run in worker
  threads, never in the consumer thread, so a slow handler never delays heartbeats.

Both connections send heartbeats (``heartbeat_timeout_threshold``) and reconnect on any
failure: the first attempt at once, then with exponential backoff and jitter, to the next
host of the URL each time. After a reconnect the consumer re-declares its queues and
bindings and consumes again; once both connections are back, ``on_reconnect`` callbacks
run (hints may have been missed: resync). While idle, the publisher waits on its socket as
well as on the outbox, so it sees a close from the broker at once. And when one connection
is lost, the other one (often closed by the same outage, its thread not knowing yet) counts
as connected again only after a round trip on it.

Modules: this one is the bus's face (the Bus interface, built from the parts below);
rabbit_link connects and keeps the links' state; rabbit_publisher is the publisher thread
and its outbox; rabbit_consumer the consumer thread, subscriptions and the reply queue.
"""

from __future__ import annotations

import json
import logging
import threading
import time
import uuid
from typing import Any

from kombu import Exchange

from neutrino.bus.base import (
    Bus,
    BusClosed,
    BusTimeout,
    Handler,
    RateLimitedLog,
    ServeHandler,
    Subscription,
    check_topic,
    decode,
    encode,
    reply_result,
)
from neutrino.bus.rabbit_consumer import Consumer, Pending
from neutrino.bus.rabbit_link import Connector, LinkState, backoff_delay
from neutrino.bus.rabbit_publisher import NotificationQueues, Out, Publisher

__all__ = ["RabbitBus", "backoff_delay"]

LOG = logging.getLogger(__name__)

HINT_TTL = 10.0  # seconds a hint may wait in the outbox (only while the link is flapping)
NOTIFICATION_TTL = 300.0  # ... a notification (Ceilometer bills from them)


class RabbitBus(Bus):
    """The bus over RabbitMQ. ``url`` is an oslo.messaging transport URL."""

    def __init__(
        self,
        url: str = "rabbit://guest:guest@127.0.0.1:5672/",
        *,
        exchange: str = "neutrino",
        control_exchange: str = "neutron",
        client_name: str | None = None,
        heartbeat: int = 60,
        heartbeat_rate: int = 3,
        retry_interval: float = 1.0,
        retry_backoff: float = 2.0,
        interval_max: float = 30.0,
        reconnect_delay: float = 1.0,
        durable_notifications: bool = False,
        auto_delete_notifications: bool = False,
        connect_timeout: float = 5.0,
        outbox_size: int = 10000,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self._connector = Connector(
            url, client_name=client_name, heartbeat=heartbeat, heartbeat_rate=heartbeat_rate,
            retry=(retry_interval, retry_backoff, interval_max),
            connect_timeout=connect_timeout)
        self.exchange = check_topic(exchange)
        self.control_exchange = control_exchange
        self.client_name = self._connector.client_name
        self._heartbeat = heartbeat
        self._vhost = self._connector.vhost
        self._exchange = Exchange(self.exchange, "topic", durable=True, auto_delete=False)
        self._closing = threading.Event()
        self._link = LinkState(self._closing, self._after_reconnect)
        self._drop_log = RateLimitedLog(LOG)
        self._publisher = Publisher(
            exchange=self._exchange, connector=self._connector, link=self._link,
            closing=self._closing, outbox_size=outbox_size,
            notifications=NotificationQueues(durable_notifications, auto_delete_notifications))
        self._consumer = Consumer(
            exchange=self._exchange, connector=self._connector, link=self._link,
            closing=self._closing, send=self._publisher.enqueue,
            rpc_response_timeout=self.rpc_response_timeout, reconnect_delay=reconnect_delay)

    @property
    def reconnects(self) -> int:
        """Times on_reconnect fired."""
        return self._link.reconnects

    @property
    def last_outage(self) -> float | None:
        """Seconds the last outage lasted."""
        return self._link.last_outage

    def _after_reconnect(self) -> None:
        self._fire_reconnect()

    # ---------------------------------------------------------------- public interface

    def publish(self, topic: str, message: dict) -> None:
        check_topic(topic)
        data = encode(message)
        if self._closing.is_set():
            LOG.debug("bus: closed; dropping hint on %s", topic)
            return
        if not self._link.is_up("publisher"):
            self._drop_log.warning(
                "bus: not connected to RabbitMQ; dropping hint on %s "
                "(agents catch up by their periodic sync)", topic)
            return
        self._publisher.enqueue(Out(self.exchange, f"fanout.{topic}", data, {}, False,
                                    time.monotonic() + HINT_TTL))

    def subscribe(self, topic: str, handler: Handler) -> Subscription:
        check_topic(topic, pattern=True)
        return self._consumer.subscribe(topic, "fanout", handler)

    def serve(self, topic: str, handler: ServeHandler, *, workers: int = 1) -> Subscription:
        check_topic(topic)
        return self._consumer.subscribe(topic, "serve", handler, workers)

    def cast(self, topic: str, message: dict) -> None:
        check_topic(topic)
        data = encode(message)
        if self._closing.is_set():
            LOG.debug("bus: closed; dropping cast to %s", topic)
            return
        self._publisher.enqueue(Out(self.exchange, f"rpc.{topic}", data, {"delivery_mode": 2},
                                    True, time.monotonic() + self.rpc_response_timeout,
                                    ("rpc", topic), "cast"))

    def call(self, topic: str, request: dict, timeout: float | None = None) -> dict:
        check_topic(topic)
        timeout = self.rpc_response_timeout if timeout is None else float(timeout)
        data = encode(request)
        if self._closing.is_set():
            raise BusClosed("bus closed")
        deadline = time.monotonic() + timeout
        reply_to = self._consumer.reply_queue(deadline)
        if reply_to is None:
            raise BusTimeout(f"no connection to RabbitMQ within {timeout:g}s (call {topic!r})")
        cid = uuid.uuid4().hex
        pending = self._consumer.pending[cid] = Pending()
        try:
            # Transient: useless after the caller's timeout, so not worth an fsync.
            props = {
                "correlation_id": cid,
                "reply_to": reply_to,
                "delivery_mode": 1,
                "expiration": str(max(1, int(timeout * 1000))),
            }
            if not self._publisher.enqueue(Out(self.exchange, f"rpc.{topic}", data, props,
                                               True, deadline, ("rpc", topic), "call")):
                raise BusTimeout(f"bus outbox full; call to {topic!r} not sent")
            if not pending.event.wait(max(0.0, deadline - time.monotonic())):
                raise BusTimeout(f"no reply from {topic!r} within {timeout:g}s")
        finally:
            self._consumer.pending.pop(cid, None)
        if isinstance(pending.reply, BaseException):
            raise pending.reply
        assert pending.reply is not None
        return reply_result(decode(pending.reply))

    def _send_notification(self, routing_key: str, body: dict) -> None:
        if self._closing.is_set():
            return
        # What kombu's json serializer makes of oslo.messaging's dict.
        data = json.dumps(body).encode()
        self._publisher.enqueue(Out(self.control_exchange, routing_key, data,
                                    {"delivery_mode": 2}, True,
                                    time.monotonic() + NOTIFICATION_TTL,
                                    ("notify", self.control_exchange, routing_key),
                                    "notification"))

    @property
    def connected(self) -> bool:
        return self._link.connected

    def close(self) -> None:
        if self._closing.is_set():
            return
        self._closing.set()
        self._consumer.stop()
        self._publisher.stop()
        for pending in list(self._consumer.pending.values()):
            pending.reply = BusClosed("bus closed")
            pending.event.set()
        self._consumer.close_fds()
        self._publisher.close_fds()
