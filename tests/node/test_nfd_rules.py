"""NodeFeatureRule engine: matching semantics, outputs, ordering, prefixing, errors."""

from __future__ import annotations

from typing import Any

import pytest

from suanli.apimachinery.objects import Obj
from suanli.node.nfd import Features, compile_rules, evaluate_rules

FNS = "feature.node.kubernetes.io"


def nfr(name: str, *rules: dict[str, Any]) -> Obj:
    return {
        "apiVersion": "nfd.k8s-sigs.io/v1alpha1",
        "kind": "NodeFeatureRule",
        "metadata": {"name": name},
        "spec": {"rules": list(rules)},
    }


def term(feature: str, **exprs: dict[str, Any]) -> dict[str, Any]:
    return {"feature": feature, "matchExpressions": exprs}


def npu(device: str = "d802") -> dict[str, str]:
    return {
        "class": "1200",
        "vendor": "19e5",
        "device": device,
        "subsystem_vendor": "19e5",
        "subsystem_device": "3000",
    }


def ascend_910b() -> Features:
    """An Atlas 800T A2-like server: Kunpeng CPUs, 8 x Ascend 910B, a Huawei NIC."""
    return Features(
        flags={
            "cpu.cpuid": {"FP", "ASIMD", "AES", "PMULL", "SHA1", "SHA2", "CRC32", "ATOMICS"},
            "kernel.loadedmodule": {"drv_davinci_intf", "ascend_event_sched", "hinic"},
        },
        attributes={
            "cpu.model": {"vendor_id": "HiSilicon", "family": "8", "id": "3329"},
            "kernel.version": {
                "full": "5.10.0-182.0.0.95.oe2203sp3.aarch64",
                "major": "5",
                "minor": "10",
                "revision": "0",
            },
            "system.osrelease": {
                "ID": "openEuler",
                "VERSION_ID": "22.03",
                "VERSION_ID.major": "22",
                "VERSION_ID.minor": "03",
            },
            "memory.numa": {"is_numa": "true", "node_count": "4"},
        },
        instances={
            "pci.device": [npu() for _ in range(8)] + [{"class": "0200", "vendor": "19e5", "device": "0222"}]
        },
    )


def kunpeng_kae() -> Features:
    """A Kunpeng 920 server with KAE engines (HPRE, SEC, ZIP) and their drivers loaded."""
    return Features(
        flags={
            "cpu.cpuid": {"FP", "ASIMD", "AES", "SHA2"},
            "kernel.loadedmodule": {"hisi_qm", "uacce", "hisi_hpre", "hisi_sec2", "hisi_zip"},
        },
        attributes={
            "cpu.model": {"vendor_id": "HiSilicon", "family": "8", "id": "3329"},
            "kernel.version": {"full": "5.10.0", "major": "5", "minor": "10", "revision": "0"},
            "system.osrelease": {"ID": "openEuler", "VERSION_ID": "22.03"},
            "memory.numa": {"is_numa": "true", "node_count": "2"},
        },
        instances={
            "pci.device": [
                {"class": "1000", "vendor": "19e5", "device": "a258"},
                {"class": "1000", "vendor": "19e5", "device": "a255"},
                {"class": "1200", "vendor": "19e5", "device": "a250"},
            ]
        },
    )


ASCEND_RULE = {
    "name": "huawei ascend npu",
    "labels": {"huawei.com/npu.present": "true", "accelerator": "huawei-Ascend910"},
    "matchFeatures": [
        term(
            "pci.device",
            vendor={"op": "In", "value": ["19e5"]},
            **{"class": {"op": "In", "value": ["1200"]}},
            device={"op": "In", "value": ["d100", "d500", "d801", "d802", "d803"]},
        )
    ],
}
KAE_RULE = {
    "name": "kae hpre",
    "labels": {"openfuyao.com/kae.hpre.present": "true"},
    "matchFeatures": [term("kernel.loadedmodule", hisi_hpre={"op": "Exists"})],
}


