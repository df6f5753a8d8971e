"""In-process transport: the bus of the all-in-one (``neutrino up``), where the API server
and the agents run in one process.

An ``InProcessBroker`` plays RabbitMQ's part: it holds the fanout bindings and one work
queue per served topic. Each component attaches its own ``InProcessBus`` to the broker, as
each process opens its own connection to RabbitMQ, and closing one bus leaves the others
running. The semantics are the RabbitMQ transport's: fanout to every current subscriber,
each request to one of the servers of a topic (requests wait in the topic's queue while no
server runs; a call's request expires with its timeout), call with timeout and remote
errors, handlers in bus-owned threads, messages copied through JSON.
"""

from __future__ import annotations

import logging
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, ClassVar

from neutrino.bus.base import (
    Bus,
    BusClosed,
    BusTimeout,
    Handler,
    Mailbox,
    ServeHandler,
    Subscription,
    WorkerPool,
    check_topic,
    decode,
    encode,
    reply_result,
    run_handler,
    serve_request,
    topic_matches,
)

LOG = logging.getLogger(__name__)

DEFAULT_QUEUE_LIMIT = 10000


@dataclass(slots=True)
class _Request:
    data: bytes
    deadline: float | None  # monotonic; an expired call request is dropped, as with a TTL
    reply: Callable[[bytes], None] | None


class InProcessBroker:
    """The in-memory broker several ``InProcessBus`` objects share."""

    _named: ClassVar[dict[str, InProcessBroker]] = {}
    _named_lock: ClassVar[threading.Lock] = threading.Lock()

    def __init__(self, queue_limit: int = DEFAULT_QUEUE_LIMIT) -> None:
        self.queue_limit = queue_limit
        self._lock = threading.Lock()
        self._fanout: tuple[_FanoutSubscription, ...] = ()  # copy-on-write
        self._work: dict[str, Mailbox] = {}

    @classmethod
    def named(cls, name: str = "") -> InProcessBroker:
        """The process-wide broker of that name (``inprocess://name``)."""
        with cls._named_lock:
            broker = cls._named.get(name)
            if broker is None:
                broker = cls._named[name] = cls()
            return broker

    def bind(self, sub: _FanoutSubscription) -> None:
        with self._lock:
            self._fanout = (*self._fanout, sub)

    def unbind(self, sub: _FanoutSubscription) -> None:
        with self._lock:
            self._fanout = tuple(s for s in self._fanout if s is not sub)

    def route(self, topic: str, data: bytes) -> int:
        """Deliver to every bound subscription whose pattern matches; return how many."""
        n = 0
        for sub in self._fanout:
            if topic_matches(sub.topic, topic):
                sub.mailbox.put(data)
                n += 1
        return n

    def work_queue(self, topic: str) -> Mailbox:
        """The topic's shared request queue, created on first use (like a durable queue
        declared by whichever side comes first)."""
        with self._lock:
            box = self._work.get(topic)
            if box is None:
                box = self._work[topic] = Mailbox(self.queue_limit, f"inprocess:{topic}")
            return box


class _FanoutSubscription(Subscription):
    def __init__(self, bus: InProcessBus, topic: str, handler: Handler) -> None:
        super().__init__(topic, "fanout")
        self._bus = bus
        self.handler = handler
        self.mailbox = Mailbox(bus.broker.queue_limit, f"inprocess-fanout:{topic}")
        self._pool = WorkerPool(f"bus-sub-{topic}", self.mailbox, self._process)
        bus.broker.bind(self)

    def _process(self, data: bytes) -> None:
        run_handler(self.handler, decode(data), self.topic)

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        self._bus.broker.unbind(self)
        self._bus._forget(self)
        self._pool.stop()
        self.mailbox.clear()


