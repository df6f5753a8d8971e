"""RequestPolicy.hidden: the attributes a list may leave out because the caller's policy
never shows them, whatever the item (policy/enforcer.py; ListQuery.hidden)."""

from __future__ import annotations

from neutrino import config
from neutrino.context import Context
from neutrino.policy.enforcer import Policy
from neutrino.schema import port as port_schema

BINDING_ADMIN_ONLY = {"binding:host_id", "binding:profile", "binding:vif_type",
                      "binding:vif_details"}


def _hidden(ctx: Context) -> frozenset[str]:
    policy = Policy(config.make_conf([]))
    ctx = policy.judge(ctx)
    return policy.for_request(ctx).hidden("port", port_schema.resource().attrs)


def test_member_never_sees_the_admin_only_binding_attributes() -> None:
    hidden = _hidden(Context(project_id="p1", user_id="u1", roles=("member", "reader")))
    # rules that read the item (its project, its network's owner) are the view's to
    # judge per item, never hidden here
    assert hidden == BINDING_ADMIN_ONLY


def test_admin_and_service_hide_nothing_of_a_port() -> None:
    assert _hidden(Context.admin()) == frozenset()
    assert _hidden(Context(project_id="p1", user_id="nova", roles=("service",))) == frozenset()
