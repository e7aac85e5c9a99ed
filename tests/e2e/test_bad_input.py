"""Bad input never breaks `suanli up`: exact 4xx codes, well-formed ``Status`` bodies, never a 5xx.

A hand-written table pins the code, reason and the field named in the message for each
kind of malformed request; hypothesis then throws random JSON bodies, paths, query
strings and content types at the create, patch and list endpoints.

A built-in object whose field has the wrong JSON type (``spec.replicas: "x"``) is a 400
BadRequest naming the field, as upstream's decoder answers; custom resources get 422.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any
from urllib.parse import quote

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.conftest import Server
from tests.e2e._helpers import http_client, make_namespace

pytestmark = pytest.mark.e2e

MiB = 1024 * 1024


@pytest.fixture(scope="module")
def ns(server: Server) -> str:
    name = make_namespace(server, "bad")
    with http_client(server) as c:
        r = c.post(f"/api/v1/namespaces/{name}/configmaps", json={"metadata": {"name": "target"}, "data": {"a": "1"}})
        assert r.status_code == 201, r.text
    return name


@pytest.fixture(scope="module")
def http(server: Server) -> Iterator[httpx.Client]:
    with http_client(server) as c:
        yield c


def assert_status(resp: httpx.Response, code: int | None = None, reason: str | None = None) -> dict[str, Any]:
    """The response is a failure ``Status`` whose ``code`` equals the HTTP status."""
    assert resp.status_code < 500, f"{resp.status_code}: {resp.text[:500]}"
    doc = resp.json()
    assert doc["kind"] == "Status" and doc["apiVersion"] == "v1", doc
    assert doc["status"] == "Failure"
    assert doc["code"] == resp.status_code
    assert isinstance(doc["reason"], str) and doc["reason"]
    assert isinstance(doc["message"], str) and doc["message"]
    if code is not None:
        assert resp.status_code == code, doc
    if reason is not None:
        assert doc["reason"] == reason, doc
    return dict(doc)


def deployment(spec: Any) -> bytes:
    return json.dumps({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "d"},
                       "spec": spec}).encode()


def pod_requesting(cpu: str) -> bytes:
    return json.dumps({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "q"}, "spec": {"containers": [
        {"name": "c", "image": "i", "resources": {"requests": {"cpu": cpu}}}]}}).encode()


_TEMPLATE = {"metadata": {"labels": {"a": "b"}}, "spec": {"containers": [{"name": "c", "image": "i"}]}}
_SEL = {"matchLabels": {"a": "b"}}
CM = "/api/v1/namespaces/{ns}/configmaps"
DEP = "/apis/apps/v1/namespaces/{ns}/deployments"
POD = "/api/v1/namespaces/{ns}/pods"
CPU_REQUEST = "spec.containers[0].resources.requests[cpu]"
JSONP = "application/json-patch+json"
MERGE = "application/merge-patch+json"

# (id, method, path, body, content type, query, code, reason, text the message must contain)
CASES: list[tuple[str, str, str, bytes | None, str | None, dict[str, str], int, str, str]] = [
    ("malformed JSON is 400", "POST", CM, b'{"metadata": {', "application/json", {}, 400, "BadRequest", "json"),
    ("malformed YAML is 400", "POST", CM, b"metadata: [\n - a\n x: {", "application/yaml", {}, 400, "BadRequest",
     "YAML"),
    ("YAML with a lone UTF-16 surrogate is 400", "POST", CM,
     b'{"metadata": {"name": "s", "labels": {"\\ud800": "x"}}}', "application/yaml", {}, 400, "BadRequest", "YAML"),
    ("a JSON array body is 400", "POST", CM, b"[1, 2]", "application/json", {}, 400, "BadRequest", "object"),
    ("a JSON string body is 400", "POST", CM, b'"cm"', "application/json", {}, 400, "BadRequest", "object"),
    ("an empty body is 400", "POST", CM, b"", "application/json", {}, 400, "BadRequest", "empty"),
    ("invalid UTF-8 is 400", "POST", CM, b"\xff\xfe{}", "application/json", {}, 400, "BadRequest", "json"),
    ("metadata of the wrong type is 400", "POST", CM, b'{"metadata": 5}', "application/json", {}, 400,
     "BadRequest", "metadata"),
    ("a string replica count is 400 naming the field", "POST", DEP,
     deployment({"replicas": "x", "selector": _SEL, "template": _TEMPLATE}), "application/json", {}, 400,
     "BadRequest", "spec.replicas"),
    ("a negative replica count is 422", "POST", DEP,
     deployment({"replicas": -1, "selector": _SEL, "template": _TEMPLATE}), "application/json", {}, 422, "Invalid",
     "spec.replicas"),
    ("containers of the wrong type is 400", "POST", DEP,
     deployment({"selector": _SEL, "template": {"spec": {"containers": "c"}}}), "application/json", {}, 400,
     "BadRequest", "spec.template.spec.containers"),
    ("a quantity whose exponent took minutes of CPU is 422 naming the field (found by fuzzing)", "POST", POD,
     pod_requesting("1e999999999"), "application/json", {}, 422, "Invalid", CPU_REQUEST),
    ("a quantity past the supported range is 422 naming the field (it stopped the scheduler)", "POST", POD,
     pod_requesting("1e5000"), "application/json", {}, 422, "Invalid", CPU_REQUEST),
    ("a non-string ConfigMap value is 400", "POST", CM, b'{"metadata": {"name": "v"}, "data": {"k": 1}}',
     "application/json", {}, 400, "BadRequest", "data"),
    ("an invalid object name is 422", "POST", CM, b'{"metadata": {"name": "Bad_Name"}}', "application/json", {},
     422, "Invalid", "metadata.name"),
    ("a missing name is 422", "POST", CM, b'{"metadata": {}}', "application/json", {}, 422, "Invalid",
     "metadata.name"),
    ("a mismatched kind is 400", "POST", CM, b'{"kind": "Pod", "metadata": {"name": "k"}}', "application/json", {},
     400, "BadRequest", "kind"),
    ("unknown top-level field with Strict is 400", "POST", CM, b'{"metadata": {"name": "s1"}, "bogus": 1}',
     "application/json", {"fieldValidation": "Strict"}, 400, "BadRequest", "bogus"),
    ("unknown nested field with Strict is 400", "POST", CM, b'{"metadata": {"name": "s2", "bogusMeta": 1}}',
     "application/json", {"fieldValidation": "Strict"}, 400, "BadRequest", "metadata.bogusMeta"),
    ("an unknown fieldValidation value is 400", "POST", CM, b'{"metadata": {"name": "s3"}}', "application/json",
     {"fieldValidation": "Loose"}, 400, "BadRequest", "fieldValidation"),
    ("an unknown dryRun value is 400", "POST", CM, b'{"metadata": {"name": "s4"}}', "application/json",
     {"dryRun": "Some"}, 400, "BadRequest", "dryRun"),
    ("a namespace that does not exist is 404", "POST", "/api/v1/namespaces/no-such-ns/configmaps",
     b'{"metadata": {"name": "x"}}', "application/json", {}, 404, "NotFound", "no-such-ns"),
    ("an unknown JSON patch op is 400", "PATCH", CM + "/target", b'[{"op": "frobnicate", "path": "/data"}]', JSONP,
     {}, 400, "BadRequest", "frobnicate"),
    ("a JSON patch op without path is 400", "PATCH", CM + "/target", b'[{"op": "add", "value": 1}]', JSONP, {}, 400,
     "BadRequest", "path"),
    ("a JSON patch that is an object is 400", "PATCH", CM + "/target", b'{"op": "add"}', JSONP, {}, 400,
     "BadRequest", "list"),
    ("a JSON patch removing a missing key is 422", "PATCH", CM + "/target",
     b'[{"op": "remove", "path": "/data/missing"}]', JSONP, {}, 422, "Invalid", "missing"),
    ("a failed JSON patch test is 422", "PATCH", CM + "/target",
     b'[{"op": "test", "path": "/data/a", "value": "2"}]', JSONP, {}, 422, "Invalid", ""),
    ("a merge patch that is a list is 400", "PATCH", CM + "/target", b"[1]", MERGE, {}, 400, "BadRequest", "object"),
    ("a merge patch renaming the object is 400", "PATCH", CM + "/target", b'{"metadata": {"name": "other"}}', MERGE,
     {}, 400, "BadRequest", "metadata.name"),
    ("a patch with text/plain is 415", "PATCH", CM + "/target", b"{}", "text/plain", {}, 415,
     "UnsupportedMediaType", "text/plain"),
    ("a patch with application/json is 415", "PATCH", CM + "/target", b"{}", "application/json", {}, 415,
     "UnsupportedMediaType", "application/json"),
    ("a create with an unknown content type is 415", "POST", CM, b"{}", "application/x-protobuf", {}, 415,
     "UnsupportedMediaType", "protobuf"),
    ("malformed apply YAML is 400", "PATCH", CM + "/target", b"a: [", "application/apply-patch+yaml",
     {"fieldManager": "t"}, 400, "BadRequest", "YAML"),
    ("a stale-type resourceVersion on update is 400", "PUT", CM + "/target",
     b'{"metadata": {"name": "target", "resourceVersion": "abc"}}', "application/json", {}, 400, "BadRequest",
     "resourceVersion"),
    ("an unknown propagation policy is 400", "DELETE", CM + "/target", b'{"propagationPolicy": "Sideways"}',
     "application/json", {}, 400, "BadRequest", "propagationPolicy"),
    ("a bad label selector is 400", "GET", CM, None, None, {"labelSelector": "a in (b"}, 400, "BadRequest", ""),
    ("a bang-bang label selector is 400", "GET", CM, None, None, {"labelSelector": "!!"}, 400, "BadRequest", ""),
    ("an unsupported field selector is 400", "GET", CM, None, None, {"fieldSelector": "spec.foo=bar"}, 400,
     "BadRequest", "spec.foo"),
    ("a field selector without operator is 400", "GET", CM, None, None, {"fieldSelector": "metadata.name"}, 400,
     "BadRequest", "metadata.name"),
    ("a non-numeric limit is 400", "GET", CM, None, None, {"limit": "abc"}, 400, "BadRequest", "limit"),
    ("a negative limit is 400", "GET", CM, None, None, {"limit": "-1"}, 400, "BadRequest", "limit"),
    ("a non-numeric watch timeout is 400", "GET", CM, None, None, {"watch": "true", "timeoutSeconds": "x"}, 400,
     "BadRequest", "timeoutSeconds"),
    ("a non-numeric watch resourceVersion is 400", "GET", CM, None, None,
     {"watch": "true", "resourceVersion": "abc", "timeoutSeconds": "1"}, 400, "BadRequest", "resourceVersion"),
    ("a garbage continue token is 400", "GET", CM, None, None, {"continue": "garbage!!"}, 400, "BadRequest",
     "continue"),
    ("an unknown resourceVersionMatch is 400", "GET", CM, None, None,
     {"resourceVersion": "1", "resourceVersionMatch": "Sometimes"}, 400, "BadRequest", "resourceVersionMatch"),
    ("an unknown resource is 404", "GET", "/api/v1/namespaces/{ns}/frobs", None, None, {}, 404, "NotFound", "frobs"),
    ("an unknown group is 404", "GET", "/apis/nope.example.com/v1/things", None, None, {}, 404, "NotFound", ""),
    ("an unknown version is 404", "GET", "/apis/apps/v9/deployments", None, None, {}, 404, "NotFound", ""),
    ("an unknown core version is 404", "GET", "/api/v2/pods", None, None, {}, 404, "NotFound", ""),
    ("an unknown subresource is 404", "GET", CM + "/target/bogus", None, None, {}, 404, "NotFound", "bogus"),
    ("a missing object is 404", "GET", CM + "/nope", None, None, {}, 404, "NotFound", "nope"),
    ("PUT on a collection is 405", "PUT", CM, b"{}", "application/json", {}, 405, "MethodNotAllowed", ""),
]


@pytest.mark.parametrize(("method", "path", "body", "ctype", "query", "code", "reason", "mention"),
                         [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_bad_request_table(http: httpx.Client, ns: str, method: str, path: str, body: bytes | None,
                           ctype: str | None, query: dict[str, str], code: int, reason: str, mention: str) -> None:
    headers = {"Content-Type": ctype} if ctype else {}
    resp = http.request(method, path.format(ns=ns), content=body, headers=headers, params=query)
    doc = assert_status(resp, code, reason)
    text = doc["message"] + json.dumps(doc.get("details", {}))
    assert mention in text, doc


def test_invalid_status_lists_causes_with_fields(http: httpx.Client, ns: str) -> None:
    resp = http.post(DEP.format(ns=ns), content=deployment({"replicas": -1, "selector": _SEL, "template": _TEMPLATE}),
                     headers={"Content-Type": "application/json"})
    doc = assert_status(resp, 422, "Invalid")
    assert doc["details"]["kind"] == "Deployment" and doc["details"]["group"] == "apps"
    assert "spec.replicas" in [c["field"] for c in doc["details"]["causes"]]


@pytest.mark.parametrize("field", ["\x1f", 'quo"te', "\u00e9t\u00e9", "back\\slash"],
                         ids=["control character", "double quote", "non-ASCII", "backslash"])
def test_unknown_field_names_come_back_as_a_valid_warning_header(http: httpx.Client, ns: str, field: str) -> None:
    """An unknown field is dropped with a ``Warning`` header; odd field names must not break the response."""
    resp = http.patch(CM.format(ns=ns) + "/target", content=json.dumps({"metadata": {field: 1}}).encode(),
                      headers={"Content-Type": MERGE})
    assert resp.status_code == 200, resp.text
    warning = resp.headers.get("warning", "")
    assert warning.startswith('299 - "') and warning.endswith('"'), warning
    assert field not in resp.json()["metadata"]


@pytest.mark.parametrize("chunked", [False, True], ids=["with content-length", "chunked"])
def test_oversized_body_is_413(http: httpx.Client, ns: str, chunked: bool) -> None:
    payload = json.dumps({"metadata": {"name": "big"}, "data": {"a": "x" * (3 * MiB + 10)}}).encode()
    content: bytes | Iterator[bytes] = payload
    if chunked:
        content = iter([payload[i:i + 64 * 1024] for i in range(0, len(payload), 64 * 1024)])
    resp = http.post(CM.format(ns=ns), content=content, headers={"Content-Type": "application/json"})
    assert_status(resp, 413, "RequestEntityTooLarge")


def test_json_patch_with_too_many_operations_is_413(http: httpx.Client, ns: str) -> None:
    ops = [{"op": "test", "path": "/metadata/name", "value": "target"}] * 10_001
    resp = http.patch(CM.format(ns=ns) + "/target", content=json.dumps(ops).encode(),
                      headers={"Content-Type": JSONP})
    assert_status(resp, 413)


@pytest.mark.parametrize("authorization", [None, "Bearer", "Bearer wrong-token", "Basic dXNlcjpwYXNz"],
                         ids=["no header", "bearer without token", "wrong token", "basic auth"])
def test_missing_or_wrong_credentials_are_401(server: Server, authorization: str | None) -> None:
    headers = {"Authorization": authorization} if authorization is not None else {}
    with httpx.Client(base_url=server.url, verify=server.ssl_context(), headers=headers) as c:
        resp = c.get("/api/v1/namespaces")
    assert_status(resp, 401, "Unauthorized")
    assert resp.headers.get("www-authenticate", "").startswith("Bearer")


# ---------------------------------------------------------------------------- fuzzing

json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-2**40, 2**40) | st.floats(allow_nan=False) | st.text(max_size=12),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4),
    max_leaves=12)
object_fields = st.sampled_from(["metadata", "data", "spec", "status", "kind", "apiVersion", "binaryData",
                                 "immutable", "x"])
meta_fields = st.sampled_from(["name", "generateName", "namespace", "labels", "annotations", "finalizers",
                               "ownerReferences", "resourceVersion", "uid", "deletionTimestamp", "managedFields"])
metadata = st.dictionaries(meta_fields, json_values | st.dictionaries(st.text(max_size=6), json_values, max_size=3),
                           max_size=4)
named_metadata = st.builds(lambda m, n: {**m, "name": n}, metadata, st.from_regex(r"[a-z][a-z0-9-]{0,8}",
                                                                                   fullmatch=True))
objects = (st.dictionaries(object_fields, json_values, max_size=5)
           | st.fixed_dictionaries({"metadata": named_metadata | metadata},
                                   optional={"data": json_values, "spec": json_values, "status": json_values})
           | json_values)
names = st.text(alphabet="abcxyz-0._A/%", min_size=1, max_size=12)
content_types = st.sampled_from(["application/json", "application/yaml", "application/merge-patch+json",
                                 "application/json-patch+json", "application/strategic-merge-patch+json",
                                 "application/apply-patch+yaml", "text/plain", "", "application/json; charset=utf-8",
                                 "*/*", "multipart/form-data"])
query_keys = st.sampled_from(["labelSelector", "fieldSelector", "limit", "continue", "resourceVersion",
                              "resourceVersionMatch", "fieldValidation", "fieldManager", "dryRun", "force",
                              "propagationPolicy", "timeoutSeconds", "pretty", "includeObject"])
queries = st.dictionaries(query_keys, st.text(max_size=10), max_size=3)
resources = st.sampled_from(["configmaps", "pods", "secrets", "services", "events", "deployments", "nope"])
FUZZ = settings(max_examples=250, deadline=None, suppress_health_check=list(HealthCheck))


def _path(ns: str, resource: str) -> str:
    if resource == "deployments":
        return f"/apis/apps/v1/namespaces/{ns}/deployments"
    return f"/api/v1/namespaces/{ns}/{resource}"


def _check(resp: httpx.Response) -> None:
    assert resp.status_code < 500, f"{resp.status_code}: {resp.text[:500]}"
    if resp.status_code >= 400:
        assert_status(resp)


@FUZZ
@given(resource=resources, body=objects, ctype=content_types, query=queries)
def test_fuzz_create(http: httpx.Client, ns: str, resource: str, body: Any, ctype: str,
                     query: dict[str, str]) -> None:
    resp = http.post(_path(ns, resource), content=json.dumps(body).encode(), headers={"Content-Type": ctype},
                     params=query)
    _check(resp)


@FUZZ
@given(resource=resources, name=names, body=objects, raw=st.binary(max_size=40), use_raw=st.booleans(),
       ctype=content_types, query=queries)
def test_fuzz_patch(http: httpx.Client, ns: str, resource: str, name: str, body: Any, raw: bytes, use_raw: bool,
                    ctype: str, query: dict[str, str]) -> None:
    target = "target" if resource == "configmaps" and not use_raw else name
    content = raw if use_raw else json.dumps(body).encode()
    resp = http.patch(f"{_path(ns, resource)}/{quote(target, safe='%/')}", content=content,
                      headers={"Content-Type": ctype}, params=query)
    _check(resp)


@FUZZ
@given(resource=resources, query=queries, extra=st.lists(names, max_size=3))
def test_fuzz_list_and_paths(http: httpx.Client, ns: str, resource: str, query: dict[str, str],
                             extra: list[str]) -> None:
    path = "/".join([_path(ns, resource), *(quote(e, safe="%/") for e in extra)])
    if "/watch" in path:
        return
    resp = http.get(path, params=query)
    _check(resp)


def test_server_logged_no_unhandled_error(server: Server) -> None:
    """Runs after the fuzzers: nothing above made the server hit its last-resort 500 handler."""
    assert "unhandled error serving" not in server.log()
