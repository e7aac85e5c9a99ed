"""NodeFeatureRule controller benchmark (issue 3): 5,000 simulated nodes x 50 rules, in-process.

Run: ``python -m bench nfd_controller [--nodes N] [--rules R]``; prints markdown.

Stack: Registry + Store(data_dir=None) + ApiService + LocalClient, as ``suanli up`` builds it.
Nodes cycle through the demo profiles; the reporter publishes one NodeFeature per node. The
rule set is the example Ascend/KAE rule object plus R-1 synthetic objects (each one rule
matching the CPU vendor of one profile family and labelling it).

Measured:
1. engine only: compile R rule objects once, evaluate all nodes' features (no API);
2. reporter: time until every node has its NodeFeature;
3. rule controller, cold: time until every node carries its labels (evaluate + patch all);
4. rule change: edit one rule that matches a fifth of the nodes; time to converge, with the
   number of evaluations (all nodes) and node patches (only the nodes whose outputs changed).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import time
from pathlib import Path
from typing import Any

import yaml

from bench._common import machine_info
from suanli.apimachinery.gvr import GVR
from suanli.apimachinery.objects import Obj
from suanli.apiserver.service import ApiService
from suanli.client.local import LocalClient
from suanli.kinds.builtin import builtin_resource_types
from suanli.kinds.registry import Registry
from suanli.node.demo import simulated_node
from suanli.node.nfd import Features, compile_rules
from suanli.node.nfd.controller import NodeFeatureReporter, NodeFeatureRuleController
from suanli.node.nfd.crds import NODE_FEATURE_RULES, ensure_crds, nfd_crds
from suanli.node.profiles import load_profile
from suanli.storage import Store

NODES = GVR("", "v1", "nodes", namespaced=False)
PROFILES = ["ascend-910b", "kunpeng-920-kae", "nvidia-a100", "gpushare-t4", "manycore-256"]
EXAMPLE = Path(__file__).resolve().parent.parent / "examples" / "nfd-rules-ascend-kae.yaml"


def synthetic_rule(i: int, vendor: str) -> Obj:
    return {"apiVersion": "nfd.k8s-sigs.io/v1alpha1", "kind": "NodeFeatureRule",
            "metadata": {"name": f"bench-{i:03d}"},
            "spec": {"rules": [{
                "name": f"r{i}", "labels": {f"bench.example.com/r{i}": "true"},
                "matchFeatures": [
                    {"feature": "cpu.model", "matchExpressions": {"vendor_id": {"op": "In", "value": [vendor]}}},
                    {"feature": "kernel.version", "matchExpressions": {"major": {"op": "Ge", "value": ["4"]}}},
                ]}]}}


def rule_objects(count: int) -> list[Obj]:
    vendors = ["HiSilicon", "AMD", "Intel"]
    out = [yaml.safe_load(EXAMPLE.read_text())]
    out += [synthetic_rule(i, vendors[i % len(vendors)]) for i in range(count - 1)]
    return out


async def wait_idle(ctl: Any) -> float:
    """Poll until the controller's queue has been empty for 0.3 s; return when it was last busy."""
    last_busy = time.perf_counter()
    while time.perf_counter() - last_busy < 0.3:
        await asyncio.sleep(0.005)
        if len(ctl.queue) or ctl.queue.processing or ctl.queue.delayed:
            last_busy = time.perf_counter()
    return last_busy


async def main(nodes: int, rules: int) -> None:
    print(f"# NodeFeatureRule controller: {nodes:,} nodes x {rules} rule objects\n")
    print("machine: " + ", ".join(f"{k}={v}" for k, v in machine_info().items()) + "\n")
    objs = rule_objects(rules)

    feats = [Features.from_spec(load_profile(PROFILES[i % len(PROFILES)]).features) for i in range(nodes)]
    t0 = time.perf_counter()
    compiled = compile_rules(objs)
    t1 = time.perf_counter()
    for f in feats:
        compiled.evaluate(f)
    t2 = time.perf_counter()
    print("| step | time | notes |\n|---|---:|---|")
    print(f"| engine: compile {rules} objects | {(t1 - t0) * 1e3:.1f} ms | {len(compiled)} rules |")
    print(f"| engine: evaluate {nodes:,} nodes | {(t2 - t1) * 1e3:.0f} ms | "
          f"{(t2 - t1) / nodes * 1e6:.0f} us/node |")

    registry = Registry()
    registry.add_all(builtin_resource_types())
    store = Store(None)
    await store.start()
    service = ApiService(store, registry)
    client = LocalClient(service)
    await ensure_crds(client, nfd_crds())
    for i in range(nodes):
        await client.create(NODES, simulated_node(f"node-{i:05d}", PROFILES[i % len(PROFILES)]))

    rep = NodeFeatureReporter(client)
    t0 = time.perf_counter()
    rep_task = asyncio.create_task(rep.run())
    await rep.ready.wait()
    done = await wait_idle(rep)
    print(f"| reporter: publish {nodes:,} NodeFeatures | {done - t0:.2f} s | |")

    for o in objs:
        await client.create(NODE_FEATURE_RULES, o)
    ctl = NodeFeatureRuleController(client)
    cpu0, t0 = time.process_time(), time.perf_counter()
    ctl_task = asyncio.create_task(ctl.run())
    await ctl.ready.wait()
    done = await wait_idle(ctl)
    s = ctl.stats
    print(f"| controller cold start: label {nodes:,} nodes | {done - t0:.2f} s "
          f"(cpu {time.process_time() - cpu0:.2f} s incl. 0.3 s idle check) | {s.evaluations:,} evaluations, "
          f"{s.node_patches:,} node patches |")

    # change one rule that matches the ascend nodes only (a fifth of the pool)
    ev0, np0 = s.evaluations, s.node_patches
    rule = await client.get(NODE_FEATURE_RULES, "ascend-npu-kae")
    edited = dict(rule)
    spec = {"rules": [dict(r) for r in rule["spec"]["rules"]]}
    spec["rules"][0]["labels"] = {**spec["rules"][0]["labels"], "bench.example.com/edited": "yes"}
    edited["spec"] = spec
    cpu0, t0 = time.process_time(), time.perf_counter()
    await client.update(NODE_FEATURE_RULES, edited)
    done = await wait_idle(ctl)
    print(f"| rule change: converge | {done - t0:.2f} s (cpu {time.process_time() - cpu0:.2f} s) "
          f"| {s.evaluations - ev0:,} evaluations, {s.node_patches - np0:,} node patches "
          f"(expected {len(range(0, nodes, len(PROFILES))):,}) |")

    for c in (ctl, rep):
        await c.stop()
    await asyncio.gather(ctl_task, rep_task)
    await service.drain_background()
    await store.stop()


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--nodes", type=int, default=5000)
    ap.add_argument("--rules", type=int, default=50)
    args = ap.parse_args()
    sys.setrecursionlimit(max(sys.getrecursionlimit(), 10_000))
    os.environ.setdefault("PYTHONHASHSEED", "0")
    asyncio.run(main(args.nodes, args.rules))
