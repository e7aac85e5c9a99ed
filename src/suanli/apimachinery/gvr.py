"""Resource coordinates shared by clients and servers: :class:`GVR`, whose home is :mod:`suanli.wire`
(re-exported here for the many modules that import it from this one)."""

from __future__ import annotations

from suanli.wire import GVR

__all__ = ["GVR"]
