"""The policy engine: oslo.policy with Neutron's rules and custom checks, plus a
per-request memo.

oslo.policy evaluates a rule tree for one target at a time, which is what made listing
1000 ports slow in Neutron. Here every check result is memoized per request under the
values of only those target keys the rule actually reads (found by walking its tree), so
listing 1000 ports of one project costs a handful of evaluations, not 1000 — and it stays
correct for any rule an operator writes in policy.yaml.
"""

from __future__ import annotations

import ast
import dataclasses
import inspect
import re
import time
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from oslo_config import cfg
from oslo_policy import _checks, policy

from neutrino import exceptions as exc
from neutrino.context import Context
from neutrino.policy import defaults

# Keystone puts implied roles into tokens (admin implies manager implies member implies
# reader); headers under noauth carry only what the caller wrote, so expand them the same way.
_IMPLIED = {"admin": ("manager", "member", "reader"), "manager": ("member", "reader"),
            "member": ("reader",)}

_TARGET_REF = re.compile(r"%\(([^)]+)\)s")

# oslo.policy calls inspect.getfullargspec() on every node of a rule tree at every check
# to learn whether the check takes ``current_rule``: ~25 us a node, 0.3-0.5 ms for one
# of Neutron's rules, which made policy the most expensive part of creating a port. The
# answer depends only on the check's class; ask once per class.
_TAKES_CURRENT_RULE: dict[type, bool] = {}


def _check_once_per_class(rule: Any, target: Any, creds: Any, enforcer: Any,
                          current_rule: str | None) -> bool:
    takes = _TAKES_CURRENT_RULE.get(type(rule))
    if takes is None:
        takes = len(inspect.getfullargspec(rule.__call__).args) > 4
        _TAKES_CURRENT_RULE[type(rule)] = takes
    if takes:
        return rule(target, creds, enforcer, current_rule)  # type: ignore[no-any-return]
    return rule(target, creds, enforcer)  # type: ignore[no-any-return]


_checks._check = _check_once_per_class


@policy.register(None)
class _GenericCheck(_checks.GenericCheck):
    """oslo.policy's GenericCheck (``project_id:%(project_id)s``, ``'x':%(y)s``) with
    its left side parsed once: oslo.policy runs ``ast.literal_eval`` on it at every
    evaluation (~15 us, several per rule), to learn whether it is a literal."""

    def __init__(self, kind: str, match: str) -> None:
        super().__init__(kind, match)
        # None: not a literal (a path into the credentials); rules are deep-copied, so
        # no sentinel object would survive
        self._literal: str | None
        try:
            self._literal = str(ast.literal_eval(kind))
        except (ValueError, SyntaxError):
            self._literal = None
        self._path = kind.split(".")

    def __call__(self, target: Any, creds: Any, enforcer: Any,
                 current_rule: str | None = None) -> bool:
        try:
            match = self.match % target
        except KeyError:
            return False  # as oslo.policy: a key the target lacks fails the check
        if self._literal is not None:
            return match == self._literal
        return self._find_in_dict(creds, self._path, match)


# Checks whose verdict can only go from False to True when keys are added to a target
# (a missing key fails them; nothing negates them): a rule made of these alone that
# allows an item as it is allows it with whatever the target resolver adds.
_MONOTONE = (_checks.RuleCheck, _checks.AndCheck, _checks.OrCheck, _checks.RoleCheck,
             _checks.GenericCheck, _checks.TrueCheck, _checks.FalseCheck)
# Checks whose verdict depends on the target's values and the credentials alone (an
# ``http:`` check asks a remote server, which may answer differently next time): a rule
# made of these may be memoized across requests.
_PURE = (*_MONOTONE, _checks.NotCheck)


class _Enforcer(policy.Enforcer):
    """oslo.policy's Enforcer, looking for changed policy files at most once a second
    rather than at every check (a dozen stat() calls each time). ``generation`` counts
    rule sets: what is derived from the rules (target keys) is dropped when it moves."""

    _RECHECK_S = 1.0
    _checked_at = float("-inf")
    generation = 0

    def load_rules(self, force_reload: bool = False) -> None:
        now = time.monotonic()
        if force_reload or not self.rules or now - self._checked_at >= self._RECHECK_S:
            super().load_rules(force_reload)
            self._checked_at = now

    def set_rules(self, rules: Any, overwrite: bool = True, use_conf: bool = False) -> None:
        super().set_rules(rules, overwrite, use_conf)
        self.generation += 1


