"""The message bus interface shared by the server and the agents, and what both transports
have in common.

Principle: the database is the truth, messages are only hints. Nothing here retries forever
or guarantees delivery of a hint: a consumer that may have missed hints (after a reconnect,
say) is told through ``on_reconnect`` and resyncs from the server.

Messages are JSON objects (dicts). They are encoded when sent, so every receiver gets its own
copy and a message that cannot be encoded fails in the sender's thread, on every transport.

Everything is thread-based: handlers run in threads the bus owns, never in the caller's.
"""

from __future__ import annotations

import abc
import datetime
import json
import logging
import socket
import threading
import time
import traceback
import uuid
from collections import deque
from collections.abc import Callable, Iterable, Mapping
from typing import Any

import orjson

LOG = logging.getLogger(__name__)

Handler = Callable[[dict], None]
ServeHandler = Callable[[dict], "dict | None"]
ReconnectCallback = Callable[[], None]

# oslo.messaging's notification priorities (oslo_messaging.notify.notifier).
NOTIFICATION_PRIORITIES = ("audit", "debug", "info", "warn", "warning", "error", "critical",
                           "sample")
# oslo.messaging's RPC envelope keys and version (oslo_messaging._drivers.common).
OSLO_VERSION_KEY = "oslo.version"
OSLO_MESSAGE_KEY = "oslo.message"
OSLO_ENVELOPE_VERSION = "2.0"

_TOPIC_MAX_BYTES = 200  # AMQP names are at most 255 bytes; leave room for our prefixes
_TRACEBACK_MAX_CHARS = 4000


class BusError(Exception):
    """Base of every error the bus raises."""


class BusTimeout(BusError):
    """A ``call`` got no reply in time (no server, a slow server, or no broker)."""


class BusClosed(BusError):
    """The bus was closed while, or before, the operation ran."""


class RemoteError(BusError):
    """The handler serving a ``call`` raised; carries the remote exception's type and text.

    ``exc_type`` is the exception class name (as oslo.messaging's RemoteError has it),
    ``exc_module`` its module, ``value`` its message and ``traceback`` the remote traceback.
    """

    def __init__(self, exc_type: str, value: str, traceback: str | None = None,
                 exc_module: str | None = None) -> None:
        self.exc_type = exc_type
        self.value = value
        self.traceback = traceback
        self.exc_module = exc_module
        super().__init__(f"Remote error: {exc_type} {value}")


# --- encoding ------------------------------------------------------------------------------

def encode(message: Mapping[str, Any]) -> bytes:
    """JSON-encode a message; TypeError if it is not a JSON object of encodable values."""
    if not isinstance(message, Mapping):
        raise TypeError(f"bus messages are dicts, not {type(message).__name__}")
    return orjson.dumps(message)


def decode(data: bytes | str) -> dict:
    value = orjson.loads(data)
    if not isinstance(value, dict):
        raise ValueError(f"bus message is not a JSON object: {type(value).__name__}")
    return value


# --- topics --------------------------------------------------------------------------------

def check_topic(topic: str, *, pattern: bool = False) -> str:
    """Validate a topic name (dot-separated words). Only subscribe() takes AMQP patterns:
    ``*`` matches one word, ``#`` zero or more."""
    if not isinstance(topic, str) or not topic:
        raise ValueError("a bus topic is a non-empty string")
    if len(topic.encode()) > _TOPIC_MAX_BYTES:
        raise ValueError(f"bus topic longer than {_TOPIC_MAX_BYTES} bytes: {topic[:40]}...")
    if not pattern and ("*" in topic or "#" in topic):
        raise ValueError(f"wildcards are only allowed in subscribe(): {topic!r}")
    return topic


def topic_matches(pattern: str, topic: str) -> bool:
    """AMQP topic-exchange matching of a routing key against a binding pattern."""
    if "*" not in pattern and "#" not in pattern:
        return pattern == topic
    p, k = pattern.split("."), topic.split(".")
    memo: dict[tuple[int, int], bool] = {}

    def match(i: int, j: int) -> bool:
        if (i, j) not in memo:
            if i == len(p):
                r = j == len(k)
            elif p[i] == "#":
                r = match(i + 1, j) or (j < len(k) and match(i, j + 1))
            elif j == len(k):
                r = False
            else:
                r = (p[i] == "*" or p[i] == k[j]) and match(i + 1, j + 1)
            memo[i, j] = r
        return memo[i, j]

    return match(0, 0)


