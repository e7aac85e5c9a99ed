"""Memory soak: many short pod lifecycles through the whole embedded stack; does RSS come back?

Run: ``.venv/bin/python -m bench soak`` (1,000 simulated nodes, 10,000 warm-up and 200,000
measured lifecycles; about 50 min on a busy shared 2-core box) or ``--quick`` (200 nodes,
2,000 + 10,000 lifecycles). Writes the samples to ``--out`` (JSON) and, with ``--plot``, a
PNG of RSS over time; ``--replot`` redraws the PNG from the JSON.

One process runs what ``suanli up`` runs (:class:`suanli.cli.platform.Platform`: durable
SQLite store in a temporary directory, API service, HTTP server, every controller, the
scheduler, the simulated node agent; no demo pool, no host node). The bench creates
``--nodes`` Nodes annotated ``kwok.x-k8s.io/node: fake`` and waits until they are Ready. Then
each lifecycle is: the bench creates a plain pod (default scheduler, ``restartPolicy:
Never``, ``suanli.io/sim-duration``), the scheduler binds it, the agent reports it Running
and then Succeeded, and the bench deletes it when it sees Succeeded on its own store watch.
At most ``--inflight`` pods exist at a time.

RSS (``VmRSS``) is sampled every ``--sample`` seconds. Three samples matter: *idle* (nodes
Ready, no pod yet), *before* (after ``--warmup`` lifecycles and a settle) and *after* (after
the measured lifecycles and a settle). A settle waits for the Events' TTL (``--event-ttl``)
to expire them, compacts the store's log, then idles ``--settle`` seconds so the watch
windows' 75 s history, the managedFields parse cache and the platform's 60 s heap release
have all run. The acceptance figure is after / before (target: at most 1.2); after / idle
is reported too (the warm-up's one-off growth is mostly allocator fragmentation, see
docs/benchmarks.md).
"""

from __future__ import annotations

import argparse
import asyncio
import ctypes
import gc
import json
import sys
import tempfile
import time
import tracemalloc
from collections import Counter
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "src"))

from suanli.cli.platform import Platform, PlatformOptions
from suanli.node.agent.framework import NODES, PODS

try:  # a package when run as ``python -m bench soak``
    from bench._common import machine_info
except ImportError:  # pragma: no cover - run as a script
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
    from bench._common import machine_info


def rss_mib() -> float:
    """Resident set size of this process (``/proc/self/status`` VmRSS), MiB."""
    with open("/proc/self/status") as fh:
        for line in fh:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    raise RuntimeError("no VmRSS in /proc/self/status")


def rss_breakdown() -> dict[str, float]:
    """Resident MiB by mapping kind (``/proc/self/smaps``): ``heap`` is the brk heap (glibc's
    main arena: bytes and large containers allocated on the event loop), ``anon`` the anonymous
    mappings (CPython's 1 MiB small-object arenas, which the kernel merges when adjacent, glibc's
    per-thread arenas, large ``mmap``ed chunks, thread stacks), ``files`` file-backed mappings
    (code, SQLite's shared memory)."""
    out = {"heap": 0.0, "anon": 0.0, "files": 0.0}
    kind = "files"
    with open("/proc/self/smaps") as fh:
        for line in fh:
            first = line.split(None, 1)[0]
            if "-" in first and not first.endswith(":"):
                parts = line.split()
                path = parts[5] if len(parts) > 5 else ""
                kind = "heap" if path == "[heap]" else "anon" if path == "" or path.startswith("[") else "files"
            elif first == "Rss:":
                out[kind] += int(line.split()[1]) / 1024
    return {k: round(v, 1) for k, v in out.items()}


class _MallInfo2(ctypes.Structure):
    _fields_ = [(n, ctypes.c_size_t) for n in ("arena", "ordblks", "smblks", "hblks", "hblkhd", "usmblks",
                                               "fsmblks", "uordblks", "fordblks", "keepcost")]


def _mallinfo2() -> Any:
    try:
        fn = ctypes.CDLL("libc.so.6").mallinfo2
    except (OSError, AttributeError):
        return None
    fn.restype = _MallInfo2
    return fn


_MALLINFO2 = _mallinfo2()


