"""What a caller is shown of a resource's items (the attributes the schema shows and the
policy lets it read, trimmed to the ``fields`` it asked for)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from neutrino.policy.enforcer import RequestPolicy
from neutrino.schema.base import Resource


class View:
    """What the caller may see of a resource's items: visible attributes, less those whose
    ``get_<resource>:<attr>`` rule the caller fails (worked out once, on the first item, as
    Neutron does), trimmed to ``fields`` if asked."""

    def __init__(self, resource: Resource, pol: RequestPolicy, fields: list[str] | None,
                 sample: dict[str, Any] | None,
                 target: Callable[[dict[str, Any]], dict[str, Any]] | None = None) -> None:
        allowed = {n for n, a in resource.attrs.items() if a.visible}
        if sample is not None:
            full: dict[str, Any] | None = None
            for name in list(allowed):
                rule = f"get_{resource.name}:{name}"
                if name not in sample:
                    continue
                verdict = pol.judge_as_is(rule, sample)
                if verdict is None:
                    # judged on the whole policy target (e.g. ``network:project_id``: a
                    # network owner may see the tags of another project's port on it)
                    if full is None:
                        full = target(sample) if target is not None else sample
                    verdict = pol.check(rule, full)
                if not verdict:
                    allowed.discard(name)
        self.allowed = frozenset(allowed)
        self.keep = None if fields is None else [k for k in fields if k in allowed]

    def __call__(self, item: dict[str, Any]) -> dict[str, Any]:
        if self.keep is not None:
            return {k: item[k] for k in self.keep if k in item}
        allowed = self.allowed
        if item.keys() <= allowed:
            return item
        return {k: v for k, v in item.items() if k in allowed}

    def many(self, items: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """The view of many items of one read (the service's own dicts, shared with
        nothing): the keys the caller may not see are removed in place, which for a
        list of ports (four binding attributes hidden from a member) is cheaper than
        copying the rest."""
        if self.keep is not None:
            keep = self.keep
            return [{k: i[k] for k in keep if k in i} for i in items]
        allowed = self.allowed
        seen: frozenset[str] = frozenset()
        drop: list[str] = []
        for item in items:
            if item.keys() != seen:  # items of one read mostly have the same keys
                seen = frozenset(item)
                drop = [k for k in item if k not in allowed]
            for k in drop:
                del item[k]
        return items