# --- notifications -------------------------------------------------------------------------

def oslo_timestamp() -> str:
    """The timestamp oslo.messaging puts in a notification: ``str(timeutils.utcnow())``,
    a naive UTC datetime, e.g. ``2024-05-01 12:00:00.123456``."""
    return str(datetime.datetime.now(datetime.UTC).replace(tzinfo=None))


def notification_message(event_type: str, payload: Mapping[str, Any], priority: str,
                         publisher_id: str, context: Mapping[str, Any] | None = None) -> dict:
    """The message oslo.messaging's Notifier builds, with the fields its AMQP driver adds:
    ``_unique_id`` (duplicate detection) and the request context as ``_context_<key>``."""
    msg: dict[str, Any] = {
        "message_id": str(uuid.uuid4()),
        "publisher_id": publisher_id,
        "event_type": event_type,
        "priority": priority.upper(),
        "payload": payload,
        "timestamp": oslo_timestamp(),
    }
    msg["_unique_id"] = uuid.uuid4().hex
    for key, value in (context or {}).items():
        msg[f"_context_{key}"] = value
    return msg


def oslo_envelope(message: Mapping[str, Any]) -> dict:
    """Messaging v2 envelope: the message as a JSON string inside ``oslo.message``."""
    return {OSLO_VERSION_KEY: OSLO_ENVELOPE_VERSION, OSLO_MESSAGE_KEY: json.dumps(message)}


def default_publisher_id(host: str | None = None) -> str:
    return f"network.{host or socket.gethostname()}"


# --- RPC replies ---------------------------------------------------------------------------

def serve_request(handler: ServeHandler, request: dict, topic: str,
                  expect_reply: bool = True) -> dict:
    """Run a serve handler; return the reply to send: ``{"result": dict}`` or
    ``{"failure": {...}}``. Never raises. Without a caller waiting (a cast), a failure is
    logged with its traceback, since nobody else will see it."""
    try:
        result = handler(request)
        if result is None:
            result = {}
        elif not isinstance(result, Mapping):
            raise TypeError(f"serve handlers return a dict or None, not {type(result).__name__}")
        reply = {"result": result}
        encode(reply)  # an unencodable result becomes a failure the caller sees
        return reply
    except Exception as exc:  # the caller gets it as RemoteError
        if expect_reply:
            LOG.info("bus: handler for %s raised %s: %s", topic, type(exc).__name__, exc)
        else:
            LOG.exception("bus: handler for cast to %s failed", topic)
        return {"failure": {
            "exc_type": type(exc).__name__,
            "exc_module": type(exc).__module__,
            "message": str(exc),
            "traceback": traceback.format_exc()[-_TRACEBACK_MAX_CHARS:],
        }}


def reply_result(reply: Mapping[str, Any]) -> dict:
    """The value of a reply, or RemoteError for a failure."""
    failure = reply.get("failure")
    if failure is not None:
        raise RemoteError(str(failure.get("exc_type", "Exception")),
                          str(failure.get("message", "")),
                          failure.get("traceback"), failure.get("exc_module"))
    result = reply.get("result")
    return result if isinstance(result, dict) else {}


def run_handler(handler: Handler, message: dict, topic: str) -> None:
    """Run a subscribe handler; an exception is logged and swallowed."""
    try:
        handler(message)
    except Exception:
        LOG.exception("bus: handler %r for topic %s failed", handler, topic)


# --- threading helpers ---------------------------------------------------------------------

