"""L3: external networks, routers, floating IPs and the scheduling of routers to L3
agents (docs/agent-protocol.md, "L3")."""
