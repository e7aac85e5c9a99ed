"""Re-exports of the issue-10 printers' cell helpers; their home is :mod:`suanli.kinds.printers_groups`."""

from suanli.kinds.printers_groups import access_modes_string, csr_condition

__all__ = ["access_modes_string", "csr_condition"]
