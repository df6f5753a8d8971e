"""The protocol's version and its compatibility rule (docs/agent-protocol.md, "Versions").

``VERSION`` is ``"MAJOR.MINOR"``. A minor step only adds (a new optional field, with a
default the older side assumes; a new method an older server answers with an error): a
peer ignores fields it does not know, so any two minors of one major work together. A
major step changes or removes something; peers of two majors refuse each other, loudly:
the server refuses every request of an agent of another major (an error in its log, a
``RemoteError`` to a ``call``), the agent refuses every reply and hint of a server of
another major (an error in its log, nothing changed on the host) and keeps asking, so it
converges as soon as both sides speak one major again.

A message without a version is ``1.0``: what agents and servers sent before the version
field existed (the same shapes), so they keep working with this one.
"""

from __future__ import annotations

VERSION = "1.1"
UNVERSIONED = "1.0"


class ProtocolVersionError(ValueError):
    """A peer speaks a major version of the protocol this side does not."""


def parse(version: object) -> tuple[int, int]:
    """``"MAJOR.MINOR"`` as two integers; ProtocolVersionError for anything else."""
    if isinstance(version, str):
        major, sep, minor = version.partition(".")
        if sep and major.isdigit() and minor.isdigit():
            return int(major), int(minor)
    raise ProtocolVersionError(f"malformed protocol version {version!r}")


def compatible(theirs: object, ours: str = VERSION) -> bool:
    return parse(theirs)[0] == parse(ours)[0]


def check(theirs: object, *, peer: str, ours: str = VERSION) -> None:
    """Raise ProtocolVersionError, naming ``peer`` and both versions, unless ``theirs``
    (None: an unversioned peer) is compatible with ``ours``."""
    theirs = UNVERSIONED if theirs is None else theirs
    if not compatible(theirs, ours):
        raise ProtocolVersionError(
            f"{peer} speaks agent protocol {theirs}, this side {ours}: majors differ, "
            "refusing it (upgrade the older side)")
