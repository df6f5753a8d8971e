"""Who is asking: ``auth_strategy = noauth`` (identity from headers), ``keystone``
(tokens validated by keystonemiddleware's auth_token, configured by [keystone_authtoken]
exactly as for Neutron) or ``http_basic`` (users, passwords, projects and roles in a file:
api/basic_auth.py).

Only the API under /v2.0 needs authentication; the version document at / does not, as in
Neutron's paste pipeline.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable
from typing import Any

from oslo_config import cfg

from neutrino import exceptions as exc
from neutrino.api import limits
from neutrino.context import Context

MAX_PROJECT_ID_LEN = 255  # the project_id columns' size

WSGIApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]


def _roles(environ: dict[str, Any]) -> tuple[str, ...]:
    raw = environ.get("HTTP_X_ROLES") or environ.get("HTTP_X_ROLE") or ""
    return tuple(r.strip().lower() for r in raw.split(",") if r.strip())


def noauth_context(environ: dict[str, Any]) -> Context:
    """noauth: X-Project-Id (or X-Tenant-Id), X-User-Id, X-Roles. A caller naming a project
    but no roles is a member of it; a caller naming nothing is the operator (an admin
    context, as Neutron's noauth one). Whether anyone else is an admin is the policy's
    context_is_admin rule (Policy.judge, once per request), not a role name."""
    project = environ.get("HTTP_X_PROJECT_ID") or environ.get("HTTP_X_TENANT_ID")
    user = environ.get("HTTP_X_USER_ID")
    roles = _roles(environ)
    if project is not None and len(project) > MAX_PROJECT_ID_LEN:
        # more than any project_id column holds (Keystone's ids have 32 characters): such
        # a project could own nothing, and its first write would fail in the database
        raise exc.HTTPBadRequest(f"X-Project-Id is longer than {MAX_PROJECT_ID_LEN} "
                                 "characters")
    if project is None and not roles:
        return Context(user_id=user, roles=("admin", "member", "reader"), is_admin=True)
    if project is not None and not roles:
        roles = ("member", "reader")
    return Context(project_id=project, user_id=user, roles=roles)


def keystone_context(environ: dict[str, Any]) -> Context:
    """The identity keystonemiddleware validated and put into the X-* headers (is_admin:
    the policy's context_is_admin rule, see Policy.judge)."""
    roles = _roles(environ)
    return Context(
        project_id=environ.get("HTTP_X_PROJECT_ID") or environ.get("HTTP_X_TENANT_ID"),
        user_id=environ.get("HTTP_X_USER_ID") or environ.get("HTTP_X_USER"),
        roles=roles,
        system_scope=environ.get("HTTP_OPENSTACK_SYSTEM_SCOPE"),
    )


def context_factory(conf: cfg.ConfigOpts) -> Callable[[dict[str, Any]], Context]:
    # http_basic puts the authenticated identity into the same keys as keystonemiddleware
    if conf.auth_strategy in ("keystone", "http_basic"):
        return keystone_context
    return noauth_context


def users_file(conf: cfg.ConfigOpts) -> str:
    return conf.http_basic_auth_user_file or os.path.join(conf.state_path, "htpasswd")


def wrap(app: WSGIApp, conf: cfg.ConfigOpts) -> WSGIApp:
    """Put Keystone token validation (or http_basic's users file) in front of /v2.0."""
    if conf.auth_strategy == "http_basic":
        from neutrino.api import basic_auth

        return basic_auth.wrap(app, users_file(conf))
    if conf.auth_strategy != "keystone":
        return app
    from keystonemiddleware import auth_token

    protected = auth_token.AuthProtocol(_confirmed_only(app), {"oslo_config_config": conf})

    def dispatch(environ: dict[str, Any], start_response: Callable[..., Any]
                 ) -> Iterable[bytes]:
        if environ.get("PATH_INFO", "/") in ("", "/"):
            return app(environ, start_response)
        return protected(environ, start_response)

    return dispatch


def _confirmed_only(app: WSGIApp) -> WSGIApp:
    """Behind auth_token: only a caller whose token it validated gets through. With
    ``delay_auth_decision = true`` auth_token passes requests without a (valid) token on,
    marked ``X-Identity-Status: Invalid``; Neutron answers those 401 (its keystonecontext
    finds no user), and so do we. auth_token strips any X-Identity-Status a client sends."""

    def confirmed(environ: dict[str, Any], start_response: Callable[..., Any]
                  ) -> Iterable[bytes]:
        if environ.get("HTTP_X_IDENTITY_STATUS") != "Confirmed" or not (
                environ.get("HTTP_X_USER_ID") or environ.get("HTTP_X_USER")):
            status, headers, body = limits.error_response(
                401, "HTTPUnauthorized", "The request you have made requires authentication.")
            start_response(status, headers)
            return [body]
        return app(environ, start_response)

    return confirmed
