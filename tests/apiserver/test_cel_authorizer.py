"""The CEL ``authorizer`` variable of webhook matchConditions (upstream cel/library/authz.go semantics),
evaluated by cel-python against the real RBAC policy, and through the webhook dispatcher."""

from __future__ import annotations

import pytest
from tests.apiserver.test_authz_rbac import ALICE, _policy

from suanli.apimachinery.matchconditions import MatchResult, evaluate_match_conditions
from suanli.apiserver.admission import AdmissionRequest
from suanli.apiserver.authz import Attributes, Authorizer, Decision, SelectorRequirement
from suanli.apiserver.cel_authorizer import LIBRARY, authorizer_value
from suanli.apiserver.context import UserInfo
from suanli.apiserver.webhooks import WebhookDispatcher
from suanli.kinds.builtin import builtin_resource_types
from suanli.storage import Store

REQUEST = ("", "pods", "", "team-a", "web")


class Recorder:
    """Allows everything; remembers the attributes it was asked about."""

    def __init__(self) -> None:
        self.seen: list[Attributes] = []

    def authorize(self, attrs: Attributes) -> Decision:
        self.seen.append(attrs)
        return Decision(True, "recorded")


def evaluate(expression: str, authorizer: Authorizer, user: UserInfo = ALICE) -> MatchResult:
    return evaluate_match_conditions([{"name": "c", "expression": expression}], {"object": None},
                                     native={"authorizer": authorizer_value(authorizer, user, REQUEST)},
                                     library=LIBRARY)


RBAC_CASES: list[tuple[str, str, bool]] = [
    ("resource-check-allowed", "authorizer.group('').resource('pods').namespace('team-a').check('list').allowed()",
     True),
    ("resource-check-other-namespace-denied",
     "authorizer.group('').resource('pods').namespace('team-c').check('list').allowed()", False),
    ("verb-not-granted", "authorizer.group('').resource('pods').namespace('team-a').check('delete').allowed()",
     False),
    ("subresource-not-covered",
     "authorizer.group('').resource('pods').subresource('log').namespace('team-a').check('get').allowed()", False),
    ("reason-names-the-binding", "authorizer.group('').resource('pods').namespace('team-a').name('web')"
     ".check('get').reason() == 'RBAC: allowed by RoleBinding \"alice-reads/team-a\" of ClusterRole "
     "\"pod-reader\" to User \"alice\"'", True),
    ("service-account-check", "authorizer.serviceAccount('team-a', 'ci').group('').resource('configmaps')"
     ".namespace('team-a').check('create').allowed()", True),
    ("service-account-is-not-the-user", "authorizer.serviceAccount('team-a', 'ci').group('').resource('pods')"
     ".namespace('team-a').check('list').allowed()", False),
    ("request-resource", "authorizer.requestResource.check('get').allowed()", True),
    ("request-resource-verb-denied", "authorizer.requestResource.check('delete').allowed()", False),
    ("not-errored", "!authorizer.path('/healthz').check('get').errored() && "
                    "authorizer.path('/healthz').check('get').error() == ''", True),
]


@pytest.mark.parametrize(("expression", "want"), [c[1:] for c in RBAC_CASES], ids=[c[0] for c in RBAC_CASES])
def test_authorizer_against_rbac(expression: str, want: bool) -> None:
    result = evaluate(expression, _policy())
    assert result.errors == ()
    assert result.matches is want


def test_checks_carry_upstream_attributes() -> None:
    rec = Recorder()
    assert evaluate("authorizer.group('apps').resource('deployments').subresource('scale').namespace('ns')"
                    ".name('web').fieldSelector('spec.x=1').labelSelector('app in (a)').check('update').allowed() && "
                    "authorizer.path('/metrics').check('get').allowed()", rec).matches
    resource, path = rec.seen
    assert resource == Attributes(ALICE, "update", True, "ns", "apps", "*", "deployments", "scale", "web", "",
                                  (SelectorRequirement("spec.x", "In", ("1",)),),
                                  (SelectorRequirement("app", "In", ("a",)),))
    assert path == Attributes(ALICE, "get", resource_request=False, path="/metrics")


@pytest.mark.parametrize(("expression", "error"), [
    ("authorizer.path('').check('get').allowed()", "path must not be empty"),
    ("authorizer.group('').resource(' ').check('get').allowed()", "resource must not be empty"),
    ("authorizer.serviceAccount('team-a', 'Bad_Name').group('').resource('pods').check('get').allowed()",
     "Invalid service account name"),
    ("authorizer.serviceAccount('Team A', 'ci').group('').resource('pods').check('get').allowed()",
     "Invalid service account namespace"),
    ("authorizer.check('get').allowed()", "no such overload"),
    ("authorizer.group('').check('get').allowed()", "no such overload"),
], ids=["empty-path", "empty-resource", "invalid-sa-name", "invalid-sa-namespace", "check-on-authorizer",
        "check-on-group"])
def test_evaluation_errors(expression: str, error: str) -> None:
    result = evaluate(expression, Recorder())
    assert result.matches and len(result.errors) == 1
    assert error in result.errors[0]


def test_dispatcher_gives_matchconditions_the_request_user() -> None:
    pods = next(rt for rt in builtin_resource_types() if rt.plural == "pods" and not rt.group)
    hook = {"matchConditions": [{"name": "only-for-non-readers", "expression":
                                 "!authorizer.requestResource.check('list').allowed()"}]}
    dispatcher = WebhookDispatcher(Store(None), _policy())

    def request(user: UserInfo) -> AdmissionRequest:
        return AdmissionRequest("CREATE", pods, "team-a", "web", {"metadata": {"name": "web"}}, None,
                                user=user.name, user_info=user)
    assert dispatcher._conditions_match(hook, request(ALICE)) is False  # alice may list pods in team-a
    assert dispatcher._conditions_match(hook, request(UserInfo("mallory"))) is True
