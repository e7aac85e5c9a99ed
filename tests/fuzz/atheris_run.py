"""Run the atheris harnesses in ``tests/fuzz/harnesses`` as subprocesses (libFuzzer owns its process).

Each run starts from a copy of the checked-in seed corpus (``tests/fuzz/corpus/<harness>``) in a
temporary directory, so new inputs libFuzzer keeps never land in the repository, and uses a fixed
``-seed`` so a bounded run is repeatable. A crash leaves ``crash-*`` files (the offending input) in
``artifacts``. ``python -m tests.fuzz.atheris_run [--runs N | --seconds S] [names...]`` is the long
run reported in docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import re
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent.parent
HARNESSES = sorted(p.stem for p in (HERE / "harnesses").glob("*.py") if not p.stem.startswith("_"))
_DONE = re.compile(r"Done (\d+) runs in (\d+) second")
_STAT = re.compile(r"#(\d+)\s+(?:pulse|NEW|REDUCE|DONE|INITED)\b.*?cov: (\d+)")


@dataclass
class Result:
    """One harness run: exit code, executions, edges covered, the output tail and any crash inputs."""

    name: str
    returncode: int
    executions: int
    coverage: int
    output: str
    crashes: list[Path]

    @property
    def ok(self) -> bool:
        return self.returncode == 0 and not self.crashes


def run(name: str, *, runs: int | None = None, seconds: int | None = None, seed: int = 1,
        artifacts: Path | None = None, timeout_per_input: int = 10) -> Result:
    """Fuzz harness ``name`` for ``runs`` inputs and/or ``seconds`` seconds; never raises for a crash."""
    with tempfile.TemporaryDirectory(prefix=f"fuzz-{name}-") as tmp:
        corpus = Path(tmp) / "corpus"
        seeds = HERE / "corpus" / name
        if seeds.is_dir():
            shutil.copytree(seeds, corpus)
        else:
            corpus.mkdir()
        out_dir = artifacts or Path(tmp)
        out_dir.mkdir(parents=True, exist_ok=True)
        args = [sys.executable, "-m", f"tests.fuzz.harnesses.{name}", f"-seed={seed}",
                f"-timeout={timeout_per_input}", f"-artifact_prefix={out_dir}/{name}-", "-print_final_stats=1",
                "-rss_limit_mb=1024", str(corpus)]
        if runs is not None:
            args.insert(3, f"-runs={runs}")
        if seconds is not None:
            args.insert(3, f"-max_total_time={seconds}")
        limit = (seconds or 0) + 600
        proc = subprocess.run(args, capture_output=True, text=True, cwd=REPO, timeout=limit)
        output = proc.stdout + proc.stderr
        crashes = sorted(out_dir.glob(f"{name}-*"))
        if artifacts is None:  # keep the offending inputs readable in the report before tmp goes away
            output += "".join(f"\n{p.name}: {p.read_bytes()[:500]!r}" for p in crashes)
        executions = coverage = 0
        if m := _DONE.search(output):
            executions = int(m.group(1))
        for m in _STAT.finditer(output):
            executions = max(executions, int(m.group(1)))
            coverage = max(coverage, int(m.group(2)))
        return Result(name, proc.returncode, executions, coverage, output[-4000:], crashes)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("names", nargs="*", default=HARNESSES)
    p.add_argument("--runs", type=int)
    p.add_argument("--seconds", type=int)
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--artifacts", type=Path, default=Path(tempfile.gettempdir()) / "suanli-fuzz-artifacts")
    args = p.parse_args(argv)
    failed = 0
    for name in args.names:
        r = run(name, runs=args.runs, seconds=args.seconds, seed=args.seed, artifacts=args.artifacts)
        print(f"{name}: executions={r.executions} coverage={r.coverage} crashes={len(r.crashes)} "
              f"rc={r.returncode}", flush=True)
        if not r.ok:
            failed += 1
            print(r.output, flush=True)
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
