"""Request-info resolution: what an HTTP request asks for, in authorization terms.

Same rules as kube-apiserver's ``RequestInfoFactory.NewRequestInfo``
(k8s.io/apiserver pkg/endpoints/request/requestinfo.go):

* only ``/api/<version>/<resource>...`` (groupless) and ``/apis/<group>/<version>/<resource>...``
  are resource requests; everything else (``/``, ``/api``, ``/apis/g/v``, ``/healthz``,
  ``/version``…) is a non-resource request whose verb is the lower-case HTTP method;
* the special first segments ``watch`` and ``proxy`` become the verb (a ``proxy`` path never has a
  subresource: what follows the name is the proxied path);
* otherwise POST→create, GET/HEAD→get, PUT→update, PATCH→patch, DELETE→delete; a nameless get
  is ``list`` (``watch`` when the ``watch`` parameter is anything but ``false``/``0``) and picks
  its name from an exact ``metadata.name`` field selector; a nameless delete is
  ``deletecollection``;
* ``/namespaces/<ns>/<resource>...`` sets the namespace; ``/namespaces/<ns>`` is the resource
  ``namespaces`` named ``<ns>`` in namespace ``<ns>`` (``status``/``finalize`` are its
  subresources), except a PATCH of it (server-side apply creating a namespace) has no namespace.
"""

from __future__ import annotations

import functools
import re
from typing import NamedTuple

__all__ = ["RequestInfo", "request_info"]

_SPECIAL_VERBS = frozenset({"proxy", "watch"})
_NAMESPACE_SUBRESOURCES = frozenset({"status", "finalize"})
_METHOD_VERBS = {"POST": "create", "GET": "get", "HEAD": "get", "PUT": "update", "PATCH": "patch",
                 "DELETE": "delete"}
#: upstream ``path.IsValidPathSegmentName``: not "." or "..", and no "/" or "%"
_BAD_SEGMENT = re.compile(r"[/%]")


class RequestInfo(NamedTuple):
    """The resolved request; ``parts`` are the path segments from the resource on (a named tuple:
    one is built per request)."""

    resource_request: bool
    path: str
    verb: str
    api_prefix: str = ""
    api_group: str = ""
    api_version: str = ""
    namespace: str = ""
    resource: str = ""
    subresource: str = ""
    name: str = ""
    parts: tuple[str, ...] = ()


def _exact_name(selector: str) -> str | None:
    """The value ``metadata.name`` must equal under field ``selector``, or None (also when the
    selector does not parse, as upstream's ``RequiresExactMatch`` after a failed decode)."""
    found: str | None = None
    for term in (t for t in re.split(r"(?<!\\),", selector) if t.strip()):
        m = re.fullmatch(r"\s*([^=!\s]+)\s*(==|=|!=)\s*(.*?)\s*", term)
        if m is None:
            return None
        if m.group(1) == "metadata.name" and m.group(2) != "!=":
            found = m.group(3).replace("\\,", ",").replace("\\=", "=").replace("\\\\", "\\")
    return found


def _valid_segment(name: str) -> bool:
    return name not in (".", "..") and not _BAD_SEGMENT.search(name)


def request_info(method: str, path: str, query: dict[str, str]) -> RequestInfo:
    """Resolve ``method path?query`` (``query`` holds the last value of each parameter). Only
    ``watch`` and ``fieldSelector`` matter; answers are memoised (a pure function of its inputs)."""
    return _resolve(method, path, query.get("watch"), query.get("fieldSelector", ""))


@functools.lru_cache(maxsize=16384)
def _resolve(method: str, path: str, watch: str | None, field_selector: str) -> RequestInfo:
    stripped = path.strip("/")
    parts = stripped.split("/") if stripped else []
    if len(parts) < 3 or parts[0] not in ("api", "apis"):
        return RequestInfo(False, path, method.lower())
    prefix, rest = parts[0], parts[1:]
    group = ""
    if prefix == "apis":
        if len(rest) < 3:
            return RequestInfo(False, path, method.lower())
        group, rest = rest[0], rest[1:]
    version, rest = rest[0], rest[1:]
    if rest[0] in _SPECIAL_VERBS:
        if len(rest) < 2:  # upstream: "unable to determine kind and namespace" (a non-resource answer here)
            return RequestInfo(False, path, method.lower())
        verb, rest = rest[0], rest[1:]
    else:
        verb = _METHOD_VERBS.get(method, "")
    namespace = ""
    if rest[0] == "namespaces":
        if len(rest) == 2 and verb == "patch":
            namespace = ""
        elif len(rest) > 1:
            namespace = rest[1]
            if len(rest) > 2 and rest[2] not in _NAMESPACE_SUBRESOURCES:
                rest = rest[2:]
    resource = rest[0]
    name = rest[1] if len(rest) >= 2 else ""
    subresource = rest[2] if len(rest) >= 3 and verb != "proxy" else ""
    if not name and verb == "get":
        verb = "watch" if watch is not None and watch.lower() not in ("false", "0") else "list"
        selected = _exact_name(field_selector)
        if selected is not None and _valid_segment(selected):
            name = selected
    if not name and verb == "delete":
        verb = "deletecollection"
    return RequestInfo(True, path, verb, prefix, group, version, namespace, resource, subresource, name,
                       tuple(rest))
