"""Compatibility alias: the reconcile runtime lives in :mod:`suanli.runtime.controller`."""

from __future__ import annotations

from suanli.runtime.controller import QueueController

__all__ = ["QueueController"]