class Mailbox:
    """A FIFO that several worker threads take from; bounded (oldest dropped when full)."""

    def __init__(self, maxlen: int | None = None, name: str = "") -> None:
        self._items: deque[Any] = deque()
        self._cond = threading.Condition()
        self._maxlen = maxlen
        self._name = name
        self.dropped = 0

    def put(self, item: Any) -> None:
        with self._cond:
            if self._maxlen is not None and len(self._items) >= self._maxlen:
                self._items.popleft()
                self.dropped += 1
                if self.dropped == 1 or self.dropped % 1000 == 0:
                    LOG.warning("bus: queue %s full (%d); dropped %d oldest message(s)",
                                self._name, self._maxlen, self.dropped)
            self._items.append(item)
            self._cond.notify()

    def get(self, alive: Callable[[], bool]) -> Any:
        """Next item, or None once ``alive()`` is false (after ``wake_all``)."""
        with self._cond:
            while True:
                if not alive():
                    return None
                if self._items:
                    return self._items.popleft()
                self._cond.wait()

    def wake_all(self) -> None:
        with self._cond:
            self._cond.notify_all()

    def clear(self) -> None:
        with self._cond:
            self._items.clear()

    def __len__(self) -> int:
        with self._cond:
            return len(self._items)


class WorkerPool:
    """``workers`` threads taking items from a mailbox and passing them to ``process``."""

    def __init__(self, name: str, mailbox: Mailbox, process: Callable[[Any], None],
                 workers: int = 1) -> None:
        self.name = name
        self.mailbox = mailbox
        self._process = process
        self._running = True
        self._threads = [
            threading.Thread(target=self._run, name=f"{name}-{i}", daemon=True)
            for i in range(max(1, workers))
        ]
        for t in self._threads:
            t.start()

    def _alive(self) -> bool:
        return self._running

    def _run(self) -> None:
        while True:
            item = self.mailbox.get(self._alive)
            if item is None:
                return
            try:
                self._process(item)
            except Exception:
                LOG.exception("bus: worker %s failed", self.name)

    def stop(self, timeout: float = 5.0) -> None:
        self._running = False
        self.mailbox.wake_all()
        me = threading.current_thread()
        deadline = time.monotonic() + timeout
        for t in self._threads:
            if t is not me:
                t.join(max(0.0, deadline - time.monotonic()))


class RateLimitedLog:
    """Logs the first event at WARNING, then a count at most every ``interval`` seconds."""

    def __init__(self, logger: logging.Logger, interval: float = 30.0) -> None:
        self._log = logger
        self._interval = interval
        self._lock = threading.Lock()
        self._count = 0
        self._last = 0.0

    def warning(self, msg: str, *args: Any) -> None:
        with self._lock:
            self._count += 1
            now = time.monotonic()
            if self._count > 1 and now - self._last < self._interval:
                return
            count, self._count, self._last = self._count, 0, now
        if count > 1:
            self._log.warning(msg + " (%d times since last report)", *args, count)
        else:
            self._log.warning(msg, *args)


# --- the interface -------------------------------------------------------------------------

class Subscription(abc.ABC):
    """What subscribe() and serve() return: close() stops delivery (idempotent)."""

    def __init__(self, topic: str, kind: str) -> None:
        self.topic = topic
        self.kind = kind  # "fanout" (subscribe) or "serve"
        self._closed = False

    @property
    def active(self) -> bool:
        return not self._closed

    @abc.abstractmethod
    def close(self) -> None: ...

    def __enter__(self) -> Subscription:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        state = "active" if self.active else "closed"
        return f"<{type(self).__name__} {self.kind} {self.topic!r} {state}>"