def test_ascend_rule_labels_910b_server_and_not_kae_server() -> None:
    rules = compile_rules([nfr("openfuyao-npu", ASCEND_RULE)])
    assert rules.evaluate(ascend_910b()).labels == {
        "huawei.com/npu.present": "true",
        f"{FNS}/accelerator": "huawei-Ascend910",
    }
    # the KAE ZIP engine shares vendor 19e5 and class 12xx, but not an Ascend device id
    assert rules.evaluate(kunpeng_kae()).labels == {}


def test_kae_rule_labels_kae_server_only() -> None:
    rules = compile_rules([nfr("openfuyao-kae", KAE_RULE)])
    assert rules.evaluate(kunpeng_kae()).labels == {"openfuyao.com/kae.hpre.present": "true"}
    assert rules.evaluate(ascend_910b()).labels == {}


def labels_of(rule: dict[str, Any], features: Features) -> dict[str, str]:
    return evaluate_rules([nfr("r", rule)], features).labels


BASE = Features(
    flags={"cpu.cpuid": {"AVX2", "AVX512F"}, "kernel.loadedmodule": {"hisi_hpre"}},
    attributes={
        "kernel.version": {"major": "5", "minor": "15", "full": "5.15.0-91-generic"},
        "gpu.info": {"product": "nvidia-tesla-t4", "count": "x4"},
        "mixed.feat": {"attr": "1"},
    },
    instances={
        "pci.device": [
            {"vendor": "10de", "class": "0302", "device": "1eb8"},
            {"vendor": "8086", "class": "0300", "device": "1234"},
        ],
        "usb.device": [],
    },
)
BASE.flags["mixed.feat"] = {"flag"}

