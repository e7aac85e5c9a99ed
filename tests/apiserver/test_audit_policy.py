"""Audit policy evaluation: upstream's checker table (k8s.io/apiserver pkg/audit/policy checker_test.go)
and validation."""

from __future__ import annotations

from typing import Any

import pytest

from suanli.apiserver.audit.policy import Attributes, PolicyError, parse_policy
from suanli.apiserver.context import UserInfo

TIM = UserInfo("tim@k8s.io", groups=("humans", "developers"))
ATTRS = {
    "namespaced": Attributes(TIM, "get", True, "/api/v1/namespaces/default/pods/busybox", "default", "", "pods", "",
                             "busybox"),
    "cluster": Attributes(TIM, "get", True, "/apis/rbac.authorization.k8s.io/v1beta1/clusterroles/edit", "",
                          "rbac.authorization.k8s.io", "clusterroles", "", "edit"),
    "nonResource": Attributes(TIM, "get", False, "/logs/kubelet.log"),
    "subresource": Attributes(TIM, "get", True, "/api/v1/namespaces/default/pods/busybox", "default", "", "pods",
                              "log", "busybox"),
    "Unauthorized": Attributes(None, "get", True, "/api/v1/namespaces/default/pods/busybox", "default", "", "pods",
                               "", "busybox"),
}
RULES: dict[str, dict[str, Any]] = {
    "default": {"level": "Metadata"},
    "create": {"level": "Request", "verbs": ["create"]},
    "tims": {"level": "Metadata", "users": ["tim@k8s.io"]},
    "humans": {"level": "Metadata", "userGroups": ["humans"]},
    "serviceAccounts": {"level": "Request", "userGroups": ["system:serviceaccounts"]},
    "getPods": {"level": "RequestResponse", "verbs": ["get"], "resources": [{"resources": ["pods"]}]},
    "getPodLogs": {"level": "Request", "verbs": ["get"], "resources": [{"resources": ["pods/log"]}]},
    "getPodWildcardMatching": {"level": "Request", "verbs": ["get"], "resources": [{"resources": ["*"]}]},
    "getPodResourceWildcardMatching": {"level": "Request", "verbs": ["get"], "resources": [{"resources": ["*/log"]}]},
    "getPodSubResourceWildcardMatching": {"level": "Request", "verbs": ["get"],
                                          "resources": [{"resources": ["pods/*"]}]},
    "getClusterRoles": {"level": "RequestResponse", "verbs": ["get"], "namespaces": [""],
                        "resources": [{"group": "rbac.authorization.k8s.io", "resources": ["clusterroles"]}]},
    "getLogs": {"level": "RequestResponse", "verbs": ["get"], "nonResourceURLs": ["/logs*"]},
    "getMetrics": {"level": "Request", "verbs": ["get"], "nonResourceURLs": ["/metrics"]},
    "clusterRoleEdit": {"level": "Request", "resources": [{"group": "rbac.authorization.k8s.io",
                                                           "resources": ["clusterroles"], "resourceNames": ["edit"]}]},
    "omit RequestReceived": {"level": "Request", "omitStages": ["RequestReceived"]},
    "only audit panic": {"level": "Request",
                         "omitStages": ["RequestReceived", "ResponseStarted", "ResponseComplete"]},
}
LEVEL_CASES = [
    ("namespaced", "Metadata", ["default"]), ("namespaced", "None", ["create"]), ("namespaced", "Metadata", ["tims"]),
    ("namespaced", "Metadata", ["humans"]), ("namespaced", "None", ["serviceAccounts"]),
    ("namespaced", "RequestResponse", ["getPods"]), ("namespaced", "None", ["getClusterRoles"]),
    ("namespaced", "None", ["getLogs"]), ("namespaced", "None", ["getMetrics"]),
    ("namespaced", "Metadata", ["getMetrics", "serviceAccounts", "default"]),
    ("namespaced", "RequestResponse", ["getMetrics", "getPods", "default"]),
    ("namespaced", "RequestResponse", ["getPodLogs", "getPods"]),
    ("cluster", "Metadata", ["default"]), ("cluster", "None", ["create"]), ("cluster", "Metadata", ["tims"]),
    ("cluster", "Metadata", ["humans"]), ("cluster", "None", ["serviceAccounts"]), ("cluster", "None", ["getPods"]),
    ("cluster", "RequestResponse", ["getClusterRoles"]), ("cluster", "Request", ["clusterRoleEdit", "getClusterRoles"]),
    ("cluster", "None", ["getLogs"]), ("cluster", "None", ["getMetrics"]),
    ("cluster", "Metadata", ["getMetrics", "serviceAccounts", "default"]),
    ("cluster", "RequestResponse", ["getMetrics", "getClusterRoles", "default"]),
    ("cluster", "None", ["getPodLogs", "getPods"]),
    ("nonResource", "Metadata", ["default"]), ("nonResource", "None", ["create"]),
    ("nonResource", "Metadata", ["tims"]), ("nonResource", "Metadata", ["humans"]),
    ("nonResource", "None", ["serviceAccounts"]), ("nonResource", "None", ["getPods"]),
    ("nonResource", "None", ["getClusterRoles"]), ("nonResource", "RequestResponse", ["getLogs"]),
    ("nonResource", "None", ["getMetrics"]), ("nonResource", "Metadata", ["getMetrics", "serviceAccounts", "default"]),
    ("nonResource", "RequestResponse", ["getLogs", "getClusterRoles", "default"]),
    ("nonResource", "None", ["getPodLogs", "getPods"]),
    ("subresource", "Request", ["getPodLogs", "getPods"]), ("subresource", "Request", ["getPodWildcardMatching"]),
    ("subresource", "Request", ["getPodResourceWildcardMatching"]),
    ("subresource", "Request", ["getPodSubResourceWildcardMatching"]),
    ("Unauthorized", "None", ["tims"]), ("Unauthorized", "Metadata", ["tims", "default"]),
    ("Unauthorized", "None", ["humans"]), ("Unauthorized", "Metadata", ["humans", "default"]),
]
POLICY_STAGES = ["RequestReceived", "ResponseStarted"]


