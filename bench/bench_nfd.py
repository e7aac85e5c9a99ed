"""NodeFeatureRule evaluation: 5,000 synthetic nodes x 50 rules.

Run: ``.venv/bin/python bench/bench_nfd.py`` -- prints a markdown table
(median of 5 runs; compile time separately).
"""

from __future__ import annotations

import random
import statistics
import time
from typing import Any

from suanli.apimachinery.objects import Obj
from suanli.node.nfd import Features, compile_rules, default_labels

NODES = 5_000
RUNS = 5


def _x86(gpu: dict[str, str] | None, n_gpu: int, rng: random.Random) -> Features:
    flags = {
        "SSE4",
        "SSE42",
        "AVX",
        "AVX2",
        "FMA3",
        "AESNI",
        "AVX512F",
        "AVX512BW",
        "AVX512VNNI",
        "HYPERVISOR",
    }
    if rng.random() < 0.3:
        flags |= {"AMXTILE", "AMXBF16", "AMXINT8"}
    pci = [{"class": "0200", "vendor": "8086", "device": "1572", "sriov_totalvfs": "64"}]
    pci += [
        {"class": "0106", "vendor": "8086", "device": "a352"},
        {"class": "0c03", "vendor": "8086", "device": "a36d"},
    ]
    pci += [dict(gpu) for _ in range(n_gpu)] if gpu else []
    minor = str(rng.choice([4, 10, 15]))
    return Features(
        flags={
            "cpu.cpuid": flags,
            "kernel.loadedmodule": {"nvidia", "nvidia_uvm", "ip_tables", "overlay"}
            if gpu
            else {"ip_tables", "overlay"},
        },
        attributes={
            "cpu.model": {"vendor_id": "Intel", "family": "6", "id": "143"},
            "cpu.topology": {
                "hardware_multithreading": "true",
                "socket_count": "2",
                "core_count": "96",
                "cpu_count": "192",
            },
            "kernel.version": {
                "full": f"5.{minor}.0-91-generic",
                "major": "5",
                "minor": minor,
                "revision": "0",
            },
            "system.osrelease": {
                "ID": "ubuntu",
                "VERSION_ID": "22.04",
                "VERSION_ID.major": "22",
                "VERSION_ID.minor": "04",
            },
            "memory.numa": {"is_numa": "true", "node_count": "2"},
            "local.label": {"rack": f"r{rng.randrange(40)}"},
        },
        instances={"pci.device": pci, "usb.device": []},
    )


def _kunpeng(npus: int, kae: bool) -> Features:
    pci = [
        {
            "class": "1200",
            "vendor": "19e5",
            "device": "d802",
            "subsystem_vendor": "19e5",
            "subsystem_device": "3000",
        }
        for _ in range(npus)
    ]
    mods = {"hinic", "overlay"}
    if kae:
        pci += [{"class": "1000", "vendor": "19e5", "device": d} for d in ("a258", "a255")] + [
            {"class": "1200", "vendor": "19e5", "device": "a250"}
        ]
        mods |= {"hisi_qm", "uacce", "hisi_hpre", "hisi_sec2", "hisi_zip"}
    if npus:
        mods |= {"drv_davinci_intf", "ascend_event_sched"}
    return Features(
        flags={
            "cpu.cpuid": {"FP", "ASIMD", "AES", "PMULL", "SHA1", "SHA2", "CRC32", "ATOMICS"},
            "kernel.loadedmodule": mods,
        },
        attributes={
            "cpu.model": {"vendor_id": "HiSilicon", "family": "8", "id": "3329"},
            "cpu.topology": {
                "hardware_multithreading": "false",
                "socket_count": "4",
                "core_count": "192",
                "cpu_count": "192",
            },
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
            "local.label": {},
        },
        instances={
            "pci.device": [*pci, {"class": "0200", "vendor": "19e5", "device": "0222"}],
            "usb.device": [],
        },
    )


def make_nodes(n: int, seed: int = 1) -> list[Features]:
    rng = random.Random(seed)
    a100 = {"class": "0302", "vendor": "10de", "device": "20b2"}
    t4 = {"class": "0302", "vendor": "10de", "device": "1eb8"}
    makers = [
        lambda: _kunpeng(8, False),
        lambda: _kunpeng(0, True),
        lambda: _x86(a100, 8, rng),
        lambda: _x86(t4, 4, rng),
        lambda: _x86(None, 0, rng),
    ]
    return [makers[i % len(makers)]() for i in range(n)]