@policy.register("field")
class FieldCheck(_checks.Check):
    """``field:<collection>:<attribute>=<value>`` compares a target attribute (a leading
    ``~`` makes the value a regular expression), as Neutron's FieldCheck."""

    def __init__(self, kind: str, match: str) -> None:
        super().__init__(kind, match)
        _resource, rest = match.split(":", 1)
        self.field, value = rest.rsplit("=", 1)
        self.regex = re.compile(value[1:]) if value.startswith("~") else None
        self.value = value

    def __call__(self, target: Mapping[str, Any], creds: Any, enforcer: Any,
                 current_rule: str | None = None) -> bool:
        if self.field not in target:
            return False
        actual = target[self.field]
        if self.regex is not None:
            return isinstance(actual, str) and bool(self.regex.match(actual))
        if isinstance(actual, bool):
            return str(actual).lower() == self.value.lower()
        return str(actual) == self.value


_MONOTONE = (*_MONOTONE, FieldCheck)
_PURE = (*_PURE, FieldCheck)
# Verdicts kept across requests (Policy.memo): more than this many and it starts afresh.
_MEMO_MAX = 65536


def expand_roles(roles: Iterable[str]) -> list[str]:
    out = {r.lower() for r in roles}
    for r in list(out):
        out.update(_IMPLIED.get(r, ()))
    return sorted(out)


def credentials(ctx: Context) -> dict[str, Any]:
    """What oslo.policy's checks read of the caller (Neutron's context.to_policy_values)."""
    return {
        "user_id": ctx.user_id,
        "project_id": ctx.project_id,
        "tenant_id": ctx.project_id,
        "roles": expand_roles(ctx.roles),
        "is_admin": ctx.is_admin,
        "is_advsvc": ctx.is_advsvc,
        "is_admin_project": True,
        "system_scope": None,
        "domain_id": None,
    }


# The rules whose verdict on the caller's own credentials makes the context's flags, as
# Neutron's context asks them (neutron_lib.policy: check_is_admin, check_is_advsvc,
# check_is_service_role). An operator's policy.yaml redefines who is an admin here.
CONTEXT_RULES = (("is_admin", "context_is_admin"), ("is_advsvc", "context_is_advsvc"),
                 ("is_service_role", "service_api"))


class Policy:
    """Neutron's defaults, overridable by ``[oslo_policy] policy_file`` (policy.yaml)."""

    def __init__(self, conf: cfg.ConfigOpts) -> None:
        self.enforcer = _Enforcer(conf)
        self.enforcer.register_defaults(defaults.rules())
        self.enforcer.load_rules()
        self._keys: dict[str, frozenset[str]] = {}
        # per rule: its target keys in a fixed order, whether it is monotone and pure
        self._shapes: dict[str, tuple[tuple[str, ...], bool, bool]] = {}
        self._keys_generation = self.enforcer.generation
        # verdicts by (rule, credentials, values of the rule's target keys), for rules
        # whose verdict depends on nothing else (pure): a port show or a list of one
        # project's ports asks the same few questions every time
        self.memo: dict[tuple[Any, ...], bool] = {}
        # judge's verdicts by credentials and rule set: they depend on nothing else
        self._verdicts: dict[tuple[Any, ...], dict[str, bool]] = {}
        # RequestPolicy.hidden's answers by resource and credentials (this rule set's)
        self.hidden_memo: dict[tuple[Any, ...], frozenset[str]] = {}

    def judge(self, ctx: Context) -> Context:
        """``ctx`` with is_admin, is_advsvc and is_service_role as the context rules find
        its credentials (the target is the credentials, as in Neutron). A context made an
        admin explicitly (the noauth operator, like Neutron's admin context) stays one."""
        self.enforcer.load_rules()
        memo_key = (self.enforcer.generation, ctx.project_id, ctx.user_id, ctx.roles,
                    ctx.is_admin, ctx.is_advsvc, ctx.is_service_role)
        flags = self._verdicts.get(memo_key)
        if flags is None:
            if len(self._verdicts) > 4096:
                self._verdicts.clear()  # old rule sets and callers: start afresh
            flags = self._verdicts[memo_key] = self._judge(ctx)
        return dataclasses.replace(ctx, **flags) if any(flags.values()) else ctx

    def _judge(self, ctx: Context) -> dict[str, bool]:
        creds = credentials(ctx)
        flags: dict[str, bool] = {}
        for flag, rule in CONTEXT_RULES:
            if getattr(ctx, flag):
                continue
            if rule not in self.enforcer.rules:
                flags[flag] = False  # as Neutron: an operator may delete the rule
                continue
            try:
                flags[flag] = bool(self.enforcer.enforce(rule, creds, creds))
            except policy.InvalidScope:
                flags[flag] = False
        return flags

    def for_request(self, ctx: Context) -> RequestPolicy:
        return RequestPolicy(self, ctx)

    def target_keys(self, rule: str) -> frozenset[str]:
        """Target keys rule ``rule`` may read: the memo key of its results (worked out
        again after the policy file changed)."""
        self._current()
        keys = self._keys.get(rule)
        if keys is None:
            found: set[str] = set()
            self._walk(self.enforcer.rules.get(rule), found, set())
            keys = self._keys[rule] = frozenset(found)
        return keys

    def _current(self) -> None:
        if self._keys_generation != self.enforcer.generation:
            self._keys = {}
            self._shapes = {}
            self.memo = {}
            self.hidden_memo = {}
            self._keys_generation = self.enforcer.generation

    def shape(self, rule: str) -> tuple[tuple[str, ...], bool, bool]:
        """(target keys in a fixed order, monotone, pure) of rule ``rule``."""
        self._current()
        shape = self._shapes.get(rule)
        if shape is None:
            kinds: set[type] = set()
            self._kinds(self.enforcer.rules.get(rule), kinds, set())
            shape = self._shapes[rule] = (
                tuple(sorted(self.target_keys(rule))),
                all(issubclass(k, _MONOTONE) for k in kinds),
                all(issubclass(k, _PURE) for k in kinds))
        return shape

    def _kinds(self, check: Any, kinds: set[type], seen: set[str]) -> None:
        """The check classes rule tree ``check`` is made of (through rule: references)."""
        if check is None:
            return
        kinds.add(type(check))
        if isinstance(check, _checks.RuleCheck):
            if check.match not in seen:
                seen.add(check.match)
                self._kinds(self.enforcer.rules.get(check.match), kinds, seen)
        elif isinstance(check, _checks.NotCheck):
            self._kinds(check.rule, kinds, seen)
        elif hasattr(check, "rules"):
            for sub in check.rules:
                self._kinds(sub, kinds, seen)

    def _walk(self, check: Any, found: set[str], seen: set[str]) -> None:
        if check is None:
            return
        if isinstance(check, _checks.RuleCheck):
            if check.match not in seen:
                seen.add(check.match)
                self._walk(self.enforcer.rules.get(check.match), found, seen)
        elif isinstance(check, FieldCheck):
            found.add(check.field)
        elif isinstance(check, _checks.NotCheck):
            self._walk(check.rule, found, seen)
        elif hasattr(check, "rules"):  # And/Or
            for sub in check.rules:
                self._walk(sub, found, seen)
        elif isinstance(check, _checks.Check) and isinstance(check.match, str):
            # generic and role checks (``role:%(x)s`` too), http checks: every
            # ``%(key)s`` of their right side is read from the target
            found.update(_TARGET_REF.findall(check.match))