def allocator_stats() -> dict[str, float]:
    """Where the heap bytes are, MiB: CPython's small-object allocator (``py_arenas``: its 1 MiB
    arenas mapped, ``py_used``: bytes in allocated blocks) and glibc's (``c_used``: bytes in use
    in its arenas, ``c_free``: free bytes kept inside them, ``c_mmap``: large chunks mapped on
    their own). ``py_arenas - py_used`` and ``c_free`` are fragmentation: memory the process
    keeps although nothing lives in it (resident unless trimmed or never touched)."""
    out: dict[str, float] = {}
    stats = _mallocstats_summary()
    for key, name in (("# arenas allocated current", "py_arenas"), ("# bytes in allocated blocks", "py_used")):
        if key in stats:
            value = int(stats[key].replace(",", ""))
            out[name] = round(value / 2**20 if name == "py_used" else value * 1.0, 1)
    if "py_arenas" in out:
        out["py_arenas"] = round(out["py_arenas"] * _ARENA_MIB, 1)
    if _MALLINFO2 is not None:
        mi = _MALLINFO2()
        out.update(c_used=round(mi.uordblks / 2**20, 1), c_free=round(mi.fordblks / 2**20, 1),
                   c_mmap=round(mi.hblkhd / 2**20, 1))
    return out


_ARENA_MIB = 1.0  # CPython 3.10+ on 64-bit: 1 MiB arenas


async def wait_until(pred: Any, timeout: float, poll: float = 0.5) -> None:
    start = time.monotonic()
    while not pred():
        if time.monotonic() - start > timeout:
            raise TimeoutError("benchmark condition not reached")
        await asyncio.sleep(poll)


def structure_sizes(p: Platform) -> dict[str, Any]:
    """Sizes of the structures that can grow with churn (for the report and ``--diagnose``)."""
    store = p.store
    out: dict[str, Any] = {
        "objects": {b: store.count(b) for b in store.buckets()},
        "windows": store.window_lengths(),
        "informers": {f"{i.gvr.group}/{i.gvr.resource}".lstrip("/"): len(i) for i in p.informers.informers()},
    }
    return out


