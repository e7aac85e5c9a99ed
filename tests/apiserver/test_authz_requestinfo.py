"""Request-info resolution: upstream requestinfo_test.go's tables (TestGetAPIRequestInfo,
TestGetNonAPIRequestInfo, TestFieldSelectorParsing) run against our resolver."""

from __future__ import annotations

from urllib.parse import parse_qsl, urlsplit

import pytest

from suanli.apiserver.authz.requestinfo import request_info


def _resolve(method: str, url: str):  # type: ignore[no-untyped-def]
    parts = urlsplit(url)
    return request_info(method, parts.path, dict(parse_qsl(parts.query, keep_blank_values=True)))


# method, url, verb, group, version, namespace, resource, subresource, name, parts
SUCCESS = [
    ("GET", "/api/v1/namespaces", "list", "", "v1", "", "namespaces", "", "", ["namespaces"]),
    ("GET", "/api/v1/namespaces/other", "get", "", "v1", "other", "namespaces", "", "other", ["namespaces", "other"]),
    ("GET", "/api/v1/namespaces/other/pods", "list", "", "v1", "other", "pods", "", "", ["pods"]),
    ("GET", "/api/v1/namespaces/other/pods/foo", "get", "", "v1", "other", "pods", "", "foo", ["pods", "foo"]),
    ("HEAD", "/api/v1/namespaces/other/pods/foo", "get", "", "v1", "other", "pods", "", "foo", ["pods", "foo"]),
    ("GET", "/api/v1/pods", "list", "", "v1", "", "pods", "", "", ["pods"]),
    ("HEAD", "/api/v1/pods", "list", "", "v1", "", "pods", "", "", ["pods"]),
    ("PATCH", "/api/v1/namespaces/new-namespace", "patch", "", "v1", "", "namespaces", "", "new-namespace",
     ["namespaces", "new-namespace"]),
    ("GET", "/api/v1/proxy/namespaces/other/pods/foo", "proxy", "", "v1", "other", "pods", "", "foo", ["pods", "foo"]),
    ("GET", "/api/v1/proxy/namespaces/other/pods/foo/subpath/not/a/subresource", "proxy", "", "v1", "other", "pods",
     "", "foo", ["pods", "foo", "subpath", "not", "a", "subresource"]),
    ("GET", "/api/v1/watch/pods", "watch", "", "v1", "", "pods", "", "", ["pods"]),
    ("GET", "/api/v1/pods?watch=true", "watch", "", "v1", "", "pods", "", "", ["pods"]),
    ("GET", "/api/v1/pods?watch=false", "list", "", "v1", "", "pods", "", "", ["pods"]),
    ("GET", "/api/v1/watch/namespaces/other/pods", "watch", "", "v1", "other", "pods", "", "", ["pods"]),
    ("GET", "/api/v1/namespaces/other/pods?watch=1", "watch", "", "v1", "other", "pods", "", "", ["pods"]),
    ("GET", "/api/v1/namespaces/other/pods?watch=0", "list", "", "v1", "other", "pods", "", "", ["pods"]),
    ("GET", "/api/v1/namespaces/other/pods/foo/status", "get", "", "v1", "other", "pods", "status", "foo",
     ["pods", "foo", "status"]),
    ("GET", "/api/v1/namespaces/other/pods/foo/proxy/subpath", "get", "", "v1", "other", "pods", "proxy", "foo",
     ["pods", "foo", "proxy", "subpath"]),
    ("PUT", "/api/v1/namespaces/other/finalize", "update", "", "v1", "other", "namespaces", "finalize", "other",
     ["namespaces", "other", "finalize"]),
    ("PUT", "/api/v1/namespaces/other/status", "update", "", "v1", "other", "namespaces", "status", "other",
     ["namespaces", "other", "status"]),
    ("PATCH", "/api/v1/namespaces/other/pods/foo", "patch", "", "v1", "other", "pods", "", "foo", ["pods", "foo"]),
    ("DELETE", "/api/v1/namespaces/other/pods/foo", "delete", "", "v1", "other", "pods", "", "foo", ["pods", "foo"]),
    ("POST", "/api/v1/namespaces/other/pods", "create", "", "v1", "other", "pods", "", "", ["pods"]),
    ("DELETE", "/api/v1/nodes", "deletecollection", "", "v1", "", "nodes", "", "", ["nodes"]),
    ("DELETE", "/api/v1/namespaces", "deletecollection", "", "v1", "", "namespaces", "", "", ["namespaces"]),
    ("DELETE", "/api/v1/namespaces/other/pods", "deletecollection", "", "v1", "other", "pods", "", "", ["pods"]),
    ("DELETE", "/apis/extensions/v1/namespaces/other/pods", "deletecollection", "extensions", "v1", "other", "pods",
     "", "", ["pods"]),
    ("POST", "/apis/extensions/v1/namespaces/other/pods", "create", "extensions", "v1", "other", "pods", "", "",
     ["pods"]),
    ("POST", "/apis/extensions/v1beta3/namespaces/other/pods", "create", "extensions", "v1beta3", "other", "pods", "",
     "", ["pods"]),
    # Suanli's own routes resolve the same way
    ("GET", "/api/v1/namespaces/team/pods/web/log", "get", "", "v1", "team", "pods", "log", "web",
     ["pods", "web", "log"]),
    ("POST", "/apis/authorization.k8s.io/v1/selfsubjectaccessreviews", "create", "authorization.k8s.io", "v1", "",
     "selfsubjectaccessreviews", "", "", ["selfsubjectaccessreviews"]),
]


