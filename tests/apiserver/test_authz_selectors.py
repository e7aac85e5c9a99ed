"""AuthorizeWithSelectors: list/watch selectors and SubjectAccessReview field/label selectors reach the
authorizer as upstream's attributes, and the review stanzas are validated as upstream's
``validateFieldSelectorAttributes``/``validateLabelSelectorAttributes`` (pkg/apis/authorization/validation)."""

from __future__ import annotations

from typing import Any

import pytest
from tests.apiserver.test_authz_rbac import ALICE as RBAC_ALICE
from tests.apiserver.test_authz_rbac import _policy as rbac_policy

from suanli.apimachinery.errors import ApiError
from suanli.apiserver.authz import Attributes, Decision, SelectorRequirement
from suanli.apiserver.authz.filters import authorize_request
from suanli.apiserver.authz.reviews import review
from suanli.apiserver.authz.selectors import request_selectors
from suanli.apiserver.context import UserInfo

ALICE = UserInfo("alice", groups=("system:authenticated",))
Req = SelectorRequirement


class Recorder:
    """An authorizer that allows everything and remembers what it was asked (a webhook's view)."""

    def __init__(self) -> None:
        self.seen: list[Attributes] = []

    def authorize(self, attrs: Attributes) -> Decision:
        self.seen.append(attrs)
        return Decision(True)


@pytest.mark.parametrize(("verb", "query", "fields", "labels"), [
    ("list", {"fieldSelector": "spec.nodeName=n1,metadata.name!=x"}, (Req("spec.nodeName", "In", ("n1",)),
                                                                       Req("metadata.name", "NotIn", ("x",))), ()),
    ("watch", {"labelSelector": "app in (a,b),!tier,env=prod,zone"},
     (), (Req("app", "In", ("a", "b")), Req("env", "In", ("prod",)), Req("tier", "DoesNotExist"),
          Req("zone", "Exists"))),
    ("deletecollection", {"labelSelector": "env!=prod", "fieldSelector": "status.phase==Failed"},
     (Req("status.phase", "In", ("Failed",)),), (Req("env", "NotIn", ("prod",)),)),
    ("get", {"fieldSelector": "spec.nodeName=n1"}, (), ()),
    ("list", {"labelSelector": "a in (b"}, (), ()),
], ids=["list-field-selector", "watch-label-selector", "deletecollection-both", "get-carries-none",
        "unparsable-carries-none"])
def test_request_selectors(verb: str, query: dict[str, str], fields: tuple[Req, ...], labels: tuple[Req, ...]) -> None:
    got_fields, got_labels = request_selectors(verb, query)
    assert (got_fields, sorted(got_labels)) == (fields, sorted(labels))


def test_list_and_watch_requests_carry_their_selectors_to_the_authorizer() -> None:
    rec = Recorder()
    authorize_request(rec, ALICE, "GET", "/api/v1/namespaces/ns/pods",
                      {"fieldSelector": "spec.nodeName=n1", "labelSelector": "app=web", "watch": "true"})
    authorize_request(rec, ALICE, "GET", "/api/v1/namespaces/ns/pods/p1", {"fieldSelector": "spec.nodeName=n1"})
    watch, get = rec.seen
    assert (watch.verb, watch.field_selector, watch.label_selector) == (
        "watch", (Req("spec.nodeName", "In", ("n1",)),), (Req("app", "In", ("web",)),))
    assert (get.verb, get.field_selector, get.label_selector) == ("get", (), ())


@pytest.mark.parametrize(("ns", "allowed"), [("team-a", True), ("team-c", False)], ids=["granted", "not-granted"])
def test_rbac_ignores_selectors(ns: str, allowed: bool) -> None:
    plain = Attributes(RBAC_ALICE, "list", True, ns, "", "v1", "pods")
    narrowed = plain._replace(field_selector=(Req("spec.nodeName", "In", ("n1",)),),
                              label_selector=(Req("app", "In", ("web",)),))
    assert rbac_policy().authorize(narrowed) == rbac_policy().authorize(plain)
    assert rbac_policy().authorize(narrowed).allowed is allowed


def sar(res: dict[str, Any]) -> dict[str, Any]:
    return {"apiVersion": "authorization.k8s.io/v1", "kind": "SubjectAccessReview",
            "spec": {"user": "bob", "resourceAttributes": {"verb": "list", "resource": "pods", "namespace": "ns",
                                                           **res}}}


