"""``python -m bench <name> [args...]``: run ``bench/bench_<name>.py`` as a script with ``args``.

Names: api, store, nfd, sim (any ``bench_*.py`` file in this directory works).
"""

from __future__ import annotations

import runpy
import sys
from pathlib import Path

__all__ = ["main"]


def main(argv: list[str]) -> int:
    here = Path(__file__).resolve().parent
    names = sorted(p.stem.removeprefix("bench_") for p in here.glob("bench_*.py"))
    if not argv or argv[0] in ("-h", "--help") or argv[0] not in names:
        print(f"usage: python -m bench {{{','.join(names)}}} [args...]", file=sys.stderr)
        return 0 if argv and argv[0] in ("-h", "--help") else 2
    name = argv[0]
    sys.argv = [str(here / f"bench_{name}.py"), *argv[1:]]
    runpy.run_module(f"bench.bench_{name}", run_name="__main__", alter_sys=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