MATCH_CASES: list[tuple[dict[str, Any], bool]] = [
    ({"matchFeatures": [term("kernel.version", major={"op": "In", "value": ["5"]})]}, True),
    ({"matchFeatures": [term("kernel.version", nope={"op": "In", "value": ["5"]})]}, False),
    ({"matchFeatures": [term("kernel.version", nope={"op": "NotIn", "value": ["5"]})]}, False),
    ({"matchFeatures": [term("kernel.version", nope={"op": "DoesNotExist"})]}, True),
    ({"matchFeatures": [term("gpu.info", product={"op": "InRegexp", "value": ["tesla"]})]}, True),
    ({"matchFeatures": [term("cpu.cpuid", AVX2={"op": "In", "value": ["true"]})]}, False),
    ({"matchFeatures": [term("cpu.cpuid", AVX2={"op": "Exists"}, AVX512F={"op": "Exists"})]}, True),
    ({"matchFeatures": [term("cpu.cpuid", AMXTILE={"op": "DoesNotExist"})]}, True),
    (
        {
            "matchFeatures": [
                term("kernel.version", major={"op": "In", "value": ["5"]}),
                term("cpu.cpuid", SSE={"op": "Exists"}),
            ]
        },
        False,
    ),
    ({"matchFeatures": [term("no.such", x={"op": "DoesNotExist"})]}, False),
    ({"matchFeatures": [{"feature": "kernel.version", "matchExpressions": {}}]}, True),
    ({"matchFeatures": [{"feature": "KERNEL.Version"}]}, True),
    (
        {
            "matchFeatures": [
                term(
                    "pci.device",
                    vendor={"op": "In", "value": ["10de"]},
                    **{"class": {"op": "In", "value": ["0300"]}},
                )
            ]
        },
        False,
    ),
    (
        {
            "matchFeatures": [
                term(
                    "pci.device",
                    vendor={"op": "In", "value": ["10de"]},
                    **{"class": {"op": "In", "value": ["0302"]}},
                )
            ]
        },
        True,
    ),
    ({"matchFeatures": [{"feature": "usb.device", "matchExpressions": {}}]}, False),
    ({"matchFeatures": [term("mixed.feat", flag={"op": "Exists"}, attr={"op": "In", "value": ["1"]})]}, True),
    ({"matchFeatures": [term("mixed.feat", flag={"op": "DoesNotExist"})]}, False),
    (
        {"matchFeatures": [{"feature": "cpu.cpuid", "matchName": {"op": "InRegexp", "value": ["^AVX512"]}}]},
        True,
    ),
    ({"matchFeatures": [{"feature": "cpu.cpuid", "matchName": {"op": "In", "value": ["AMXTILE"]}}]}, False),
    (
        {
            "matchFeatures": [
                {
                    "feature": "kernel.version",
                    "matchExpressions": {"major": {"op": "Exists"}},
                    "matchName": {"op": "In", "value": ["nope"]},
                }
            ]
        },
        False,
    ),
    (
        {
            "matchAny": [
                {"matchFeatures": [term("cpu.cpuid", SSE={"op": "Exists"})]},
                {"matchFeatures": [term("cpu.cpuid", AVX2={"op": "Exists"})]},
            ]
        },
        True,
    ),
    ({"matchAny": [{"matchFeatures": [term("cpu.cpuid", SSE={"op": "Exists"})]}]}, False),
    (
        {
            "matchAny": [{"matchFeatures": [term("cpu.cpuid", AVX2={"op": "Exists"})]}],
            "matchFeatures": [term("kernel.version", major={"op": "Gt", "value": ["5"]})],
        },
        False,
    ),
    (
        {
            "matchAny": [{"matchFeatures": [term("cpu.cpuid", AVX2={"op": "Exists"})]}],
            "matchFeatures": [term("kernel.version", minor={"op": "Ge", "value": ["15"]})],
        },
        True,
    ),
    (
        {"matchFeatures": [term("kernel.version", full={"op": "Gt", "value": ["5.4"], "type": "version"})]},
        True,
    ),
]
MATCH_IDS = [
    "in-matches",
    "in-missing-key-false",
    "notin-missing-key-false",
    "doesnotexist-missing-key-true",
    "inregexp-unanchored",
    "flag-with-in-false",
    "flags-exist-and",
    "flag-doesnotexist",
    "matchfeatures-is-and",
    "absent-feature-never-matches",
    "empty-expressions-match",
    "feature-name-case-insensitive",
    "instance-halves-do-not-combine",
    "instance-single-device-matches",
    "no-instances-no-match",
    "flags-and-attributes-union",
    "doesnotexist-must-hold-in-flags-too",
    "matchname-regexp",
    "matchname-no-element",
    "expressions-and-matchname-both-required",
    "matchany-is-or",
    "matchany-none-matches",
    "matchany-and-matchfeatures-both-required-fail",
    "matchany-and-matchfeatures-both-hold",
    "version-type-comparison",
]


@pytest.mark.parametrize(("rule", "matches"), MATCH_CASES, ids=MATCH_IDS)
def test_rule_matching(rule: dict[str, Any], matches: bool) -> None:
    out = labels_of({"name": "t", "labels": {"hit": "yes"}, **rule}, BASE)
    assert (out == {f"{FNS}/hit": "yes"}) is matches


def test_rule_without_matchers_always_emits_labels_including_empty_values() -> None:
    assert labels_of({"name": "always", "labels": {"a": "1", "b": ""}}, Features()) == {
        f"{FNS}/a": "1",
        f"{FNS}/b": "",
    }


def test_node_value_error_skips_only_that_rule() -> None:
    feats = Features(attributes={"gpu.info": {"count": "x4"}})
    out = evaluate_rules(
        [
            nfr(
                "r",
                {
                    "name": "bad",
                    "labels": {"bad": "1"},
                    "matchFeatures": [term("gpu.info", count={"op": "Gt", "value": ["2"]})],
                },
                {"name": "good", "labels": {"good": "1"}},
            )
        ],
        feats,
    )
    assert out.labels == {f"{FNS}/good": "1"}
    assert len(out.warnings) == 1 and "'bad'" in out.warnings[0] and "not a number" in out.warnings[0]


