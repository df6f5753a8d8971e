"""What the application sends: JSON (orjson, the standard encoder past 64-bit integers),
lists streamed page by page, status lines, and Neutron's error bodies with offending
values cut short."""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Iterator
from typing import Any

import orjson

from neutrino import exceptions as exc

LOG = logging.getLogger(__name__)


def dumps(payload: Any) -> bytes:
    try:
        return orjson.dumps(payload)
    except orjson.JSONEncodeError:
        # integers beyond 64 bits (IPv6 address counts, network-ip-availability):
        # the standard encoder writes them exactly, as Neutron's does
        return json.dumps(payload, separators=(",", ":")).encode()


class Streamed:
    """The body ``{"<collection>": [...]}`` as a WSGI iterable, encoded page by page
    from an iterator of item lists (each read when the previous one has been sent)."""

    def __init__(self, pages: Iterator[list[dict[str, Any]]], collection: str) -> None:
        self.pages = pages
        self.collection = collection

    def __iter__(self) -> Iterator[bytes]:
        yield b'{"' + self.collection.encode() + b'":['
        first = True
        try:
            for page in self.pages:
                data = dumps(page)[1:-1]  # the items, without the list's brackets
                if not data:
                    continue
                yield data if first else b"," + data
                first = False
        except Exception:
            # the status is sent: the client sees a body cut short (the connection is
            # closed), never a well-formed partial list
            LOG.exception("%s: list failed while being sent", self.collection)
            raise
        yield b"]}"

    def close(self) -> None:
        close = getattr(self.pages, "close", None)
        if close is not None:
            close()


# An error quotes an offending value by its first characters only: a 100 KB name is not
# sent back (nor logged) whole. Quoted runs are cut first so the sentence stays readable.
_QUOTED_MAX = 256  # names and descriptions (255) are still quoted whole, as Neutron does
_MESSAGE_MAX = 2048
_LONG_QUOTED = re.compile(f"'([^']{{{_QUOTED_MAX}}})[^']+'")


def shorten(message: str) -> str:
    if len(message) <= _QUOTED_MAX * 2:
        return message
    message = _LONG_QUOTED.sub(r"'\1...'", message)
    if len(message) > _MESSAGE_MAX:
        message = message[:_MESSAGE_MAX] + "..."
    return message


_REASONS = {200: "OK", 201: "Created", 204: "No Content", 400: "Bad Request",
            401: "Unauthorized", 403: "Forbidden", 404: "Not Found",
            405: "Method Not Allowed", 408: "Request Timeout", 409: "Conflict",
            412: "Precondition Failed", 413: "Request Entity Too Large",
            415: "Unsupported Media Type",
            500: "Internal Server Error", 501: "Not Implemented", 503: "Service Unavailable"}


def status_line(status: int) -> str:
    return f"{status} {_REASONS.get(status, 'Unknown')}"


def error_body(e: exc.NeutronError) -> dict[str, Any]:
    return {"NeutronError": {"type": e.type, "message": shorten(e.msg), "detail": ""}}
