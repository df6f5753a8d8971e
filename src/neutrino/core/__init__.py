"""The ML2 core plugin: networks, subnets, ports; IPAM; type and mechanism drivers."""