@pytest.mark.parametrize(
    "expr",
    [
        {"op": "In"},
        {"op": "Gt", "value": ["1", "2"]},
        {"op": "GtLt", "value": ["5", "1"]},
        {"op": "Nope"},
        {"op": "InRegexp", "value": ["["]},
    ],
    ids=["in-no-values", "gt-two-values", "gtlt-reversed-bounds", "unknown-op", "bad-regexp"],
)
def test_malformed_expression_skips_rule_with_warning_others_apply(expr: dict[str, Any]) -> None:
    rules = compile_rules(
        [
            nfr(
                "r",
                {
                    "name": "bad",
                    "labels": {"bad": "1"},
                    "matchFeatures": [term("kernel.version", major=expr)],
                },
                {"name": "ok", "labels": {"ok": "1"}},
            )
        ]
    )
    assert rules.compile_warnings and "'bad'" in rules.compile_warnings[0]
    out = rules.evaluate(BASE)
    assert out.labels == {f"{FNS}/ok": "1"}
    assert any("'bad'" in w for w in out.warnings)


def test_rule_matched_back_reference_sees_earlier_labels_and_vars() -> None:
    out = evaluate_rules(
        [
            nfr(
                "a",
                {"name": "base", "labels": {"gpu": "true"}, "vars": {"hidden": "yes"}},
                {
                    "name": "derived",
                    "labels": {"derived": "true"},
                    "matchFeatures": [
                        term("rule.matched", gpu={"op": "IsTrue"}, hidden={"op": "In", "value": ["yes"]})
                    ],
                },
                {
                    "name": "not-vars",
                    "labels": {"leak": "1"},
                    "matchFeatures": [term("rule.matched", nothing={"op": "Exists"})],
                },
            )
        ],
        Features(),
    )
    assert out.labels == {f"{FNS}/gpu": "true", f"{FNS}/derived": "true"}


def test_rule_objects_processed_sorted_by_name() -> None:
    later = nfr(
        "b-second",
        {
            "name": "x",
            "labels": {"order": "b"},
            "matchFeatures": [term("rule.matched", order={"op": "In", "value": ["a"]})],
        },
    )
    earlier = nfr("a-first", {"name": "y", "labels": {"order": "a"}})
    out = evaluate_rules([later, earlier], Features())
    # a-first runs first, so b-second's back-reference matches and overrides the label
    assert out.labels == {f"{FNS}/order": "b"}


def test_rules_in_spec_order_later_label_wins() -> None:
    out = evaluate_rules(
        [nfr("r", {"name": "1", "labels": {"k": "one"}}, {"name": "2", "labels": {"k": "two"}})], Features()
    )
    assert out.labels == {f"{FNS}/k": "two"}


@pytest.mark.parametrize(
    ("key", "expected_key"),
    [
        ("plain", f"{FNS}/plain"),
        ("example.com/x", "example.com/x"),
        ("sub.feature.node.kubernetes.io/x", "sub.feature.node.kubernetes.io/x"),
        (f"{FNS}/x", f"{FNS}/x"),
        ("profile.node.kubernetes.io/x", "profile.node.kubernetes.io/x"),
        ("kubernetes.io/x", None),
        ("node.kubernetes.io/x", None),
        ("k8s.io/x", None),
        ("foo.k8s.io/x", None),
        ("bad key", None),
    ],
    ids=[
        "unprefixed-gets-feature-ns",
        "custom-ns-kept",
        "feature-subns-allowed",
        "feature-ns-allowed",
        "profile-ns-allowed",
        "kubernetes-io-denied",
        "node-kubernetes-io-denied",
        "k8s-io-denied",
        "k8s-io-subdomain-denied",
        "invalid-name-rejected",
    ],
)
def test_label_prefixing_and_denied_namespaces(key: str, expected_key: str | None) -> None:
    out = evaluate_rules([nfr("r", {"name": "n", "labels": {key: "v"}})], Features())
    assert out.labels == ({expected_key: "v"} if expected_key else {})
    assert bool(out.warnings) is (expected_key is None)


