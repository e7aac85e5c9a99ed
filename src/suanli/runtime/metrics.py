"""A minimal Prometheus metrics registry with text exposition (format 0.0.4).

Components create counters, gauges and histograms in a :class:`MetricsRegistry`; the API
server serves :meth:`MetricsRegistry.render` at ``/metrics``. Names follow Prometheus
conventions (``suanli_`` prefix, base units, ``_total`` on counters).
"""

from __future__ import annotations

import bisect
import threading
from collections.abc import Sequence

__all__ = ["Counter", "Gauge", "Histogram", "MetricsRegistry", "default_registry"]

LabelValues = tuple[str, ...]


def _fmt_labels(names: Sequence[str], values: LabelValues, extra: str = "") -> str:
    parts = [f'{n}="{_escape(v)}"' for n, v in zip(names, values, strict=True)]
    if extra:
        parts.append(extra)
    return "{" + ",".join(parts) + "}" if parts else ""


def _escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace("\n", "\\n").replace('"', '\\"')


class _Metric:
    kind = ""

    def __init__(self, name: str, help_: str, labels: Sequence[str] = ()) -> None:
        self.name = name
        self.help = help_
        self.labels = tuple(labels)
        self._lock = threading.Lock()

    def header(self) -> list[str]:
        return [f"# HELP {self.name} {self.help}", f"# TYPE {self.name} {self.kind}"]

    def render(self) -> list[str]:
        raise NotImplementedError


class Counter(_Metric):
    kind = "counter"

    def __init__(self, name: str, help_: str, labels: Sequence[str] = ()) -> None:
        super().__init__(name, help_, labels)
        self._values: dict[LabelValues, float] = {}

    def inc(self, amount: float = 1.0, *labels: str) -> None:
        with self._lock:
            self._values[labels] = self._values.get(labels, 0.0) + amount

    def value(self, *labels: str) -> float:
        return self._values.get(labels, 0.0)

    def render(self) -> list[str]:
        return [f"{self.name}{_fmt_labels(self.labels, k)} {v}" for k, v in sorted(self._values.items())]


class Gauge(_Metric):
    kind = "gauge"

    def __init__(self, name: str, help_: str, labels: Sequence[str] = ()) -> None:
        super().__init__(name, help_, labels)
        self._values: dict[LabelValues, float] = {}

    def set(self, value: float, *labels: str) -> None:
        with self._lock:
            self._values[labels] = value

    def clear(self) -> None:
        with self._lock:
            self._values.clear()

    def value(self, *labels: str) -> float:
        return self._values.get(labels, 0.0)

    def render(self) -> list[str]:
        return [f"{self.name}{_fmt_labels(self.labels, k)} {v}" for k, v in sorted(self._values.items())]


class Histogram(_Metric):
    kind = "histogram"

    def __init__(self, name: str, help_: str, buckets: Sequence[float], labels: Sequence[str] = ()) -> None:
        super().__init__(name, help_, labels)
        self.buckets = tuple(sorted(buckets))
        self._counts: dict[LabelValues, list[int]] = {}
        self._sums: dict[LabelValues, float] = {}

    def observe(self, value: float, *labels: str) -> None:
        with self._lock:
            counts = self._counts.setdefault(labels, [0] * (len(self.buckets) + 1))
            counts[bisect.bisect_left(self.buckets, value)] += 1
            self._sums[labels] = self._sums.get(labels, 0.0) + value

    def count(self, *labels: str) -> int:
        return sum(self._counts.get(labels, []))

    def render(self) -> list[str]:
        out: list[str] = []
        for key, counts in sorted(self._counts.items()):
            running = 0
            for bound, c in zip(self.buckets, counts, strict=False):
                running += c
                le = 'le="' + repr(bound) + '"'
                out.append(f"{self.name}_bucket{_fmt_labels(self.labels, key, le)} {running}")
            running += counts[-1]
            inf = 'le="+Inf"'
            out.append(f"{self.name}_bucket{_fmt_labels(self.labels, key, inf)} {running}")
            out.append(f"{self.name}_sum{_fmt_labels(self.labels, key)} {self._sums[key]}")
            out.append(f"{self.name}_count{_fmt_labels(self.labels, key)} {running}")
        return out


class MetricsRegistry:
    def __init__(self) -> None:
        self._metrics: dict[str, _Metric] = {}

    def register(self, metric: _Metric) -> _Metric:
        return self._metrics.setdefault(metric.name, metric)

    def counter(self, name: str, help_: str, labels: Sequence[str] = ()) -> Counter:
        m = self.register(Counter(name, help_, labels))
        assert isinstance(m, Counter)
        return m

    def gauge(self, name: str, help_: str, labels: Sequence[str] = ()) -> Gauge:
        m = self.register(Gauge(name, help_, labels))
        assert isinstance(m, Gauge)
        return m

    def histogram(self, name: str, help_: str, buckets: Sequence[float], labels: Sequence[str] = ()) -> Histogram:
        m = self.register(Histogram(name, help_, buckets, labels))
        assert isinstance(m, Histogram)
        return m

    def render(self) -> str:
        lines: list[str] = []
        for name in sorted(self._metrics):
            m = self._metrics[name]
            lines.extend(m.header())
            lines.extend(m.render())
        return "\n".join(lines) + "\n"


_DEFAULT = MetricsRegistry()


def default_registry() -> MetricsRegistry:
    """The process-wide registry served at ``/metrics``."""
    return _DEFAULT