class RequestPolicy:
    """Checks for one request's caller, memoized."""

    def __init__(self, owner: Policy, ctx: Context) -> None:
        self.owner = owner
        self.ctx = ctx
        self.creds = credentials(ctx)
        self._memo: dict[tuple[Any, ...], bool] = {}
        # the credentials as a memo key of Policy.memo (what oslo.policy's checks read)
        self._who = tuple((k, tuple(v) if isinstance(v, list) else v)
                          for k, v in self.creds.items())

    def check(self, rule: str, target: Mapping[str, Any]) -> bool:
        if rule not in self.owner.enforcer.rules:
            return True  # like Neutron's might_not_exist: no rule, no restriction
        keys, _monotone, pure = self.owner.shape(rule)
        get = target.get
        values = tuple([_hashable(get(k)) for k in keys])
        memo_key = (rule, values)
        result = self._memo.get(memo_key)
        if result is not None:
            return result
        shared = self.owner.memo
        shared_key = (rule, self._who, values)
        if pure:
            result = shared.get(shared_key)
        if result is None:
            try:
                result = bool(self.owner.enforcer.enforce(rule, target, self.creds))
            except policy.InvalidScope:
                result = False
            if pure:
                if len(shared) >= _MEMO_MAX:
                    shared.clear()
                shared[shared_key] = result
        self._memo[memo_key] = result
        return result

    def hidden(self, resource: str, attrs: Iterable[str]) -> frozenset[str]:
        """The attributes of ``attrs`` whose ``get_<resource>:<attr>`` rule refuses the
        caller whatever the item (it reads nothing of the target, and nothing else: a
        member and ``binding:*``), so that a list need not compute them at all. An
        attribute that some ``get_<resource>`` rule reads stays computed: the policy may
        need it to judge the item. Memoized per credentials and rule set."""
        owner = self.owner
        owner._current()
        memo_key = ("hidden", resource, self._who)
        found = owner.hidden_memo.get(memo_key)
        if found is not None:
            return found
        rules = owner.enforcer.rules
        attrs = list(attrs)
        read: set[str] = set()
        for name in (f"get_{resource}", *(f"get_{resource}:{a}" for a in attrs)):
            if name in rules:
                read |= owner.target_keys(name)
        out = set()
        for attr in attrs:
            rule = f"get_{resource}:{attr}"
            if rule not in rules or attr in read:
                continue
            keys, _monotone, pure = owner.shape(rule)
            if not keys and pure and not self.check(rule, {}):
                out.add(attr)
        if len(owner.hidden_memo) > 4096:
            owner.hidden_memo.clear()  # many callers: start afresh
        found = owner.hidden_memo[memo_key] = frozenset(out)
        return found

    def judge_many_as_is(self, rule: str, items: list[dict[str, Any]]) -> list[bool | None]:
        """judge_as_is for each item of a list: items with the same values of the keys
        the rule reads (a project's own ports: all of them) are judged once."""
        seen: dict[Any, bool | None] = {}
        keys = self.owner.shape(rule)[0] if rule in self.owner.enforcer.rules else ()
        out: list[bool | None] = []
        for item in items:
            values = tuple([(k in item, item.get(k)) for k in keys])
            try:
                if values in seen:
                    out.append(seen[values])
                    continue
            except TypeError:  # a list or dict value: judged on its own
                out.append(self.judge_as_is(rule, item))
                continue
            verdict = seen[values] = self.judge_as_is(rule, item)
            out.append(verdict)
        return out

    def judge_as_is(self, rule: str, item: Mapping[str, Any]) -> bool | None:
        """The verdict of ``rule`` on ``item`` as it is, when what the target resolver
        adds to an item (keys only, never a change) cannot change it: the item has
        every key the rule reads, or the rule is monotone and allows it already. None:
        ask again with the whole target."""
        if rule not in self.owner.enforcer.rules:
            return True
        keys, monotone, _pure = self.owner.shape(rule)
        if all(k in item for k in keys):
            return self.check(rule, item)
        if monotone and self.check(rule, item):
            return True
        return None

    def enforce(self, action: str, target: Mapping[str, Any],
                attributes: Mapping[str, Sequence[str]] | None = None) -> None:
        """``action`` and, ANDed with it, ``action:<attr>`` and its ``action:<attr>:<key>``
        for each of ``attributes`` (api/body.py policy_attributes: what Neutron's match
        rule names), as Neutron's _build_match_rule. A name with no rule is oslo.policy's
        default rule (``default``: admin or owner), as in Neutron, where these are
        RuleChecks; a refusal is oslo.policy's PolicyNotAuthorized for that check tree
        (its message: "<tree> is disallowed by policy")."""
        groups = attributes or {}
        names = [action]
        for attr, keys in groups.items():
            names.append(f"{action}:{attr}")
            names.extend(f"{action}:{attr}:{k}" for k in keys)
        if self.check(names[0], target) and all(self._check_named(r, target)
                                                 for r in names[1:]):
            return
        tree = _match_rule(action, groups)
        try:
            # the memo said no; oslo.policy evaluates the tree and words the refusal
            self.owner.enforcer.enforce(tree, target, self.creds, do_raise=True)
        except policy.PolicyNotAuthorized as e:
            raise exc.PolicyNotAuthorized(str(e)) from None
        # allowed as a bare tree but not rule by rule (a rule's scope_types refused the
        # credentials): still a refusal, in oslo.policy's words
        raise exc.PolicyNotAuthorized(str(policy.PolicyNotAuthorized(tree, target,
                                                                     self.creds)))

    def _check_named(self, rule: str, target: Mapping[str, Any]) -> bool:
        """check() of a rule a RuleCheck names: one that does not exist is the default
        rule, and with none of those either it refuses (oslo.policy's Rules)."""
        rules = self.owner.enforcer.rules
        if rule in rules:
            return self.check(rule, target)
        default = rules.default_rule
        if isinstance(default, str) and default and default in rules:
            return self.check(default, target)
        return False


def _match_rule(action: str, groups: Mapping[str, Sequence[str]]) -> _checks.BaseCheck:
    """Neutron's match rule: ``rule:<action>`` ANDed, one attribute at a time, with
    ``rule:<action>:<attr>`` (itself ANDed with its sub-attribute rules)."""
    tree: _checks.BaseCheck = _checks.RuleCheck("rule", action)
    for attr, keys in groups.items():
        check: _checks.BaseCheck = _checks.RuleCheck("rule", f"{action}:{attr}")
        if keys:
            inner = [_checks.RuleCheck("rule", f"{action}:{attr}:{k}") for k in keys]
            check = _checks.AndCheck([check, _checks.AndCheck(inner)])
        tree = _checks.AndCheck([tree, check])
    return tree


def _hashable(value: Any) -> Any:
    if value is None or isinstance(value, str | bool | int):
        return value
    if isinstance(value, list):
        return tuple(_hashable(v) for v in value)
    if isinstance(value, dict):
        return tuple(sorted((k, _hashable(v)) for k, v in value.items()))
    return value