def test_invalid_label_value_dropped_with_warning() -> None:
    out = evaluate_rules([nfr("r", {"name": "n", "labels": {"a": "has space", "b": "ok"}})], Features())
    assert out.labels == {f"{FNS}/b": "ok"} and len(out.warnings) == 1


def test_auto_prefix_can_be_disabled() -> None:
    out = compile_rules([nfr("r", {"name": "n", "labels": {"plain": "v"}})], auto_prefix=False).evaluate(
        Features()
    )
    assert out.labels == {"plain": "v"}


def test_labels_template_emits_per_device_labels_and_explicit_labels_override() -> None:
    rule = {
        "name": "per-device",
        "labelsTemplate": (
            "{{ range .pci.device }}pci-{{ .vendor }}-{{ .device }}.present=true\n{{ end }}shared=template"
        ),
        "labels": {"shared": "explicit"},
        "matchFeatures": [term("pci.device", vendor={"op": "In", "value": ["10de", "8086"]})],
    }
    assert labels_of(rule, BASE) == {
        f"{FNS}/pci-10de-1eb8.present": "true",
        f"{FNS}/pci-8086-1234.present": "true",
        f"{FNS}/shared": "explicit",
    }


def test_labels_template_sees_flag_names_and_attribute_values() -> None:
    rule = {
        "name": "t",
        "labelsTemplate": (
            "{{range .cpu.cpuid}}cpu-{{.Name | lower}}=true\n{{end}}"
            "{{range .kernel.version}}kv-{{.Name}}={{.Value}}\n{{end}}"
        ),
        "matchFeatures": [
            {"feature": "cpu.cpuid", "matchName": {"op": "InRegexp", "value": ["^AVX"]}},
            term("kernel.version", major={"op": "Exists"}, rc={"op": "DoesNotExist"}),
        ],
    }
    assert labels_of(rule, BASE) == {
        f"{FNS}/cpu-avx2": "true",
        f"{FNS}/cpu-avx512f": "true",
        f"{FNS}/kv-major": "5",
        f"{FNS}/kv-rc": "",
    }


def test_matchany_template_runs_per_matching_element_and_unions() -> None:
    rule = {
        "name": "t",
        "labelsTemplate": "{{range .cpu.cpuid}}has-{{.Name}}=true\n{{end}}",
        "matchAny": [
            {"matchFeatures": [term("cpu.cpuid", AVX2={"op": "Exists"})]},
            {"matchFeatures": [term("cpu.cpuid", SSE={"op": "Exists"})]},
            {"matchFeatures": [term("cpu.cpuid", AVX512F={"op": "Exists"})]},
        ],
    }
    assert labels_of(rule, BASE) == {f"{FNS}/has-AVX2": "true", f"{FNS}/has-AVX512F": "true"}


@pytest.mark.parametrize(
    "template",
    ["no-equals-line", "{{ .pci.nothere }}x=1", "{{ with .pci }}x=1{{ end }}", '{{ env "HOME" }}=1'],
    ids=["line-without-equals", "missing-key", "unsupported-action", "unknown-function"],
)
def test_template_error_skips_rule(template: str) -> None:
    out = evaluate_rules(
        [
            nfr(
                "r",
                {
                    "name": "t",
                    "labelsTemplate": template,
                    "labels": {"x": "1"},
                    "matchFeatures": [{"feature": "pci.device"}],
                },
                {"name": "ok", "labels": {"ok": "1"}},
            )
        ],
        BASE,
    )
    assert out.labels == {f"{FNS}/ok": "1"}
    assert any("'t'" in w for w in out.warnings)


