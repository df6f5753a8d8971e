"""Segments and routed networks (the ``segments`` service plugin)."""
