"""Bounded fuzzing runs: every parser harness under atheris, and the HTTP surface under schemathesis.

The parser runs are short, fixed-seed libFuzzer runs in subprocesses (atheris owns its process); a
crash fails the test with the offending input and traceback. The HTTP run drives a private
`suanli up` (the fuzzer deletes and patches freely, so it must not share the session server)
through a fixed selection of operations with a fixed seed. The long runs are reported in
docs/benchmarks.md (``python -m tests.fuzz.atheris_run`` and ``python -m tests.fuzz.http_fuzz``).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import Server
from tests.e2e._helpers import private_server
from tests.fuzz import atheris_run, http_fuzz

RUNS = 2000

# Resources whose operations the bounded HTTP run covers: core kinds with strict validation and
# subresources, an apps kind with scale, a Volcano CRD (structural-schema path) and a cluster-scoped kind.
HTTP_RESOURCES = (
    "/api/v1/namespaces/{namespace}/configmaps",
    "/api/v1/namespaces/{namespace}/pods",
    "/apis/apps/v1/namespaces/{namespace}/deployments",
    "/apis/scheduling.volcano.sh/v1beta1/queues",
)
HTTP_EXAMPLES = 3


@pytest.mark.parametrize("name", atheris_run.HARNESSES)
def test_parser_harness_finds_no_crash(name: str) -> None:
    result = atheris_run.run(name, runs=RUNS, seed=1, timeout_per_input=20)
    assert result.ok, f"{name} crashed (rc={result.returncode}):\n{result.output}"
    assert result.executions >= RUNS, f"{name} ran only {result.executions} inputs:\n{result.output}"


def test_every_harness_has_a_seed_corpus() -> None:
    corpus = Path(atheris_run.HERE) / "corpus"
    assert {p.name for p in corpus.iterdir() if any(p.iterdir())} == set(atheris_run.HARNESSES)


@pytest.fixture(scope="module")
def fuzz_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    with private_server(tmp_path_factory.mktemp("fuzz"), "http-fuzz") as srv:
        yield srv


@pytest.mark.e2e
def test_http_surface_answers_every_drawn_request_with_a_status_and_no_5xx(fuzz_server: Server) -> None:
    token = fuzz_server.token()
    ca = str(fuzz_server.data_dir / "tls" / "ca.crt")
    http_fuzz.prepare(fuzz_server.url, token, ca)
    report = http_fuzz.fuzz(
        fuzz_server.url, token, ca, max_examples=HTTP_EXAMPLES, seed_value=12,
        select=lambda method, path: path.startswith(HTTP_RESOURCES),
    )
    assert report.findings == [], report.summary()
    assert report.server_errors == 0
    assert report.operations >= 4 * len(HTTP_RESOURCES), report.summary()
    assert report.requests >= report.operations * HTTP_EXAMPLES, report.summary()
    # Both accepted and rejected requests were exercised (the run is not all 404s or all 200s).
    assert any(200 <= code < 300 for code in report.by_status), report.summary()
    assert any(400 <= code < 500 and code != 404 for code in report.by_status), report.summary()
    assert "unhandled error serving" not in fuzz_server.log()
