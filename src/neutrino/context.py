"""The request context: who is asking (project, user, roles, scope)."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True, slots=True)
class Context:
    project_id: str | None = None
    user_id: str | None = None
    roles: tuple[str, ...] = field(default_factory=tuple)
    # What the policy's context_is_admin, context_is_advsvc and service_api rules say of
    # this caller's credentials, evaluated once per request (policy.Policy.judge), as
    # Neutron's context asks them; never derived from role names here.
    is_admin: bool = False
    is_advsvc: bool = False
    is_service_role: bool = False
    request_id: str | None = None
    # "all" for a system-scoped Keystone token; Neutron's rules are project scoped, so such
    # a token is refused by policy (as Neutron does).
    system_scope: str | None = None
    # If-Match: revision_number=N on this request: the write must find exactly revision N
    # (checked inside the write's transaction, so it is a compare-and-swap).
    if_match_revision: int | None = None

    @classmethod
    def admin(cls) -> Context:
        return cls(roles=("admin", "member", "reader"), is_admin=True)

    @property
    def sees_all(self) -> bool:
        """Whether reads are not scoped to the caller's project (Neutron's
        model_query_scope_is_project: admin, advanced service and service role see every
        project's rows; policy then decides what of them is shown)."""
        return self.is_admin or self.is_advsvc or self.is_service_role

    def can_see_project(self, project_id: str | None) -> bool:
        return self.sees_all or project_id == self.project_id
