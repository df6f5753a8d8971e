"""Authorization: Neutron's default policy rules evaluated by oslo.policy, overridable by
a policy.yaml, with per-request memoization so that lists stay fast."""

from neutrino.policy.enforcer import Policy

__all__ = ["Policy"]