class Bus(abc.ABC):
    """A message bus: fanout hints, RPC (call/cast/serve) and OpenStack notifications."""

    def __init__(self, *, publisher_id: str | None = None,
                 notification_driver: Iterable[str] = (),
                 notification_topics: Iterable[str] = ("notifications",),
                 rpc_response_timeout: float = 60.0) -> None:
        self.publisher_id = publisher_id or default_publisher_id()
        self.notification_driver = [d.strip() for d in notification_driver if d.strip()]
        self.notification_topics = list(notification_topics)
        self.rpc_response_timeout = float(rpc_response_timeout)
        self._reconnect_callbacks: list[ReconnectCallback] = []
        self._callbacks_lock = threading.Lock()

    # fanout hints
    @abc.abstractmethod
    def publish(self, topic: str, message: dict) -> None:
        """Fanout hint to every current subscriber of ``topic``. Fire-and-forget: never
        raises for a broker problem and never blocks for long (dropped and logged when the
        bus is disconnected). TypeError if ``message`` is not JSON-encodable."""

    @abc.abstractmethod
    def subscribe(self, topic: str, handler: Handler) -> Subscription:
        """Receive every message published to ``topic`` (an AMQP pattern: ``*`` one word,
        ``#`` any words) from now on. ``handler`` runs in a bus-owned thread, one message
        at a time, in order; its exceptions are logged."""

    # RPC
    @abc.abstractmethod
    def serve(self, topic: str, handler: ServeHandler, *, workers: int = 1) -> Subscription:
        """Serve requests (call and cast) on ``topic``: each goes to one of the processes
        serving it. ``handler`` returns the reply (dict or None -> {}); what it raises goes
        back to the caller as RemoteError. ``workers`` threads run handlers concurrently."""

    @abc.abstractmethod
    def call(self, topic: str, request: dict, timeout: float | None = None) -> dict:
        """Request/reply: the reply dict of one server of ``topic``. BusTimeout after
        ``timeout`` seconds (default rpc_response_timeout); RemoteError if the handler
        raised."""

    @abc.abstractmethod
    def cast(self, topic: str, message: dict) -> None:
        """One-way request to one server of ``topic``; queued while the broker is briefly
        away, never blocks for long."""

    # notifications
    def notify(self, event_type: str, payload: dict, priority: str = "INFO",
               publisher_id: str | None = None, context: dict | None = None) -> None:
        """An OpenStack notification (e.g. ``network.create.end``) on topic
        ``<topic>.<priority>`` for each of ``notification_topics``, in oslo.messaging's
        envelope for the configured driver: ``messagingv2`` (the envelope Ceilometer and
        Designate read) or ``messaging`` (v1, no envelope). No driver (oslo.messaging's
        default), or ``noop``, sends nothing. ``context`` (the request context as a dict)
        travels as ``_context_<key>`` fields, as oslo.messaging packs it."""
        if priority.lower() not in NOTIFICATION_PRIORITIES:
            raise ValueError(f"unknown notification priority {priority!r}")
        drivers = self.notification_driver
        if "messagingv2" in drivers:
            version = 2
        elif "messaging" in drivers:
            version = 1
        else:
            return
        msg = notification_message(event_type, payload, priority,
                                   publisher_id or self.publisher_id, context)
        body = oslo_envelope(msg) if version == 2 else msg
        for topic in self.notification_topics:
            self._send_notification(f"{topic}.{priority.lower()}", body)

    @abc.abstractmethod
    def _send_notification(self, routing_key: str, body: dict) -> None: ...

    # lifecycle
    @property
    @abc.abstractmethod
    def connected(self) -> bool:
        """True while the bus can send and receive."""

    def wait_connected(self, timeout: float) -> bool:
        """Wait until ``connected`` (at most ``timeout`` seconds); return it."""
        deadline = time.monotonic() + timeout
        while not self.connected:
            if time.monotonic() >= deadline:
                return False
            time.sleep(0.02)
        return True

    def on_reconnect(self, fn: ReconnectCallback) -> ReconnectCallback:
        """Register ``fn()`` to run (in a bus-owned thread) each time the bus is connected
        again after it was not: hints may have been missed, so resync. Usable as a
        decorator."""
        with self._callbacks_lock:
            self._reconnect_callbacks.append(fn)
        return fn

    def _fire_reconnect(self) -> None:
        with self._callbacks_lock:
            callbacks = list(self._reconnect_callbacks)
        if not callbacks:
            return

        def run() -> None:
            for fn in callbacks:
                try:
                    fn()
                except Exception:
                    LOG.exception("bus: on_reconnect callback %r failed", fn)

        threading.Thread(target=run, name="bus-on-reconnect", daemon=True).start()

    @abc.abstractmethod
    def close(self) -> None:
        """Stop every subscription and thread; pending calls raise BusClosed."""

    def __enter__(self) -> Bus:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