def policy(rules: list[str], stages: list[str] | None = None) -> Any:
    return parse_policy({"apiVersion": "audit.k8s.io/v1", "kind": "Policy", "omitStages": stages or [],
                         "rules": [RULES[r] for r in rules]})


@pytest.mark.parametrize("stages", [None, POLICY_STAGES], ids=["no-policy-stages", "policy-omit-stages"])
@pytest.mark.parametrize(("req", "level", "rules"), LEVEL_CASES,
                         ids=[f"{r}-{'+'.join(n)}-{lv}" for r, lv, n in LEVEL_CASES])
def test_first_matching_rule_sets_the_level(req: str, level: str, rules: list[str], stages: list[str] | None) -> None:
    ev = policy(rules, stages).evaluate(ATTRS[req])
    assert ev.level == level
    assert ev.omit_stages == frozenset(stages or [])


@pytest.mark.parametrize(("req", "stages", "rules", "level", "omitted"), [
    ("namespaced", None, ["omit RequestReceived", "getPods", "default"], "Request", {"RequestReceived"}),
    ("namespaced", None, ["only audit panic", "getPods", "default"], "Request",
     {"RequestReceived", "ResponseStarted", "ResponseComplete"}),
    ("cluster", POLICY_STAGES, ["omit RequestReceived", "getPods", "default"], "Request", set(POLICY_STAGES)),
    ("nonResource", POLICY_STAGES, ["default", "omit RequestReceived", "getPods"], "Metadata", set(POLICY_STAGES)),
    ("nonResource", POLICY_STAGES, ["only audit panic", "getPods", "default"], "Request",
     {"RequestReceived", "ResponseStarted", "ResponseComplete"}),
], ids=["rule-omits-received", "rule-audits-panic-only", "union-with-policy", "policy-stages-on-default",
        "union-panic-only"])
def test_omit_stages_are_the_union_of_policy_and_rule(req: str, stages: list[str] | None, rules: list[str],
                                                      level: str, omitted: set[str]) -> None:
    ev = policy(rules, stages).evaluate(ATTRS[req])
    assert (ev.level, ev.omit_stages) == (level, frozenset(omitted))


@pytest.mark.parametrize(("global_omf", "rule_omf", "want"), [
    (False, None, False), (True, None, True), (True, False, False), (False, True, True),
], ids=["global-false-rule-unset", "global-true-rule-unset", "rule-overrides-to-false", "rule-overrides-to-true"])
def test_omit_managed_fields_rule_overrides_policy(global_omf: bool, rule_omf: bool | None, want: bool) -> None:
    rule: dict[str, Any] = {"level": "RequestResponse", "verbs": ["get"]}
    if rule_omf is not None:
        rule["omitManagedFields"] = rule_omf
    p = parse_policy({"apiVersion": "audit.k8s.io/v1", "kind": "Policy", "omitManagedFields": global_omf,
                      "rules": [rule]})
    assert p.evaluate(Attributes(None, "get", False, "/")).omit_managed_fields is want


@pytest.mark.parametrize(("rule", "message"), [
    ({"level": "Verbose"}, 'rules[0].level: Unsupported value: "Verbose"'),
    ({}, "rules[0].level: Required value"),
    ({"level": "Metadata", "omitStages": ["Done"]}, 'rules[0].omitStages[0]: Unsupported value: "Done"'),
    ({"level": "Metadata", "nonResourceURLs": ["/x"], "resources": [{"resources": ["pods"]}]},
     "rules cannot apply to both regular resources and non-resource URLs"),
    ({"level": "Metadata", "nonResourceURLs": ["logs"]}, 'must begin with a "/" character'),
    ({"level": "Metadata", "nonResourceURLs": ["/a*/b"]}, 'wildcards "*" must be the final character'),
    ({"level": "Metadata", "resources": [{"resourceNames": ["x"]}]},
     "using resourceNames requires at least one resource"),
], ids=["unknown-level", "missing-level", "unknown-stage", "resources-and-urls", "url-without-slash",
        "inner-wildcard", "names-without-resources"])
def test_invalid_rules_are_rejected_naming_the_field(rule: dict[str, Any], message: str) -> None:
    with pytest.raises(PolicyError) as err:
        parse_policy({"apiVersion": "audit.k8s.io/v1", "kind": "Policy", "rules": [rule]})
    assert message in str(err.value)
