"""Security groups (extension security-group), their rules, and what ports gain from them:
``security_groups``, ``port_security_enabled`` (port-security) and
``allowed_address_pairs`` (allowed-address-pairs). The Linux bridge agent's firewall gets
its share through get_host_state (agent_view.py, docs/agent-protocol.md)."""
