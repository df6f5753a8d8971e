"""Auto-allocated topology (extension auto-allocated-topology): "get me a network"."""
