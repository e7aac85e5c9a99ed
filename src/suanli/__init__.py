"""Suanli: one control plane for AI and batch work on heterogeneous hardware."""

__version__ = "0.1.0"
__all__ = ["__version__"]