class _ServeSubscription(Subscription):
    def __init__(self, bus: InProcessBus, topic: str, handler: ServeHandler,
                 workers: int) -> None:
        super().__init__(topic, "serve")
        self._bus = bus
        self.handler = handler
        self._pool = WorkerPool(f"bus-serve-{topic}", bus.broker.work_queue(topic),
                                self._process, workers)

    def _process(self, req: _Request) -> None:
        if req.deadline is not None and time.monotonic() > req.deadline:
            LOG.debug("bus: dropping expired request on %s", self.topic)
            return
        request = decode(req.data)
        if req.reply is None:
            serve_request(self.handler, request, self.topic, expect_reply=False)
        else:
            req.reply(encode(serve_request(self.handler, request, self.topic)))

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        self._bus._forget(self)
        self._pool.stop()


class _Pending:
    __slots__ = ("event", "reply")

    def __init__(self) -> None:
        self.event = threading.Event()
        self.reply: bytes | BaseException | None = None


class InProcessBus(Bus):
    """A bus attached to an in-memory broker (a private one unless ``broker`` is given)."""

    def __init__(self, broker: InProcessBroker | None = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.broker = broker if broker is not None else InProcessBroker()
        self._lock = threading.Lock()
        self._subs: set[Subscription] = set()
        self._pending: dict[str, _Pending] = {}
        self._closed = False

    # fanout
    def publish(self, topic: str, message: dict) -> None:
        check_topic(topic)
        data = encode(message)
        if self._closed:
            LOG.debug("bus: closed; dropping hint on %s", topic)
            return
        self.broker.route(topic, data)

    def subscribe(self, topic: str, handler: Handler) -> Subscription:
        check_topic(topic, pattern=True)
        self._check_open()
        return self._remember(_FanoutSubscription(self, topic, handler))

    # RPC
    def serve(self, topic: str, handler: ServeHandler, *, workers: int = 1) -> Subscription:
        check_topic(topic)
        self._check_open()
        return self._remember(_ServeSubscription(self, topic, handler, workers))

    def cast(self, topic: str, message: dict) -> None:
        check_topic(topic)
        data = encode(message)
        if self._closed:
            LOG.debug("bus: closed; dropping cast to %s", topic)
            return
        self.broker.work_queue(topic).put(_Request(data, None, None))

    def call(self, topic: str, request: dict, timeout: float | None = None) -> dict:
        check_topic(topic)
        timeout = self.rpc_response_timeout if timeout is None else float(timeout)
        data = encode(request)
        self._check_open()
        cid = uuid.uuid4().hex
        pending = self._pending[cid] = _Pending()
        try:
            deadline = time.monotonic() + timeout
            self.broker.work_queue(topic).put(
                _Request(data, deadline, lambda reply: self._on_reply(cid, reply)))
            if not pending.event.wait(timeout):
                raise BusTimeout(f"no reply from {topic!r} within {timeout:g}s")
        finally:
            self._pending.pop(cid, None)
        if isinstance(pending.reply, BaseException):
            raise pending.reply
        assert isinstance(pending.reply, bytes)
        return reply_result(decode(pending.reply))

    def _on_reply(self, cid: str, reply: bytes) -> None:
        pending = self._pending.get(cid)
        if pending is not None:
            pending.reply = reply
            pending.event.set()

    def _send_notification(self, routing_key: str, body: dict) -> None:
        if not self._closed:
            self.broker.route(routing_key, encode(body))

    # lifecycle
    @property
    def connected(self) -> bool:
        return not self._closed

    def close(self) -> None:
        with self._lock:
            if self._closed:
                return
            self._closed = True
            subs = list(self._subs)
        for sub in subs:
            sub.close()
        for pending in list(self._pending.values()):
            pending.reply = BusClosed("bus closed")
            pending.event.set()

    def _check_open(self) -> None:
        if self._closed:
            raise BusClosed("bus closed")

    def _remember(self, sub: Subscription) -> Subscription:
        with self._lock:
            self._subs.add(sub)
        return sub

    def _forget(self, sub: Subscription) -> None:
        with self._lock:
            self._subs.discard(sub)