def test_review_selectors_reach_the_authorizer_and_are_echoed() -> None:
    rec = Recorder()
    body = sar({"fieldSelector": {"requirements": [{"key": "spec.nodeName", "operator": "In", "values": ["n1"]}]},
                "labelSelector": {"rawSelector": "app=web,tier"}})
    out = review("subjectaccessreviews", body, requester=ALICE, namespace="", authorizer=rec, resolver=None)
    assert out["status"] == {"allowed": True}
    assert out["spec"]["resourceAttributes"]["labelSelector"] == {"rawSelector": "app=web,tier"}
    (attrs,) = rec.seen
    assert attrs.field_selector == (Req("spec.nodeName", "In", ("n1",)),)
    assert sorted(attrs.label_selector) == [Req("app", "In", ("web",)), Req("tier", "Exists")]


F = "spec.resourceAttributes.fieldSelector"
L = "spec.resourceAttributes.labelSelector"
INVALID: list[tuple[str, dict[str, Any], str]] = [
    ("field-raw-and-requirements", {"fieldSelector": {"rawSelector": "foo", "requirements": [
        {"key": "a", "operator": "In", "values": ["b"]}]}},
     f'{F}.rawSelector: Invalid value: "foo": may not specified at the same time as requirements'),
    ("field-neither", {"fieldSelector": {}},
     f"{F}.requirements: Required value: when {F} is specified, requirements or rawSelector is required"),
    ("field-in-needs-one-value", {"fieldSelector": {"requirements": [{"key": "a", "operator": "In",
                                                                      "values": ["b", "c"]}]}},
     f"{F}.requirements[0].values: Required value: must have one element when `operator` is 'In' or 'NotIn'"),
    ("field-exists-takes-no-values", {"fieldSelector": {"requirements": [{"key": "a", "operator": "Exists",
                                                                          "values": ["b"]}]}},
     f"{F}.requirements[0].values: Forbidden: may not be specified when `operator` is 'Exists' or 'DoesNotExist'"),
    ("field-key-required", {"fieldSelector": {"requirements": [{"operator": "DoesNotExist"}]}},
     f"{F}.requirements[0].key: Required value: must be specified"),
    ("label-raw-and-requirements", {"labelSelector": {"rawSelector": "foo", "requirements": [
        {"key": "a", "operator": "Exists"}]}},
     f'{L}.rawSelector: Invalid value: "foo": may not specified at the same time as requirements'),
    ("label-neither", {"labelSelector": {"rawSelector": ""}},
     f"{L}.requirements: Required value: when {L} is specified, requirements or rawSelector is required"),
    ("label-in-needs-values", {"labelSelector": {"requirements": [{"key": "a", "operator": "NotIn"}]}},
     f"{L}.requirements[0].values: Required value: must be specified when `operator` is 'In' or 'NotIn'"),
    ("label-invalid-key", {"labelSelector": {"requirements": [{"key": "-a", "operator": "Exists"}]}},
     f'{L}.requirements[0].key: Invalid value: "-a": name part must consist of alphanumeric characters'),
    ("label-invalid-value", {"labelSelector": {"requirements": [{"key": "a", "operator": "In",
                                                                 "values": ["b c"]}]}},
     f'{L}.requirements[0].values[0]: Invalid value: "b c": a valid label must be an empty string'),
]


@pytest.mark.parametrize(("res", "message"), [c[1:] for c in INVALID], ids=[c[0] for c in INVALID])
def test_invalid_review_selectors_are_422_naming_the_field(res: dict[str, Any], message: str) -> None:
    with pytest.raises(ApiError) as err:
        review("subjectaccessreviews", sar(res), requester=ALICE, namespace="", authorizer=Recorder(),
               resolver=None)
    assert err.value.code == 422
    assert message in err.value.message


def test_unknown_operators_are_allowed_for_skewed_clients() -> None:
    rec = Recorder()
    body = sar({"fieldSelector": {"requirements": [{"key": "a", "operator": "Fancy", "values": ["x", "y"]}]},
                "labelSelector": {"requirements": [{"key": "b", "operator": "Fancy"}]}})
    out = review("subjectaccessreviews", body, requester=ALICE, namespace="", authorizer=rec, resolver=None)
    assert out["status"]["allowed"] is True
    assert rec.seen[0].label_selector == (Req("b", "Fancy"),)
