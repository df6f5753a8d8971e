"""The definitions as the single source: row -> dict (db/rowdict.py) derived from each
resource's table mapping, the advertised extensions derived from the declaring modules,
and the policy defaults' attribute rules naming attributes the schema declares."""

from __future__ import annotations

import datetime as dt
import re
from types import ModuleType

import pytest
import sqlalchemy as sa

from neutrino.db import tables as t
from neutrino.db.rowdict import RowDict
from neutrino.policy.defaults import rules
from neutrino.schema import (
    address_scope,
    default_security_group_rule,
    extensions,
    floatingip,
    network,
    port,
    rbac,
    router,
    security_group,
    security_group_rule,
    subnet,
    subnetpool,
)
from neutrino.schema.base import Attr, Extension, Resource

MAPPED: tuple[ModuleType, ...] = (
    network, subnet, port, router, floatingip, security_group, security_group_rule,
    default_security_group_rule, subnetpool, address_scope, rbac)


@pytest.mark.parametrize("module", MAPPED, ids=lambda m: m.__name__.rsplit(".", 1)[1])
def test_every_shown_attribute_has_a_source(module: ModuleType) -> None:
    """Each visible attribute is a column of the table (or a label of the service's
    SELECT) or declared computed; none is both."""
    r = module.resource()
    table = t.metadata.tables[r.table]
    mapped = RowDict(r, fixed={"object_type": "x"} if module is rbac else None)
    shown = {n for n, a in r.attrs.items() if a.visible}
    from_rows = {key for key, _, _ in mapped.fields} | set(mapped.fixed)
    assert from_rows | set(mapped.computed) == shown
    assert not from_rows & set(mapped.computed)
    for key, column, _ in mapped.fields:
        assert column in table.c or column in r.labels, (key, column)


def test_a_column_that_is_not_there_is_refused_at_registration() -> None:
    r = Resource("thing", "things", table="networks")
    r.add(Attr("id"), Attr("colour"))
    with pytest.raises(ValueError, match="colour"):
        RowDict(r)
    r.attrs["colour"] = Attr("colour", computed=True)
    assert [key for key, _, _ in RowDict(r).fields] == ["id"]


def test_rows_become_the_api_dict_with_renames_and_converters() -> None:
    """Read back from a real database: tenant_id from project_id, timestamps formatted,
    floating IP's port_id from fixed_port_id, normalized_cidr from remote_ip_prefix, a
    boolean label read as a bool; one compiled function per row shape."""
    engine = sa.create_engine("sqlite://")
    t.metadata.create_all(engine, tables=[t.floatingips, t.security_group_rules])
    ts = dt.datetime(2026, 1, 2, 3, 4, 5)
    fip = {"id": "f1", "project_id": "p1", "floating_ip_address": "203.0.113.5",
           "floating_network_id": "n1", "floating_port_id": "fp", "fixed_port_id": "port1",
           "fixed_ip_address": "10.0.0.3", "router_id": "r1", "status": "DOWN",
           "description": "d", "created_at": ts, "updated_at": ts + dt.timedelta(seconds=1),
           "revision_number": 3}
    rule = {"id": "r1", "project_id": "p1", "security_group_id": "g1",
            "remote_group_id": None, "direction": "ingress", "ethertype": "IPv4",
            "protocol": "tcp", "port_range_min": 22, "port_range_max": 22,
            "remote_ip_prefix": "10.1.2.3/24", "rule_key": "k", "description": "",
            "created_at": ts, "updated_at": ts, "revision_number": 1}
    with engine.begin() as conn:
        conn.execute(sa.insert(t.floatingips), fip)
        conn.execute(sa.insert(t.security_group_rules), rule)
        fip_row = conn.execute(sa.select(t.floatingips)).all()
        rule_row = conn.execute(sa.select(
            t.security_group_rules, sa.literal(1).label("extra"))).all()
    fips = RowDict(floatingip.resource())
    got = fips(fip_row)[0]
    assert got == {"id": "f1", "floating_ip_address": "203.0.113.5",
                   "floating_network_id": "n1", "router_id": "r1", "port_id": "port1",
                   "fixed_ip_address": "10.0.0.3", "status": "DOWN", "project_id": "p1",
                   "tenant_id": "p1", "description": "d",
                   "created_at": "2026-01-02T03:04:05Z", "updated_at": "2026-01-02T03:04:06Z",
                   "revision_number": 3}
    # the values a service inserted give the same dict
    assert fips.of_values([fip]) == [got]
    rules_map = RowDict(security_group_rule.resource())
    shown = rules_map(rule_row)[0]
    assert (shown["remote_ip_prefix"], shown["normalized_cidr"]) == ("10.1.2.3/24",
                                                                     "10.1.2.0/24")
    assert "extra" not in shown and "rule_key" not in shown
    assert len(rules_map._by_shape) == 1  # compiled once for this shape