def _t(feature: str, **exprs: dict[str, Any]) -> dict[str, Any]:
    return {"feature": feature, "matchExpressions": exprs}


def make_rules() -> list[Obj]:
    """50 rules in 5 objects, a realistic mix (PCI, CPUID, kernel, templates, back-references)."""
    rules: list[dict[str, Any]] = []
    for dev, name in (
        ("d100", "310"),
        ("d500", "310p"),
        ("d801", "910"),
        ("d802", "910b"),
        ("d803", "910-93"),
    ):
        rules.append(
            {
                "name": f"ascend-{name}",
                "labels": {f"huawei.com/ascend-{name}.present": "true"},
                "matchFeatures": [
                    _t(
                        "pci.device",
                        vendor={"op": "In", "value": ["19e5"]},
                        device={"op": "In", "value": [dev]},
                    )
                ],
            }
        )
    for mod in ("hisi_hpre", "hisi_sec2", "hisi_zip"):
        rules.append(
            {
                "name": f"kae-{mod}",
                "labels": {f"openfuyao.com/kae.{mod}": "true"},
                "matchFeatures": [_t("kernel.loadedmodule", **{mod: {"op": "Exists"}})],
            }
        )
    for dev, name in (("20b2", "a100"), ("2330", "h100"), ("1eb8", "t4"), ("1db4", "v100")):
        rules.append(
            {
                "name": f"nvidia-{name}",
                "labels": {"nvidia.com/gpu.product": name},
                "extendedResources": {"example.com/gpu-slots": "8"},
                "matchFeatures": [
                    _t(
                        "pci.device",
                        vendor={"op": "In", "value": ["10de"]},
                        device={"op": "In", "value": [dev]},
                        **{"class": {"op": "InRegexp", "value": ["^03"]}},
                    )
                ],
            }
        )
    for flag in ("AVX512F", "AVX512VNNI", "AMXTILE", "AVX2", "SHA2", "ATOMICS", "SVE", "AVX512FP16"):
        rules.append(
            {
                "name": f"cpu-{flag}",
                "labels": {f"cpu-{flag.lower()}": "true"},
                "matchFeatures": [_t("cpu.cpuid", **{flag: {"op": "Exists"}})],
            }
        )
    for minor in range(8):
        rules.append(
            {
                "name": f"kernel-ge-5-{minor * 2}",
                "labels": {f"kernel-ge-5.{minor * 2}": "true"},
                "matchFeatures": [
                    _t(
                        "kernel.version",
                        major={"op": "Ge", "value": ["5"]},
                        minor={"op": "Ge", "value": [str(minor * 2)]},
                    )
                ],
            }
        )
    for os_id in ("ubuntu", "openEuler", "centos", "debian"):
        rules.append(
            {
                "name": f"os-{os_id}",
                "labels": {"os-family": os_id},
                "matchFeatures": [
                    _t("system.osrelease", ID={"op": "In", "value": [os_id]}, VERSION_ID={"op": "Exists"})
                ],
            }
        )
    rules.append(
        {
            "name": "numa",
            "labels": {"numa-multi": "true"},
            "matchFeatures": [_t("memory.numa", node_count={"op": "Gt", "value": ["2"]})],
        }
    )
    rules.append(
        {
            "name": "many-core",
            "labels": {"many-core": "true"},
            "matchFeatures": [_t("cpu.topology", core_count={"op": "GeLe", "value": ["128", "1024"]})],
        }
    )
    rules.append(
        {
            "name": "kernel-version",
            "labels": {"kernel-new": "true"},
            "matchFeatures": [
                _t("kernel.version", full={"op": "Gt", "value": ["5.10.0"], "type": "version"})
            ],
        }
    )
    rules.append(
        {
            "name": "accelerated",
            "labels": {"accelerated": "true"},
            "matchAny": [
                {
                    "matchFeatures": [
                        _t("rule.matched", **{"huawei.com/ascend-910b.present": {"op": "IsTrue"}})
                    ]
                },
                {"matchFeatures": [_t("rule.matched", **{"nvidia.com/gpu.product": {"op": "Exists"}})]},
            ],
        }
    )
    rules.append(
        {
            "name": "pci-template",
            "labelsTemplate": (
                "{{ range .pci.device }}pci-{{ .class }}_{{ .vendor }}_{{ .device }}.present=true\n{{ end }}"
            ),
            "matchFeatures": [_t("pci.device", **{"class": {"op": "InRegexp", "value": ["^(03|12)"]}})],
        }
    )
    rules.append(
        {
            "name": "cpu-template",
            "labelsTemplate": "{{ range .cpu.cpuid }}isa-{{ .Name | lower }}=true\n{{ end }}",
            "matchFeatures": [
                {"feature": "cpu.cpuid", "matchName": {"op": "InRegexp", "value": ["^AVX512"]}}
            ],
        }
    )
    rules.append(
        {
            "name": "rack",
            "labels": {"rack": "@local.label.rack"},
            "matchFeatures": [_t("local.label", rack={"op": "Exists"})],
        }
    )
    rules.append(
        {
            "name": "taint-npu",
            "taints": [{"key": "huawei.com/npu", "value": "true", "effect": "NoSchedule"}],
            "matchFeatures": [_t("rule.matched", **{"huawei.com/ascend-910b.present": {"op": "IsTrue"}})],
        }
    )
    rules.append(
        {
            "name": "not-gpu",
            "labels": {"cpu-only": "true"},
            "matchFeatures": [_t("rule.matched", accelerated={"op": "DoesNotExist"})],
        }
    )
    rules.append({"name": "always", "labels": {"managed-by-suanli": "true"}})
    simple = [
        ("sriov", "pci.device", {"sriov_totalvfs": {"op": "Gt", "value": ["0"]}}),
        ("intel", "cpu.model", {"vendor_id": {"op": "In", "value": ["Intel"]}}),
        (
            "kunpeng",
            "cpu.model",
            {"vendor_id": {"op": "In", "value": ["HiSilicon"]}, "id": {"op": "In", "value": ["3329"]}},
        ),
        (
            "nvidia-driver",
            "kernel.loadedmodule",
            {"nvidia": {"op": "Exists"}, "nvidia_uvm": {"op": "Exists"}},
        ),
        ("os-recent", "system.osrelease", {"VERSION_ID.major": {"op": "Ge", "value": ["22"]}}),
        ("smt", "cpu.topology", {"hardware_multithreading": {"op": "IsTrue"}}),
        ("no-smt", "cpu.topology", {"hardware_multithreading": {"op": "IsFalse"}}),
        ("davinci", "kernel.loadedmodule", {"drv_davinci_intf": {"op": "Exists"}}),
    ]
    for name, feature, exprs in simple:
        rules.append(
            {
                "name": name,
                "labels": {name: "true"},
                "vars": {f"v-{name}": "1"},
                "matchFeatures": [_t(feature, **exprs)],
            }
        )
    assert len(rules) == 50, len(rules)
    return [
        {
            "apiVersion": "nfd.k8s-sigs.io/v1alpha1",
            "kind": "NodeFeatureRule",
            "metadata": {"name": f"rules-{i}"},
            "spec": {"rules": rules[i * 10 : (i + 1) * 10]},
        }
        for i in range(5)
    ]


