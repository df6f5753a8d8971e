"""ML2 network types: the type driver interface, the drivers and the type manager."""

from neutrino.core.types.base import Segment, TypeDriver, make_segment
from neutrino.core.types.manager import TypeManager

__all__ = ["Segment", "TypeDriver", "TypeManager", "make_segment"]
