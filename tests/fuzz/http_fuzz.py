"""Property-based fuzzing of the whole HTTP surface of a running ``suanli up`` with schemathesis.

The server's own OpenAPI v3 documents (``GET /openapi/v3`` and one document per group/version)
are merged into one schema; for every operation schemathesis draws requests from it, both
conforming ("positive") and schema-violating ("negative"), and each answer is checked:

* no 5xx, ever (``not_a_server_error``);
* a 2xx answer uses a status code the operation declares (our documents, like upstream's,
  declare only the success codes and 401);
* every error answer is a Kubernetes ``Status`` (``kind: Status``, ``status: Failure``) whose
  ``code`` equals the HTTP status and whose ``message`` is a non-empty string.

Half the drawn requests address the prepared namespace (``FUZZ_NAMESPACE``) and objects that
exist in it, so writes reach validation instead of stopping at "namespace not found".

Failures are collected, not raised, so one run reports every distinct problem; the caller
asserts on :class:`Report`. ``python -m tests.fuzz.http_fuzz URL DATA_DIR`` is the long run
reported in docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import json
import random
import ssl
import sys
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import requests
import schemathesis
from hypothesis import HealthCheck, Phase, given, seed, settings
from hypothesis import strategies as st
from schemathesis import GenerationMode

FUZZ_NAMESPACE = "fuzz"
FUZZ_NAME = "target"
_STATUS_KEYS = ("kind", "apiVersion", "status", "code", "message")


@schemathesis.serializer("application/apply-patch+yaml", "application/yaml")
def _yaml(ctx: Any, value: Any) -> bytes:
    """Apply patches and YAML bodies: JSON is YAML, so the JSON text is a valid YAML body."""
    return json.dumps(value).encode()


@dataclass
class Finding:
    """One request whose answer broke a check."""

    operation: str
    problem: str
    status: int
    curl: str
    body: str

    def key(self) -> tuple[str, str, int]:
        return (self.operation, self.problem.split(":")[0], self.status)


@dataclass
class Report:
    """What one fuzzing run did and found."""

    operations: int = 0
    requests: int = 0
    server_errors: int = 0
    by_status: dict[int, int] = field(default_factory=dict)
    findings: list[Finding] = field(default_factory=list)
    seconds: float = 0.0

    def distinct(self) -> list[Finding]:
        """One finding per (operation, problem, status)."""
        seen: dict[tuple[str, str, int], Finding] = {}
        for f in self.findings:
            seen.setdefault(f.key(), f)
        return list(seen.values())

    def summary(self) -> str:
        lines = [
            f"operations={self.operations} requests={self.requests} 5xx={self.server_errors} "
            f"findings={len(self.findings)} distinct={len(self.distinct())} seconds={self.seconds:.0f}",
            "status codes: " + ", ".join(f"{k}={v}" for k, v in sorted(self.by_status.items())),
        ]
        for f in self.distinct():
            lines.append(f"- {f.operation}: {f.problem} [{f.status}]\n  {f.curl}\n  {f.body[:300]}")
        return "\n".join(lines)


def load_schema(base_url: str, token: str, verify: ssl.SSLContext | str | bool) -> Any:
    """Fetch every group/version document the server lists and merge them into one OpenAPI schema."""
    headers = {"Authorization": f"Bearer {token}", "Accept": "application/json"}
    with httpx.Client(base_url=base_url, headers=headers, verify=verify, timeout=60) as c:
        root = c.get("/openapi/v3").raise_for_status().json()
        merged: dict[str, Any] = {"paths": {}, "components": {"schemas": {}}}
        for entry in root["paths"].values():
            doc = c.get(entry["serverRelativeURL"]).raise_for_status().json()
            for key in ("openapi", "info", "security"):
                merged.setdefault(key, doc.get(key))
            merged["paths"].update(doc["paths"])
            merged["components"]["schemas"].update(doc.get("components", {}).get("schemas", {}))
            for k, v in doc.get("components", {}).items():
                if k != "schemas":
                    merged["components"].setdefault(k, v)
    return schemathesis.openapi.from_dict(merged)


def _problems(case: Any, resp: requests.Response) -> list[str]:
    """The checks of the module docstring; an empty list means the answer is acceptable."""
    out: list[str] = []
    code = resp.status_code
    if code >= 500:
        out.append("server error")
    declared = {str(k) for k in case.operation.definition.raw.get("responses", {})}
    if 200 <= code < 300:
        if declared and str(code) not in declared and "default" not in declared:
            out.append(f"undeclared success code: declared {sorted(declared)}")
        return out
    if 300 <= code < 400:
        return out
    try:
        doc = resp.json()
    except ValueError:
        return [*out, "error body is not JSON"]
    if not isinstance(doc, dict) or any(k not in doc for k in _STATUS_KEYS):
        return [*out, f"error body is not a Status: {str(doc)[:120]}"]
    if doc["kind"] != "Status" or doc["status"] != "Failure":
        out.append("error body is not a failure Status")
    if doc["code"] != code:
        out.append(f"Status code {doc['code']} differs from HTTP {code}")
    if not isinstance(doc["message"], str) or not doc["message"]:
        out.append("Status without a message")
    return out


def _prepare_case(case: Any, use_real: bool, token: str) -> None:
    """Send the real bearer token; point the request at the prepared namespace and object (``use_real``)."""
    case.headers = {k: v for k, v in (case.headers or {}).items() if k.lower() != "authorization"}
    case.headers["Authorization"] = f"Bearer {token}"
    if case.query:
        # Streams end by themselves: a watch after one second, a log without following.
        if "watch" in case.query:
            case.query["timeoutSeconds"] = 1
        case.query.pop("follow", None)
    if not use_real or case.path_parameters is None:
        return
    if "namespace" in case.path_parameters:
        case.path_parameters["namespace"] = FUZZ_NAMESPACE
    if "name" in case.path_parameters:
        case.path_parameters["name"] = FUZZ_NAME


@dataclass
class _Target:
    """The server under test and the report its answers go to."""

    base_url: str
    token: str
    ca_file: str
    session: requests.Session
    report: Report

    def run(self, op: Any, mode: GenerationMode, max_examples: int, seed_value: int) -> None:
        """Send ``max_examples`` requests drawn for ``op`` in ``mode`` and record each answer."""
        label = f"{op.method.upper()} {op.path}"

        @seed(seed_value)
        @settings(max_examples=max_examples, database=None, deadline=None, phases=[Phase.generate],
                  suppress_health_check=list(HealthCheck))
        @given(drawn=st.tuples(op.as_strategy(generation_mode=mode), st.booleans()))
        def draw(drawn: tuple[Any, bool]) -> None:
            case, use_real = drawn
            _prepare_case(case, use_real, self.token)
            self._send(label, case)

        draw()

    def _send(self, label: str, case: Any) -> None:
        report = self.report
        report.requests += 1
        curl = case.as_curl_command(base_url=self.base_url)
        try:
            resp = case.call(base_url=self.base_url, session=self.session, timeout=30, verify=self.ca_file)
        except requests.RequestException as exc:  # a dropped connection is a crash too
            report.findings.append(Finding(label, f"connection failed: {exc}", 0, curl, ""))
            return
        report.by_status[resp.status_code] = report.by_status.get(resp.status_code, 0) + 1
        if resp.status_code >= 500:
            report.server_errors += 1
        for problem in _problems(case, resp):
            report.findings.append(Finding(label, problem, resp.status_code, curl, resp.text))


def fuzz(
    base_url: str,
    token: str,
    ca_file: str,
    *,
    max_examples: int,
    seed_value: int = 12,
    select: Callable[[str, str], bool] = lambda method, path: True,
    modes: Iterable[GenerationMode] = (GenerationMode.POSITIVE, GenerationMode.NEGATIVE),
    deadline_seconds: float | None = None,
    log: Callable[[str], None] = lambda s: None,
) -> Report:
    """Run ``max_examples`` drawn requests per operation and generation mode; return the report.

    ``select(method, path)`` picks operations (all by default); runs stop early (between
    operations) once ``deadline_seconds`` have passed.
    """
    schema = load_schema(base_url, token, ca_file)
    report = Report()
    started = time.monotonic()
    session = requests.Session()
    session.verify = ca_file
    ops = [r.ok() for r in schema.get_all_operations()]
    ops = [op for op in ops if select(op.method.upper(), op.path)]
    ops.sort(key=lambda op: (op.path, op.method))
    rng = random.Random(seed_value)
    target = _Target(base_url, token, ca_file, session, report)
    for op in ops:
        if deadline_seconds is not None and time.monotonic() - started > deadline_seconds:
            break
        report.operations += 1
        for mode in modes:
            target.run(op, mode, max_examples, rng.randrange(2**32))
        log(f"{op.method.upper()} {op.path}: requests so far {report.requests}, findings {len(report.findings)}")
    report.seconds = time.monotonic() - started
    return report


def main(argv: list[str] | None = None) -> int:
    """Long run against a running server: ``python -m tests.fuzz.http_fuzz URL DATA_DIR --examples N``."""
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("url")
    p.add_argument("data_dir", type=Path)
    p.add_argument("--examples", type=int, default=25)
    p.add_argument("--seed", type=int, default=12)
    p.add_argument("--match", default="", help="only operations whose path contains this")
    p.add_argument("--minutes", type=float, help="stop starting new operations after this long")
    args = p.parse_args(argv)
    token = (args.data_dir / "token").read_text().strip()
    ca = str(args.data_dir / "tls" / "ca.crt")
    prepare(args.url, token, ca)
    report = fuzz(args.url, token, ca, max_examples=args.examples, seed_value=args.seed,
                  select=lambda m, path: args.match in path, log=lambda s: print(s, file=sys.stderr, flush=True),
                  deadline_seconds=args.minutes * 60 if args.minutes else None)
    print(report.summary())
    return 1 if report.findings else 0


def prepare(base_url: str, token: str, ca_file: str) -> None:
    """Create the namespace ``fuzz`` and a ConfigMap ``target`` in it (idempotent)."""
    headers = {"Authorization": f"Bearer {token}"}
    with httpx.Client(base_url=base_url, headers=headers, verify=ca_file, timeout=30) as c:
        r = c.post("/api/v1/namespaces", json={"metadata": {"name": FUZZ_NAMESPACE}})
        assert r.status_code in (201, 409), r.text
        r = c.post(f"/api/v1/namespaces/{FUZZ_NAMESPACE}/configmaps",
                   json={"metadata": {"name": FUZZ_NAME}, "data": {"a": "1"}})
        assert r.status_code in (201, 409), r.text


if __name__ == "__main__":
    raise SystemExit(main())