def main() -> None:
    nodes = make_nodes(NODES)
    objs = make_rules()
    t0 = time.perf_counter()
    ruleset = compile_rules(objs)
    compile_s = time.perf_counter() - t0
    assert not ruleset.compile_warnings, ruleset.compile_warnings
    times = []
    labels_total = 0
    for _ in range(RUNS):
        t0 = time.perf_counter()
        outs = [ruleset.evaluate(f) for f in nodes]
        times.append(time.perf_counter() - t0)
        labels_total = sum(len(o.labels) for o in outs)
        assert not any(o.warnings for o in outs)
    t0 = time.perf_counter()
    for f in nodes:
        default_labels(f)
    defaults_s = time.perf_counter() - t0
    med = statistics.median(times)
    print(f"| NFD rule evaluation ({NODES:,} nodes x {len(ruleset)} rules) | value |")
    print("|---|---|")
    print(f"| compile 50 rules | {compile_s * 1e3:.2f} ms |")
    print(f"| evaluate all nodes, median of {RUNS} | {med:.3f} s |")
    print(f"| per node | {med / NODES * 1e6:.0f} µs |")
    print(f"| per rule evaluation | {med / NODES / len(ruleset) * 1e6:.2f} µs |")
    print(f"| labels produced per run | {labels_total:,} |")
    print(f"| default_labels for all nodes | {defaults_s:.3f} s |")


if __name__ == "__main__":
    main()