@pytest.mark.parametrize(("method", "url", "verb", "group", "version", "namespace", "resource", "sub", "name",
                          "parts"), SUCCESS, ids=[f"{c[0]} {c[1]}" for c in SUCCESS])
def test_resource_requests_resolve_like_upstream(method: str, url: str, verb: str, group: str, version: str,
                                                  namespace: str, resource: str, sub: str, name: str,
                                                  parts: list[str]) -> None:
    info = _resolve(method, url)
    assert info.resource_request
    assert (info.verb, info.api_group, info.api_version, info.namespace, info.resource, info.subresource,
            info.name, list(info.parts)) == (verb, group, version, namespace, resource, sub, name, parts)


NON_RESOURCE = {
    "no resource path": "/",
    "just apiversion": "/api/version/",
    "just prefix, group, version": "/apis/group/version/",
    "bad prefix": "/badprefix/version/resource",
    "missing api group": "/apis/version/resource",
    "group without enough steps": "/apis/extensions/v1beta1",
    "not enough steps": "/api/version",
    "one step": "/api",
    "empty": "",
    "health": "/healthz",
    "special verb without a resource": "/api/v1/proxy",
}


@pytest.mark.parametrize("url", NON_RESOURCE.values(), ids=NON_RESOURCE.keys())
def test_non_resource_paths_carry_the_lowercase_method(url: str) -> None:
    info = _resolve("GET", url)
    assert not info.resource_request
    assert info.verb == "get"
    assert info.path == url


RESOURCE_SHAPES = ["/api/version/resource", "/apis/group/version/resource/name/subresource",
                   "/api/version/resource/name/subresource", "/apis/batch/v1/job", "/apis/batch/v1/job/foo",
                   "/apis/batch/v1/job/foo/scale"]


@pytest.mark.parametrize("url", RESOURCE_SHAPES)
def test_long_enough_api_paths_are_resource_requests(url: str) -> None:
    assert _resolve("GET", url).resource_request


FIELD_SELECTOR = [
    ("no selector", "/apis/group/version/resource", "", "list"),
    ("metadata.name selector", "/apis/group/version/resource?fieldSelector=metadata.name=name1", "name1", "list"),
    ("metadata.name selector with watch",
     "/apis/group/version/resource?watch=true&fieldSelector=metadata.name=name1", "name1", "watch"),
    ("random selector", "/apis/group/version/resource?fieldSelector=foo=bar", "", "list"),
    ("invalid selector with metadata.name",
     "/apis/group/version/resource?fieldSelector=metadata.name=name1,foo", "", "list"),
    ("invalid selector with metadata.name with watch",
     "/apis/group/version/resource?fieldSelector=metadata.name=name1,foo&watch=true", "", "watch"),
    ("invalid selector with metadata.name with watch false",
     "/apis/group/version/resource?fieldSelector=metadata.name=name1,foo&watch=false", "", "list"),
]


@pytest.mark.parametrize(("url", "name", "verb"), [c[1:] for c in FIELD_SELECTOR], ids=[c[0] for c in FIELD_SELECTOR])
def test_a_metadata_name_field_selector_names_the_list(url: str, name: str, verb: str) -> None:
    info = _resolve("GET", url)
    assert (info.name, info.verb) == (name, verb)