def test_a_boolean_label_is_a_bool() -> None:
    engine = sa.create_engine("sqlite://")
    t.metadata.create_all(engine, tables=[t.networks])
    ts = dt.datetime(2026, 1, 2)
    with engine.begin() as conn:
        conn.execute(sa.insert(t.networks), {
            "id": "n1", "project_id": "p", "name": "", "status": "ACTIVE",
            "admin_state_up": True, "mtu": 1500, "description": "", "created_at": ts,
            "updated_at": ts, "revision_number": 1, "port_security_enabled": True})
        rows = conn.execute(sa.select(t.networks, sa.literal(1).label("shared"))).all()
    d = RowDict(network.resource())(rows)[0]
    assert d["shared"] is True and d["port_security_enabled"] is True


# --- extensions ------------------------------------------------------------------------

def test_the_advertised_extensions_come_from_the_declaring_modules() -> None:
    """Each alias once, in Neutron's form; every extension an attribute names is
    declared by a module (standard-attr-tag: api/tags.py, naming the tagged resources)."""
    declared = extensions.registered()
    aliases = [e.alias for e in declared]
    assert len(aliases) == len(set(aliases))
    for e in declared:
        assert e.name and e.description
        # Neutron's format (tag-creation's month 23 is Neutron's own, served by api/tags.py)
        assert re.fullmatch(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}-\d{2}:\d{2}", e.updated)
    named = {a.extension for m in extensions.MODULES if hasattr(m, "resource")
             for a in m.resource().attrs.values() if a.extension is not None}
    assert named - set(aliases) == {"standard-attr-tag"}


def test_an_attribute_of_an_undeclared_extension_is_refused() -> None:
    r = Resource("thing", "things")
    r.add(Attr("colour", extension="colours"))
    with pytest.raises(ValueError, match="colours"):
        extensions.check([r], extensions.registered())
    extensions.check([r], [*extensions.registered(), Extension("colours", "C", "c")])


# --- policy defaults and the schema agree -----------------------------------------------

# Neutron's attribute rules for attributes of extensions neutrino does not implement
# (auto-allocated-topology, subnet-service-types, dvr), and l3-ha's writes:
# ``ha`` is shown (always false), never set. The API refuses them as unknown/read-only
# attributes whatever the policy says.
NOT_DECLARED = {"network:is_default", "subnet:service_types",
                "router:distributed"}
NOT_WRITABLE = {"router:ha"}


def _attribute_rules() -> list[tuple[str, Resource, str]]:
    resources = {m.resource().name: m.resource() for m in MAPPED}
    out = []
    for rule in rules():
        verb, _, rest = rule.name.partition("_")
        name, _, attr = rest.partition(":")
        if verb in ("get", "create", "update") and name in resources and attr:
            out.append((verb, resources[name], attr))
    return out


def test_policy_attribute_rules_name_declared_attributes() -> None:
    """get_<r>:<attr> names a shown attribute, create_/update_<r>:<attr> one accepted on
    POST/PUT (binding:profile: shown, and set by the service role, as Neutron's). The
    policy decides who; the schema what exists."""
    checked = 0
    for verb, r, attr in _attribute_rules():
        if attr == "tags":  # the tags sub-resource's rules (api/tags.py)
            continue
        parts = attr.split(":")
        # the attribute, or a key inside it (fixed_ips:ip_address)
        name = next((":".join(parts[:i]) for i in range(len(parts), 0, -1)
                     if ":".join(parts[:i]) in r.attrs), None)
        if name is None:
            assert f"{r.name}:{attr}" in NOT_DECLARED
            continue
        a = r.attrs[name]
        if verb == "get":
            assert a.visible, (r.name, name)
        elif f"{r.name}:{name}" not in NOT_WRITABLE:
            assert a.allow_post if verb == "create" else a.allow_put, (verb, r.name, name)
        checked += 1
    assert checked > 40
    binding = port.resource().attrs["binding:profile"]
    assert binding.visible and binding.allow_post and binding.allow_put
