"""Benchmarks; run one with ``python -m bench <name>`` (see ``bench/__main__.py``)."""
