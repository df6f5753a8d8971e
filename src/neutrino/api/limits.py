"""What the API accepts at the HTTP level, whatever server runs it: the body size limit
(``max_request_body_size``, 413 before the body is read) and JSON bodies only (415), with
every refusal a NeutronError body.

Our own server enforces the size limit already while receiving (see server.py); this
layer makes the same guarantee under any WSGI server (uWSGI, gunicorn, mod_wsgi), and it
is the only place the Content-Type is checked.
"""

from __future__ import annotations

import io
import uuid
from collections.abc import Callable, Iterable
from typing import Any

import orjson

WSGIApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]

REASONS = {400: "Bad Request", 401: "Unauthorized", 404: "Not Found",
           405: "Method Not Allowed", 408: "Request Timeout", 413: "Request Entity Too Large",
           415: "Unsupported Media Type", 431: "Request Header Fields Too Large",
           500: "Internal Server Error", 501: "Not Implemented"}

# Media types a body may be sent as. Anything else is refused -- text/plain, forms, XML,
# all of which a browser may send cross-site without a preflight. Neutron parses every
# body as JSON, whatever its label, and some Neutron clients send none: tempest's
# network clients PUT their bodies with only X-Auth-Token. A body without any
# Content-Type is therefore taken as JSON when the request carries an X-Auth-Token
# header -- a custom header no cross-site request can send without a CORS preflight --
# and refused otherwise (fetch() with a Blob body sends no Content-Type, and Basic
# credentials or a noauth deployment would let such a forged request through).
JSON_TYPES = frozenset({"application/json"})
BODY_METHODS = frozenset({"POST", "PUT", "PATCH"})


def error_response(status: int, type_: str, message: str
                   ) -> tuple[str, list[tuple[str, str]], bytes]:
    """A NeutronError response: status line, headers and body."""
    body = orjson.dumps({"NeutronError": {"type": type_, "message": message, "detail": ""}})
    headers = [("Content-Type", "application/json"), ("Content-Length", str(len(body))),
               ("x-openstack-request-id", "req-" + str(uuid.uuid4()))]
    return f"{status} {REASONS.get(status, 'Error')}", headers, body


def _refuse(start_response: Callable[..., Any], status: int, type_: str, message: str,
            *, close: bool = False) -> list[bytes]:
    status_line, headers, body = error_response(status, type_, message)
    if close:
        headers.append(("Connection", "close"))
    start_response(status_line, headers)
    return [body]


def too_large(limit: int) -> tuple[str, str]:
    return ("HTTPRequestEntityTooLarge",
            f"Request body is larger than max_request_body_size ({limit} bytes).")


def wrap(app: WSGIApp, max_body: int) -> WSGIApp:
    def limited(environ: dict[str, Any], start_response: Callable[..., Any]
                ) -> Iterable[bytes]:
        length = environ.get("CONTENT_LENGTH") or ""
        chunked = "chunked" in environ.get("HTTP_TRANSFER_ENCODING", "").lower()
        if length:
            try:
                size = int(length)
                if size < 0:
                    raise ValueError(length)
            except ValueError:
                return _refuse(start_response, 400, "HTTPBadRequest",
                               "Invalid Content-Length.", close=True)
            if size > max_body:
                # unread: the connection cannot be reused for another request
                return _refuse(start_response, 413, *too_large(max_body), close=True)
        elif chunked or environ.get("wsgi.input_terminated"):
            # no length given: read at most one byte past the limit, never the rest
            body = environ["wsgi.input"].read(max_body + 1)
            if len(body) > max_body:
                return _refuse(start_response, 413, *too_large(max_body), close=True)
            environ["wsgi.input"] = io.BytesIO(body)
            environ["CONTENT_LENGTH"] = str(len(body))
            size = len(body)
        else:
            size = 0
        if size and environ.get("REQUEST_METHOD", "").upper() in BODY_METHODS:
            ctype = environ.get("CONTENT_TYPE", "")
            media = ctype.split(";", 1)[0].strip().lower()
            unlabelled_token = not media and bool(environ.get("HTTP_X_AUTH_TOKEN"))
            if media not in JSON_TYPES and not unlabelled_token:
                shown = ctype[:64].encode("latin-1", "replace").decode("utf-8", "replace")
                return _refuse(start_response, 415, "HTTPUnsupportedMediaType",
                               f"The request media type {shown} is not supported by this "
                               "server; use application/json.")
        return app(environ, start_response)

    return limited
