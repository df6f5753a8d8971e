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
# (dvr), and l3-ha's writes: ``ha`` is shown (always false), never set. The API refuses
# them as unknown/read-only attributes whatever the policy says.
NOT_DECLARED = {"router:distributed"}
NOT_WRITABLE = {"router:ha"}
# Rules Neutron defines for attributes that are not enforce_policy there (neutron-lib's
# subnet-service-types and floating-ip-router-writable, and segment_id, which only the
# subnet-segmentid-enforce extension Neutron does not load makes so): its
# _build_match_rule never names them, so they change nothing, in Neutron as here.
INERT = {"subnet:service_types", "subnet:segment_id", "floatingip:router_id"}
# The attributes neutron-lib (and Neutron's rbac extension) declare 'enforce_policy',
# of the resources and extensions neutrino has.
NEUTRON_ENFORCED = {
    "network": {"shared", "provider:network_type", "provider:physical_network",
                "provider:segmentation_id", "segments", "mtu", "router:external",
                "is_default", "port_security_enabled"},
    "subnet": {"shared", "router:external"},
    "port": {"mac_address", "fixed_ips", "device_id", "device_owner", "binding:host_id",
             "binding:vnic_type", "binding:profile", "binding:vif_type",
             "binding:vif_details", "port_security_enabled", "allowed_address_pairs"},
    "router": {"external_gateway_info", "ha", "flavor_id"},
    "floatingip": {"floating_ip_address"},
    "security_group": {"shared"},
    "security_group_rule": set(),
    "default_security_group_rule": set(),
    "subnetpool": {"shared", "is_default"},
    "address_scope": {"shared"},
    "rbac_policy": {"object_type", "object_id", "target_tenant", "action"},
}


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


def test_enforce_policy_is_declared_as_neutron_lib_declares_it() -> None:
    declared = {m.resource().name: {n for n, a in m.resource().attrs.items()
                                    if a.enforce_policy} for m in MAPPED}
    assert declared == NEUTRON_ENFORCED
    gateway = router.resource().attrs["external_gateway_info"]
    assert set(gateway.policy_keys) == {"network_id", "enable_snat", "external_fixed_ips"}


def test_attribute_rules_name_enforced_attributes_or_are_inert() -> None:
    """A create_/update_<r>:<attr> rule acts only when <attr> is enforce_policy (what
    api/body.py policy_attributes passes); one that is not is a rule Neutron has and
    never consults either (INERT). A rule for a key inside a dict value names one of
    its policy_keys."""
    inert = set()
    for verb, r, attr in _attribute_rules():
        if verb == "get" or attr == "tags":
            continue
        parts = attr.split(":")
        name = next((":".join(parts[:i]) for i in range(len(parts), 0, -1)
                     if ":".join(parts[:i]) in r.attrs), None)
        if name is None:
            continue  # not declared (test_policy_attribute_rules_name_declared_attributes)
        a = r.attrs[name]
        if not a.enforce_policy:
            inert.add(f"{r.name}:{name}")
            continue
        key = attr[len(name) + 1:]
        if key and a.policy_keys:
            assert key in a.policy_keys, (verb, r.name, attr)
    assert inert == INERT


def test_every_timestamp_is_shown_as_neutron_shows_it() -> None:
    """Every standard-attr-timestamp attribute goes out as "%Y-%m-%dT%H:%M:%SZ" (an
    address group's once went out as the driver's datetime, microseconds and no zone)."""
    from neutrino.schema import jsonschema as js
    from neutrino.schema.base import api_time

    stamp = dt.datetime(2026, 12, 7, 21, 28, 40, 105436)
    seen = []
    for module in extensions.MODULES:
        for name in ("resource", "resources"):
            made = getattr(module, name, None)
            if not callable(made):
                continue
            found = made()
            for r in found if isinstance(found, list | tuple) else [found]:
                for a in r.attrs.values():
                    if a.schema is js.TIMESTAMP:
                        seen.append(r.name)
                        assert a.output is api_time, (r.name, a.name)
                        assert a.output(stamp) == "2026-12-07T21:28:40Z"
    assert {"network", "port", "address_group", "segment"} <= set(seen)
