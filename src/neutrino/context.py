"""The request context: who is asking (project, user, roles, scope)."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True, slots=True)
class Context:
    project_id: str | None = None
    user_id: str | None = None
    roles: tuple[str, ...] = field(default_factory=tuple)
    is_admin: bool = False
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

    def can_see_project(self, project_id: str | None) -> bool:
        return self.is_admin or project_id == self.project_id