class Soak:
    def __init__(self, a: argparse.Namespace) -> None:
        self.a = a
        self.samples: list[dict[str, Any]] = []
        self.phase = "start"
        self.created = 0
        self.done = 0
        self.t0 = time.monotonic()
        self.snap_before: Any = None
        self.peak_growth: list[str] = []

    def sample(self, p: Platform) -> dict[str, Any]:
        s = {"t": round(time.monotonic() - self.t0, 2), "rss_mib": round(rss_mib(), 1), "phase": self.phase,
             "created": self.created, "deleted": self.done, "pods": p.store.count("pods"),
             "events": p.store.count("events"),
             "window_events": sum(p.store.window_lengths().values()),
             "window_mib": round(sum(p.store.window_bytes().values()) / 2**20, 1),
             "watch_queued": sum(len(w._queue) for win in p.store._windows.values() for w in win.watchers),
             "py_blocks": sys.getallocatedblocks(), "rss_by_kind": rss_breakdown(),
             "allocators": allocator_stats()}
        self.samples.append(s)
        return s

    async def sampler(self, p: Platform) -> None:
        while True:
            s = self.sample(p)
            if (self.snap_before is not None and not self.peak_growth and self.phase == "soak"
                    and s["pods"] >= self.a.inflight * 0.9 and self.done >= self.a.lifecycles // 3):
                # what the in-flight pods hold (``--tracemalloc``): growth over *before*
                self.peak_growth = [str(st) for st in tracemalloc.take_snapshot().compare_to(
                    self.snap_before, "lineno")[:40]]
            if self.a.verbose:
                print(json.dumps(s), file=sys.stderr, flush=True)
            await asyncio.sleep(self.a.sample)

    async def run(self) -> dict[str, Any]:
        a = self.a
        data = Path(tempfile.mkdtemp(prefix="bench-soak-"))
        p = Platform(PlatformOptions(port=0, data_dir=data, kubeconfig=None, tls=False, anonymous=True,
                                     demo=False, host_node=False, event_ttl=a.event_ttl))
        await p.start()
        if a.window_fresh is not None:  # diagnosis only: a shorter watch-window history
            p.store._window_fresh = a.window_fresh
        if a.window_budget is not None:  # diagnosis only: a byte budget per watch window
            p.store._window_bytes = int(a.window_budget * 2**20)
            for win in p.store._windows.values():
                win.budget = p.store._window_bytes
        client = p.client
        sampler = asyncio.create_task(self.sampler(p))
        try:
            # -- nodes
            self.phase = "nodes"
            names = [f"soak-{i:05d}" for i in range(a.nodes)]
            for i in range(0, a.nodes, 250):
                await asyncio.gather(*(client.create(NODES, {
                    "apiVersion": "v1", "kind": "Node",
                    "metadata": {"name": n, "annotations": {"kwok.x-k8s.io/node": "fake"}}})
                    for n in names[i:i + 250]))

            def ready() -> int:
                return len(p.store.list("nodes", predicate=lambda n: any(
                    c.get("type") == "Ready" and c.get("status") == "True"
                    for c in (n.get("status") or {}).get("conditions") or [])).items)

            await wait_until(lambda: ready() >= a.nodes, 900, poll=1.0)
            self.phase = "idle-before"
            await asyncio.sleep(a.idle)
            gc.collect()
            cold = self.sample(p)
            snap0 = None
            if a.warmup:
                self.phase = "warm-up"
                await self._lifecycles(p, "warm", a.warmup)
                await self._settle(p)
            gc.collect()
            snap0 = tracemalloc.take_snapshot() if tracemalloc.is_tracing() else None
            self.snap_before = snap0
            before = self.sample(p)
            sizes_before = structure_sizes(p)

            # -- soak
            self.phase = "soak"
            t_soak = time.monotonic()
            stop_at = t_soak + a.soak_limit if a.soak_limit else None
            soaked = await self._lifecycles(p, "soak", a.lifecycles, stop_at)
            soak_s = time.monotonic() - t_soak
            await self._settle(p)
            gc.collect()
            after = self.sample(p)
            sizes_after = structure_sizes(p)
            diag: dict[str, Any] = {}
            if a.diagnose:
                diag = diagnose()
            if snap0 is not None:
                diag["tracemalloc_peak_growth"] = self.peak_growth
                diag["tracemalloc_growth"] = [
                    str(st) for st in tracemalloc.take_snapshot().compare_to(snap0, "lineno")[:30]]
        finally:
            sampler.cancel()
            await p.stop()
        return {
            "machine": machine_info(), "args": vars(a), "samples": self.samples,
            "cold": cold, "before": before, "after": after,
            "ratio": round(after["rss_mib"] / before["rss_mib"], 3),
            "ratio_cold": round(after["rss_mib"] / cold["rss_mib"], 3),
            "peak_mib": max(s["rss_mib"] for s in self.samples),
            "soak_seconds": round(soak_s, 1), "lifecycles_per_s": round(soaked / soak_s, 1),
            "lifecycles_done": soaked,
            "sizes_before": sizes_before, "sizes_after": sizes_after, "diagnose": diag,
        }

    async def _settle(self, p: Platform) -> None:
        """Idle until the Events' TTL has run, compact the log, then idle ``--settle`` seconds."""
        self.phase = "settle"
        await asyncio.sleep(self.a.event_ttl + 15)
        await p.store.compact()
        t_settle = time.monotonic()
        while time.monotonic() - t_settle < self.a.settle:
            await asyncio.sleep(self.a.sample)

    async def _lifecycles(self, p: Platform, prefix: str, count: int, stop_at: float | None = None) -> int:
        """Run ``count`` lifecycles (fewer if ``stop_at``, a monotonic time, passes first: no
        pod is created after it and the ones in flight finish); returns how many ran."""
        a = self.a
        target = [count]
        done0 = self.done
        client = p.client
        store = p.store
        slots = asyncio.Semaphore(a.inflight)
        ann = {"suanli.io/sim-duration": a.duration}
        to_delete: asyncio.Queue[str] = asyncio.Queue()
        watcher = store.watch("pods", since_rv=store.revision)
        finished = asyncio.Event()

        async def consume() -> None:
            async for ev in watcher:
                if ev.type == "DELETED":
                    self.done += 1
                    slots.release()
                    if self.done - done0 >= target[0]:
                        finished.set()
                        return
                    continue
                obj = ev.obj.obj
                if ((obj.get("status") or {}).get("phase") == "Succeeded"
                        and not (obj["metadata"].get("deletionTimestamp"))):
                    prev = ev.prev.obj if ev.prev is not None else {}
                    if (prev.get("status") or {}).get("phase") != "Succeeded":
                        to_delete.put_nowait(obj["metadata"]["name"])

        async def delete() -> None:
            while True:
                batch = [await to_delete.get()]
                while not to_delete.empty() and len(batch) < 200:
                    batch.append(to_delete.get_nowait())
                await asyncio.gather(*(client.delete(PODS, n, "default") for n in batch),
                                     return_exceptions=True)

        async def create() -> None:
            batch = 100
            for start in range(0, count, batch):
                if stop_at is not None and time.monotonic() > stop_at:
                    target[0] = start
                    if self.done - done0 >= start:
                        finished.set()
                    return
                n = min(batch, count - start)
                for _ in range(n):
                    await slots.acquire()
                await asyncio.gather(*(client.create(PODS, {
                    "apiVersion": "v1", "kind": "Pod",
                    "metadata": {"name": f"{prefix}-{j:07d}", "namespace": "default", "annotations": ann,
                                 "labels": {"app": "soak"}},
                    "spec": {"restartPolicy": "Never",
                             "containers": [{"name": "c", "image": "busybox",
                                             "resources": {"requests": {"cpu": "10m", "memory": "16Mi"}}}]}},
                    "default") for j in range(start, start + n)))
                self.created += n

        tasks = [asyncio.create_task(f()) for f in (consume, delete, create)]
        try:
            await finished.wait()
        finally:
            for t in tasks:
                t.cancel()
            watcher.close()
            await asyncio.gather(*tasks, return_exceptions=True)
        return target[0]


def diagnose() -> dict[str, Any]:
    """The most numerous live object types (after a full collection)."""
    import ctypes

    rss0 = rss_mib()
    gc.unfreeze()  # the platform freezes survivors; count them too
    freed = gc.collect()
    rss1 = rss_mib()
    ctypes.CDLL("libc.so.6").malloc_trim(0)
    rss2 = rss_mib()
    objs = gc.get_objects()
    counts = Counter(type(o).__name__ for o in objs)
    pods = [o for o in objs if type(o) is dict and o.get("kind") == "Pod"
            and str((o.get("metadata") or {}).get("name", "")).startswith(("soak-", "warm-"))]
    chains: list[list[str]] = []
    ignore = {id(objs), id(pods), id(chains)}
    for pod in pods[:: max(1, len(pods) // 5)][:5]:
        chain: list[str] = []
        cur: Any = pod
        seen = {id(pod)}
        for _ in range(8):
            refs = [r for r in gc.get_referrers(cur)
                    if id(r) not in ignore and id(r) not in seen and type(r).__name__ not in ("frame", "list_iterator")]
            if not refs:
                break
            cur = refs[0]
            seen.add(id(cur))
            desc = type(cur).__name__
            if isinstance(cur, dict):
                desc += "{" + ",".join(map(str, list(cur)[:5])) + "}"
            elif isinstance(cur, (list, tuple)):
                desc += f"[{len(cur)}]"
            chain.append(f"{desc}(+{len(refs) - 1})")
        chains.append(chain)
    sparse = _sparse_arenas(objs)
    # Python dicts never shrink: tables sized for the peak and now mostly empty
    oversized = sorted(((sys.getsizeof(o), len(o), _describe(o)) for o in objs
                        if type(o) is dict and sys.getsizeof(o) > 32 * 1024), reverse=True)
    del objs
    return {"pymalloc": _mallocstats_summary(), "sparse_arenas": sparse, "leaked_pods": len(pods),
            "big_dicts": {"count": len(oversized), "kib": round(sum(x[0] for x in oversized) / 1024),
                          "largest": [f"{size // 1024} KiB, {n} keys: {what}" for size, n, what in oversized[:25]]},
            "leak_chains": chains,
            "gc_objects_top": counts.most_common(25),
            "gc_garbage": len(gc.garbage), "gc_freed": freed,
            "rss_before_full_gc": rss0, "rss_after_full_gc": rss1, "rss_after_malloc_trim": rss2,
            "py_blocks": sys.getallocatedblocks()}


def _describe(d: dict[Any, Any]) -> str:
    """A dict's first keys and who refers to it (type names), for the census."""
    keys = ",".join(repr(k)[:40] for k in list(d)[:3])
    owners = ",".join(sorted({type(r).__name__ for r in gc.get_referrers(d)})[:4])
    return f"keys {keys} held by {owners}"


def _sparse_arenas(objs: list[Any]) -> dict[str, Any]:
    """What pins mostly-empty CPython arenas: live small objects (the collector's containers and
    what they refer to directly, each at most 512 bytes) binned by 1 MiB of address; for the
    bins holding less than 128 KiB, the object types that are there and a few examples."""
    live: dict[int, Any] = {}
    for o in objs:
        live[id(o)] = o
        for r in gc.get_referents(o):
            live[id(r)] = r
    bins: dict[int, list[Any]] = {}
    used: Counter[int] = Counter()
    for addr, o in live.items():
        size = sys.getsizeof(o)
        if size <= 512:
            used[addr >> 20] += size
            bins.setdefault(addr >> 20, []).append(o)
    sparse = [b for b, n in used.items() if n < 128 * 1024 and len(bins[b]) > 0]
    types: Counter[str] = Counter()
    examples: list[str] = []
    for b in sparse:
        for o in bins[b]:
            types[type(o).__name__] += 1
        for o in bins[b][:2]:
            examples.append(repr(o)[:160])
    return {"bins": len(used), "sparse_bins": len(sparse),
            "sparse_live_kib": round(sum(used[b] for b in sparse) / 1024),
            "sparse_types": types.most_common(20), "examples": examples[:60]}


def _mallocstats_summary() -> dict[str, str]:
    """The arena/pool totals of ``sys._debugmallocstats()`` (it writes to the C stderr)."""
    import os

    with tempfile.TemporaryFile(mode="w+") as tmp:
        sys.stderr.flush()
        saved = os.dup(2)
        os.dup2(tmp.fileno(), 2)
        try:
            sys._debugmallocstats()
        finally:
            os.dup2(saved, 2)
            os.close(saved)
        tmp.seek(0)
        lines = tmp.read().splitlines()
    keep = ("# arenas", "# bytes in", "Total", "# times object malloc")
    return {ln.split("=")[0].strip(): ln.split("=")[-1].strip() for ln in lines if ln.startswith(keep)}


def plot(result: dict[str, Any], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    samples = result["samples"]
    t = [s["t"] / 60 for s in samples]
    alloc = [s.get("allocators") or {} for s in samples]
    has_alloc = any("py_arenas" in x for x in alloc)
    if has_alloc:
        fig, (ax, ax3) = plt.subplots(2, 1, figsize=(9, 7.5), sharex=True, height_ratios=[3, 2])
    else:
        fig, ax = plt.subplots(figsize=(9, 4.5))
    ax.plot(t, [s["rss_mib"] for s in samples], color="tab:blue", label="RSS (MiB)")
    ax.axhline(result["before"]["rss_mib"] * 1.2, color="tab:red", linestyle="--", linewidth=1,
               label="120 % of RSS before the soak (after the warm-up)")
    ax.axhline(result["cold"]["rss_mib"], color="tab:gray", linestyle=":", linewidth=1,
               label="RSS idle before any pod")
    ax.set_xlabel("minutes since start")
    ax.set_ylabel("RSS (MiB)")
    ax2 = ax.twinx()
    ax2.plot(t, [s["deleted"] / 1000 for s in samples], color="tab:green", linewidth=1,
             label="lifecycles completed (thousands)")
    ax2.set_ylabel("lifecycles completed (thousands)")
    colours = {"warm-up": "0.95", "soak": "0.9", "settle": "0.82"}
    start = 0
    for i in range(1, len(samples) + 1):  # shade each contiguous run of one phase
        if i == len(samples) or samples[i]["phase"] != samples[start]["phase"]:
            colour = colours.get(samples[start]["phase"])
            if colour is not None:
                ax.axvspan(t[start], t[min(i, len(t) - 1)], color=colour, zorder=0)
            start = i
    lines = ax.get_legend_handles_labels()
    lines2 = ax2.get_legend_handles_labels()
    ax.legend(lines[0] + lines2[0], lines[1] + lines2[1], loc="upper left", fontsize=8)
    if has_alloc:
        for key, colour, label in (("py_arenas", "tab:purple", "CPython arenas mapped"),
                                   ("py_used", "tab:purple", "  of which in live blocks"),
                                   ("c_used", "tab:orange", "glibc heap in use (freed pages are trimmed)")):
            ax3.plot(t, [x.get(key, float("nan")) for x in alloc], color=colour,
                     linestyle="--" if key == "py_used" else "-", linewidth=1, label=label)
        ax3.set_ylabel("MiB")
        ax3.set_xlabel("minutes since start")
        ax3.legend(loc="upper left", fontsize=8)
        ax.set_xlabel("")
    a = result["args"]
    done = result.get("lifecycles_done", a["lifecycles"])
    ax.set_title(f"suanli up in-process: {done:,} pod lifecycles on {a['nodes']:,} simulated nodes "
                 f"(after/before = {result['ratio']:.2f})", fontsize=10)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="200 nodes, 10,000 lifecycles, short settle")
    ap.add_argument("--nodes", type=int)
    ap.add_argument("--warmup", type=int, help="lifecycles (then a settle) before the 'before' sample")
    ap.add_argument("--lifecycles", type=int)
    ap.add_argument("--inflight", type=int, default=2000, help="pods existing at once (default 2,000)")
    ap.add_argument("--duration", default="200ms", help="simulated run time of each pod")
    ap.add_argument("--event-ttl", type=float, default=30.0, help="Event TTL in seconds (default 30)")
    ap.add_argument("--soak-limit", type=float,
                    help="stop creating pods after this many seconds of soak (a loaded machine)")
    ap.add_argument("--idle", type=float, default=15.0, help="idle seconds before the 'before' sample")
    ap.add_argument("--settle", type=float, help="idle seconds after TTL and compaction")
    ap.add_argument("--sample", type=float, default=5.0, help="RSS sampling interval, seconds")
    ap.add_argument("--out", type=Path, default=Path("soak.json"))
    ap.add_argument("--plot", type=Path)
    ap.add_argument("--diagnose", action="store_true", help="also count live objects by type at the end")
    ap.add_argument("--window-fresh", type=float, help=argparse.SUPPRESS)
    ap.add_argument("--window-budget", type=float, help=argparse.SUPPRESS)
    ap.add_argument("--tracemalloc", action="store_true",
                    help="diagnosis: trace allocations and print the top growth sites (slow)")
    ap.add_argument("--replot", action="store_true", help="only redraw --plot from an existing --out")
    ap.add_argument("-v", "--verbose", action="store_true", help="print every sample to stderr")
    a = ap.parse_args()
    if a.replot:
        if a.plot is None:
            ap.error("--replot needs --plot")
        plot(json.loads(a.out.read_text()), a.plot)
        return
    a.nodes = a.nodes or (200 if a.quick else 1_000)
    a.lifecycles = a.lifecycles or (10_000 if a.quick else 200_000)
    a.settle = a.settle if a.settle is not None else 150.0
    a.warmup = a.warmup if a.warmup is not None else (2_000 if a.quick else 10_000)
    if a.tracemalloc:
        tracemalloc.start(1)
    result = asyncio.run(Soak(a).run())
    a.out.write_text(json.dumps(result, indent=1, default=str))
    if a.plot is not None:
        plot(result, a.plot)
    print("| measure | value |")
    print("|---|---|")
    for k, v in (("simulated nodes", f"{a.nodes:,}"),
                 ("pod lifecycles", f"{result['lifecycles_done']:,} of {a.lifecycles:,}"),
                 ("lifecycle rate", f"{result['lifecycles_per_s']:,} /s ({result['soak_seconds']:,} s)"),
                 ("RSS idle, before any pod", f"{result['cold']['rss_mib']:,.0f} MiB"),
                 ("RSS before (after the warm-up)", f"{result['before']['rss_mib']:,.0f} MiB"),
                 ("RSS peak", f"{result['peak_mib']:,.0f} MiB"),
                 ("RSS after", f"{result['after']['rss_mib']:,.0f} MiB"),
                 ("after / before", f"{result['ratio']:.2f}"),
                 ("after / idle before any pod", f"{result['ratio_cold']:.2f}")):
        print(f"| {k} | {v} |")
    print(json.dumps({"sizes_before": result["sizes_before"], "sizes_after": result["sizes_after"],
                      "diagnose": result["diagnose"]}, indent=1, default=str))


if __name__ == "__main__":
    main()
