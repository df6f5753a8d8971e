"""What the schema implies must hold in a neutrino database, whatever ran against it (races,
kill -9): each check is a query straight to the database that lists the rows breaking it.
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa

# name -> SQL selecting the offending rows (none: the invariant holds)
INVARIANTS: dict[str, str] = {
    # an address belongs to a port of its own network, on a subnet of that network
    "allocation on another network": """
        SELECT a.ip_address FROM ip_allocations a
        JOIN ports p ON p.id = a.port_id JOIN subnets s ON s.id = a.subnet_id
        WHERE a.network_id <> p.network_id OR s.network_id <> p.network_id""",
    # a project's port on a network of another project needs that network shared with it
    # (the network's own ports, project "" or device_owner network:*, aside)
    "port on a network not shared with its project": """
        SELECT p.id FROM ports p JOIN networks n ON n.id = p.network_id
        WHERE p.project_id <> n.project_id AND p.project_id <> ''
          AND p.device_owner NOT LIKE 'network:%'
          AND NOT EXISTS (SELECT 1 FROM network_rbacs r WHERE r.object_id = n.id
                          AND r.action = 'access_as_shared'
                          AND r.target_project IN ('*', p.project_id))""",
    # a port is an interface of at most one router, and of one that exists
    "router interface of no router": """
        SELECT p.id FROM ports p WHERE p.device_owner = 'network:router_interface'
          AND NOT EXISTS (SELECT 1 FROM routers r WHERE r.id = p.device_id)""",
    "router gateway port missing": """
        SELECT r.id FROM routers r LEFT JOIN ports p ON p.id = r.gw_port_id
        WHERE r.gw_port_id IS NOT NULL
          AND (p.id IS NULL OR p.device_owner <> 'network:router_gateway'
               OR p.device_id <> r.id)""",
    # an associated floating IP's router has an interface on the subnet of its fixed
    # address, and its gateway on the floating IP's network
    "floating IP router without interface on the subnet": """
        SELECT f.id FROM floatingips f WHERE f.router_id IS NOT NULL AND NOT EXISTS (
            SELECT 1 FROM ip_allocations fa
            JOIN ip_allocations ia ON ia.subnet_id = fa.subnet_id
            JOIN ports ip ON ip.id = ia.port_id
            WHERE fa.port_id = f.fixed_port_id AND fa.ip_address = f.fixed_ip_address
              AND ip.device_owner = 'network:router_interface'
              AND ip.device_id = f.router_id)""",
    "floating IP router without gateway on its network": """
        SELECT f.id FROM floatingips f WHERE f.router_id IS NOT NULL AND NOT EXISTS (
            SELECT 1 FROM routers r JOIN ports g ON g.id = r.gw_port_id
            WHERE r.id = f.router_id AND g.network_id = f.floating_network_id)""",
    "floating IP association half made": """
        SELECT f.id FROM floatingips f
        WHERE (f.fixed_port_id IS NULL) <> (f.fixed_ip_address IS NULL)
           OR (f.fixed_port_id IS NULL AND f.router_id IS NOT NULL)""",
    "floating IP without its port and address": """
        SELECT f.id FROM floatingips f WHERE NOT EXISTS (
            SELECT 1 FROM ports p JOIN ip_allocations a ON a.port_id = p.id
            WHERE p.id = f.floating_port_id AND p.device_owner = 'network:floatingip'
              AND a.ip_address = f.floating_ip_address)""",
    "floating IP port of no floating IP": """
        SELECT p.id FROM ports p WHERE p.device_owner = 'network:floatingip'
          AND NOT EXISTS (SELECT 1 FROM floatingips f WHERE f.floating_port_id = p.id)""",
    "revision below 1": """
        SELECT id FROM ports WHERE revision_number < 1 UNION ALL
        SELECT id FROM subnets WHERE revision_number < 1 UNION ALL
        SELECT id FROM networks WHERE revision_number < 1 UNION ALL
        SELECT id FROM routers WHERE revision_number < 1""",
    "network without its segment": """
        SELECT n.id FROM networks n WHERE NOT EXISTS (
            SELECT 1 FROM network_segments s WHERE s.network_id = n.id)""",
}

# After crashes during bursts of creates on networks that had their subnets from the start:
# a port was written with its addresses or not at all.
PORTS_WITHOUT_ADDRESSES = """
    SELECT p.id FROM ports p WHERE EXISTS (
        SELECT 1 FROM subnets s WHERE s.network_id = p.network_id AND s.ip_version = 4)
      AND NOT EXISTS (SELECT 1 FROM ip_allocations a WHERE a.port_id = p.id)"""


def violations(db_url: str, extra: dict[str, str] | None = None) -> dict[str, list[Any]]:
    """The invariants that do not hold, with (up to 5 of) their offending rows."""
    engine = sa.create_engine(db_url, poolclass=sa.NullPool)
    found: dict[str, list[Any]] = {}
    try:
        with engine.connect() as conn:
            for name, query in {**INVARIANTS, **(extra or {})}.items():
                rows = conn.execute(sa.text(query)).all()
                if rows:
                    found[name] = [tuple(r) for r in rows[:5]]
    finally:
        engine.dispose()
    return found
