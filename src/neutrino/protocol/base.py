"""What every message type shares, and conversion between types and the bus's dicts.

The bus carries plain dicts (JSON over RabbitMQ); the types are msgspec Structs. A
builder makes a Struct and ``to_wire`` turns it into the dict the bus sends, with the
version; a reader checks the version and ``convert``s the dict back, validating every
field's type on the way (a wrong type is a ProtocolError naming the field's path).
"""

from __future__ import annotations

from typing import Any, TypeVar

import msgspec

from neutrino.protocol.version import VERSION, check

T = TypeVar("T")


class ProtocolError(ValueError):
    """A message that does not have its type's shape."""


class Message(msgspec.Struct, frozen=True, kw_only=True):
    """Part of a message: immutable, unknown fields ignored on decode (a newer minor
    version may add some), fields with defaults optional."""


class Envelope(Message, frozen=True, kw_only=True):
    """A whole message (a request's args, a reply, a hint): it carries the version of
    the side that made it."""

    version: str = VERSION


def convert(raw: Any, type_: type[T], *, what: str = "message") -> T:
    """``raw`` (decoded JSON) as ``type_``, validated; ProtocolError if it does not fit."""
    try:
        return msgspec.convert(raw, type_)
    except msgspec.ValidationError as e:
        raise ProtocolError(f"{what}: {e}") from None


def to_wire(message: Message) -> dict[str, Any]:
    """The dict the bus carries (fields left UNSET are left out)."""
    out = msgspec.to_builtins(message)
    assert isinstance(out, dict)
    return out


def decode(raw: Any, type_: type[T], *, peer: str) -> T:
    """A whole message from ``peer``: its version checked first (ProtocolVersionError),
    then its shape (ProtocolError)."""
    if not isinstance(raw, dict):
        raise ProtocolError(f"{peer} sent {type(raw).__name__}, not an object")
    check(raw.get("version"), peer=peer)
    return convert(raw, type_, what=f"{peer}'s {type_.__name__}")
