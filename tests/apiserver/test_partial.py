"""PartialObjectMetadata negotiation and shapes (as kube-apiserver answers client-go's metadata client)."""

from __future__ import annotations

import pytest

from suanli.apiserver.partial import partial_list, partial_object, wants_partial

_METADATA_CLIENT_LIST = ("application/vnd.kubernetes.protobuf;as=PartialObjectMetadataList;g=meta.k8s.io;v=v1,"
                         "application/json;as=PartialObjectMetadataList;g=meta.k8s.io;v=v1,application/json")
_METADATA_CLIENT_WATCH = ("application/vnd.kubernetes.protobuf;as=PartialObjectMetadata;g=meta.k8s.io;v=v1,"
                          "application/json;as=PartialObjectMetadata;g=meta.k8s.io;v=v1,application/json")


@pytest.mark.parametrize(("accept", "expected"), [
    (_METADATA_CLIENT_LIST, True),
    (_METADATA_CLIENT_WATCH, True),
    ("application/json;as=PartialObjectMetadata;g=meta.k8s.io;v=v1", True),
    ("application/json; as=PartialObjectMetadata; g=meta.k8s.io; v=v1", True),
    ("application/json;as=PartialObjectMetadata;g=meta.k8s.io;v=v1beta1", False),
    ("application/json;as=PartialObjectMetadata;g=example.com;v=v1", False),
    ("application/json;as=Table;g=meta.k8s.io;v=v1", False),
    ("application/vnd.kubernetes.protobuf,application/json", False),
    ("", False),
], ids=["metadata-client-list", "metadata-client-watch", "json-only", "spaces-between-params",
        "v1beta1-not-served", "wrong-group", "table-is-not-partial", "typed-client", "no-accept"])
def test_wants_partial(accept: str, expected: bool) -> None:
    assert wants_partial(accept) is expected


def test_partial_object_keeps_only_metadata() -> None:
    pod = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p", "uid": "u", "labels": {"a": "b"}},
           "spec": {"containers": []}, "status": {"phase": "Running"}}
    assert partial_object(pod) == {"kind": "PartialObjectMetadata", "apiVersion": "meta.k8s.io/v1",
                                   "metadata": {"name": "p", "uid": "u", "labels": {"a": "b"}}}


def test_partial_list_wraps_items_and_list_meta() -> None:
    objs = [{"kind": "ConfigMap", "metadata": {"name": n}, "data": {"k": "v"}} for n in ("a", "b")]
    out = partial_list({"resourceVersion": "7", "continue": "c"}, objs)
    assert out["kind"] == "PartialObjectMetadataList" and out["apiVersion"] == "meta.k8s.io/v1"
    assert out["metadata"] == {"resourceVersion": "7", "continue": "c"}
    assert [i["metadata"]["name"] for i in out["items"]] == ["a", "b"]
    assert all(i["kind"] == "PartialObjectMetadata" and set(i) == {"kind", "apiVersion", "metadata"}
               for i in out["items"])