def test_vars_feed_back_but_are_not_labels() -> None:
    out = evaluate_rules(
        [
            nfr(
                "r",
                {
                    "name": "v",
                    "varsTemplate": "{{range .kernel.version}}k-{{.Name}}={{.Value}}\n{{end}}",
                    "matchFeatures": [term("kernel.version", major={"op": "Exists"})],
                },
                {
                    "name": "use",
                    "labels": {"kernel5": "true"},
                    "matchFeatures": [term("rule.matched", **{"k-major": {"op": "In", "value": ["5"]}})],
                },
            )
        ],
        BASE,
    )
    assert out.labels == {f"{FNS}/kernel5": "true"}


def test_extended_resources_with_at_value_injection() -> None:
    feats = Features(attributes={"npu.info": {"count": "8", "bad": "many"}})
    out = evaluate_rules(
        [
            nfr(
                "r",
                {
                    "name": "er",
                    "extendedResources": {
                        "npu": "@npu.info.count",
                        "example.com/fixed": "2",
                        "kubernetes.io/x": "1",
                        "broken": "@npu.info.bad",
                        "gone": "@npu.info.missing",
                    },
                    "labels": {"npu-count": "@npu.info.count"},
                },
            )
        ],
        feats,
    )
    assert out.extended_resources == {f"{FNS}/npu": "8", "example.com/fixed": "2"}
    assert out.labels == {f"{FNS}/npu-count": "8"}
    assert len(out.warnings) == 3


def test_taints_require_prefix_and_allowed_namespace() -> None:
    out = evaluate_rules(
        [
            nfr(
                "r",
                {
                    "name": "t",
                    "taints": [
                        {"key": "example.com/npu", "value": "true", "effect": "NoSchedule"},
                        {"key": f"{FNS}/special", "effect": "PreferNoSchedule"},
                        {"key": "unprefixed", "effect": "NoSchedule"},
                        {"key": "node.kubernetes.io/x", "effect": "NoSchedule"},
                        {"key": "example.com/bad-effect", "effect": "Sometimes"},
                    ],
                },
                {
                    "name": "dup",
                    "taints": [{"key": "example.com/npu", "value": "again", "effect": "NoSchedule"}],
                },
            )
        ],
        Features(),
    )
    assert out.taints == [
        {"key": "example.com/npu", "value": "again", "effect": "NoSchedule"},
        {"key": f"{FNS}/special", "effect": "PreferNoSchedule"},
    ]
    assert len(out.warnings) == 3


def test_annotations_prefixed_and_filtered_only_when_rule_matches() -> None:
    rule = {
        "name": "a",
        "annotations": {"note": "hello world", "kubernetes.io/x": "no"},
        "matchFeatures": [term("cpu.cpuid", AVX2={"op": "Exists"})],
    }
    out = evaluate_rules([nfr("r", rule)], BASE)
    assert out.annotations == {f"{FNS}/note": "hello world"}
    assert evaluate_rules([nfr("r", rule)], Features()).annotations == {}


def test_evaluate_does_not_mutate_features() -> None:
    feats = BASE.copy()
    before = feats.to_spec()
    evaluate_rules([nfr("r", {"name": "a", "labels": {"x": "1"}})], feats)
    assert feats.to_spec() == before and "rule.matched" not in feats.attributes


def test_malformed_rule_objects_are_reported() -> None:
    rules = compile_rules(
        [
            {"metadata": {"name": "bad"}, "spec": {"rules": "nope"}},
            nfr("ok", {"name": "r", "labels": {"a": "1"}}, "not-a-rule"),
        ]
    )
    assert len(rules.compile_warnings) == 2
    assert rules.evaluate(Features()).labels == {f"{FNS}/a": "1"}
