"""Key/value validation and default prefixing for NFD outputs (nfd-master rules).

* Unprefixed label, annotation and extended-resource keys get
  :data:`FEATURE_NS` + ``/``; unprefixed taint keys are rejected.
* Namespaces ``kubernetes.io`` and ``k8s.io`` and their sub-domains are denied,
  except ``feature.node.kubernetes.io`` (and sub-namespaces), plus for labels
  ``profile.node.kubernetes.io`` (and sub-namespaces).
* Label keys must be Kubernetes qualified names, label and taint values valid
  label values, extended-resource values quantities.

Every check returns an error message (``str``) or ``None``.
"""

from __future__ import annotations

import re

__all__ = [
    "DEFAULT_DENIED_NS",
    "FEATURE_NS",
    "PROFILE_NS",
    "TAINT_EFFECTS",
    "check_annotation_key",
    "check_extended_resource",
    "check_label",
    "check_taint",
    "namespace_denied",
    "prefixed",
    "split_ns",
]

FEATURE_NS = "feature.node.kubernetes.io"
PROFILE_NS = "profile.node.kubernetes.io"
DEFAULT_DENIED_NS: tuple[str, ...] = ("kubernetes.io", "k8s.io")
TAINT_EFFECTS = frozenset({"NoSchedule", "PreferNoSchedule", "NoExecute"})

_NAME_RE = re.compile(r"[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?")
_DNS_RE = re.compile(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*")
_QUANTITY_RE = re.compile(
    r"[+-]?([0-9]+(\.[0-9]*)?|\.[0-9]+)([eE][+-]?[0-9]+|[numkMGTPE]|Ki|Mi|Gi|Ti|Pi|Ei)?"
)


def split_ns(key: str) -> tuple[str, str]:
    """``"a.io/b"`` -> ``("a.io", "b")``; ``"b"`` -> ``("", "b")``."""
    ns, sep, name = key.rpartition("/")
    return (ns, name) if sep else ("", key)


def prefixed(key: str, auto_prefix: bool = True) -> str:
    """Add ``feature.node.kubernetes.io/`` to an unprefixed key (if enabled)."""
    return key if "/" in key or not auto_prefix else f"{FEATURE_NS}/{key}"


def _in_ns(ns: str, base: str) -> bool:
    return ns == base or ns.endswith("." + base)


def namespace_denied(ns: str, denied: tuple[str, ...] = DEFAULT_DENIED_NS, *, labels: bool = True) -> bool:
    """True if ``ns`` may not be used (the feature namespaces are always allowed)."""
    if _in_ns(ns, FEATURE_NS) or (labels and _in_ns(ns, PROFILE_NS)):
        return False
    return any(_in_ns(ns, d) for d in denied)


def _check_qualified_name(key: str) -> str | None:
    ns, name = split_ns(key)
    if ns and (len(ns) > 253 or not _DNS_RE.fullmatch(ns)):
        return f"invalid prefix {ns!r} in {key!r}"
    if not name or len(name) > 63 or not _NAME_RE.fullmatch(name):
        return f"invalid name {name!r} in {key!r}"
    return None


def _check_label_value(value: str) -> str | None:
    if value and (len(value) > 63 or not _NAME_RE.fullmatch(value)):
        return f"invalid label value {value!r}"
    return None


def check_label(key: str, value: str, denied: tuple[str, ...] = DEFAULT_DENIED_NS) -> str | None:
    """Validate a (prefixed) label."""
    ns, _ = split_ns(key)
    if namespace_denied(ns, denied):
        return f"namespace {ns!r} is not allowed (label {key!r})"
    return _check_qualified_name(key) or _check_label_value(value)


def check_annotation_key(key: str, denied: tuple[str, ...] = DEFAULT_DENIED_NS) -> str | None:
    """Validate a (prefixed) annotation key."""
    ns, _ = split_ns(key)
    if namespace_denied(ns, denied, labels=False):
        return f"namespace {ns!r} is not allowed (annotation {key!r})"
    return _check_qualified_name(key)


def check_extended_resource(key: str, value: str, denied: tuple[str, ...] = DEFAULT_DENIED_NS) -> str | None:
    """Validate a (prefixed) extended resource and its quantity."""
    ns, _ = split_ns(key)
    if namespace_denied(ns, denied, labels=False):
        return f"namespace {ns!r} is not allowed (extended resource {key!r})"
    if not _QUANTITY_RE.fullmatch(value):
        return f"invalid quantity {value!r} for extended resource {key!r}"
    return _check_qualified_name(key)


def check_taint(key: str, value: str, effect: str, denied: tuple[str, ...] = DEFAULT_DENIED_NS) -> str | None:
    """Validate a taint: key needs a namespace prefix, effect must be known."""
    ns, _ = split_ns(key)
    if not ns:
        return f"taint key {key!r} has no namespace prefix"
    if namespace_denied(ns, denied, labels=False):
        return f"namespace {ns!r} is not allowed (taint {key!r})"
    if effect not in TAINT_EFFECTS:
        return f"invalid taint effect {effect!r} (taint {key!r})"
    return _check_qualified_name(key) or _check_label_value(value)
