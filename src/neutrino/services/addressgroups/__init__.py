"""Address groups (address-group, rbac-address-group) and what security group rules and
the firewall read of them (security-groups-remote-address-group)."""
