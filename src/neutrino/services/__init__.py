"""Services beside the ML2 core plugin: quotas (l3, security groups, ... later)."""
