"""Layer-2 agents: they wire each port's device into its network on the host."""
