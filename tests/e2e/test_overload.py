"""Overload through a real `suanli up`: a flood of one user's requests is shed with 429s, others are served.

The server runs with small in-flight pools (read-only 4, mutating 2, a queue of 4 per user) so
50 concurrent clients of one user (``flooder``, each with its own connection, creating
ConfigMaps in a loop) overflow them. While the flood runs, ``/readyz``, another user
(``bob``, through raw HTTP and through kubectl) and the admin (``system:masters``) must get
answers every time, and never a 429; the flood itself must see 429s with ``Retry-After: 1``
and a ``TooManyRequests`` Status, and no 5xx.
"""

from __future__ import annotations

import contextlib
import threading
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.conftest import Kubectl, Server, kubectl_binary, start_server
from tests.e2e._helpers import http_client, wait_until

pytestmark = pytest.mark.e2e

FLOOD_CLIENTS = 50
TOKENS = "flooder-token,flooder,uid-flooder\nbob-token,bob,uid-bob\n"
CM = "/api/v1/namespaces/default/configmaps"
LIMIT_FLAGS = ["--max-requests-inflight", "4", "--max-mutating-requests-inflight", "2",
               "--max-queued-requests-per-user", "4", "--max-long-running-requests-per-user", "3"]


@pytest.fixture(scope="module")
def limited(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    base = tmp_path_factory.mktemp("overload")
    (base / "tokens.csv").write_text(TOKENS)
    srv = start_server(base / "data", base / "kubeconfig", extra=[
        "--only", "api", "--authorization-mode", "AlwaysAllow", "--token-auth-file", str(base / "tokens.csv"),
        *LIMIT_FLAGS])
    yield srv
    srv.stop()


def as_user(server: Server, token: str) -> httpx.Client:
    return httpx.Client(base_url=server.url, verify=server.ssl_context(), timeout=60,
                        headers={"Accept": "application/json", "Authorization": f"Bearer {token}"})


class Flood:
    """``FLOOD_CLIENTS`` threads creating ConfigMaps as ``flooder`` until stopped; answers counted."""

    def __init__(self, server: Server) -> None:
        self.server = server
        self.stop = threading.Event()
        self.lock = threading.Lock()
        self.codes: Counter[int] = Counter()
        self.shed_examples: list[httpx.Response] = []
        self.errors: list[str] = []
        self.threads = [threading.Thread(target=self._run, args=(i,), daemon=True) for i in range(FLOOD_CLIENTS)]

    def __enter__(self) -> Flood:
        for t in self.threads:
            t.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop.set()
        for t in self.threads:
            t.join(60)

    def _run(self, i: int) -> None:
        with as_user(self.server, "flooder-token") as c:
            n = 0
            while not self.stop.is_set():
                try:
                    r = c.post(CM, json={"metadata": {"name": f"flood-{i}-{n}"}, "data": {"k": "v" * 200}})
                except httpx.HTTPError as err:
                    with self.lock:
                        self.errors.append(repr(err))
                    continue
                n += 1
                with self.lock:
                    self.codes[r.status_code] += 1
                    if r.status_code == 429 and len(self.shed_examples) < 3:
                        self.shed_examples.append(r)

    def shed(self) -> int:
        with self.lock:
            return self.codes[429]


def test_a_flood_of_one_user_is_shed_while_probes_other_users_and_the_admin_are_served(
        limited: Server, tmp_path: Path) -> None:
    kubectl = Kubectl(kubectl_binary(), limited.kubeconfig)
    with Flood(limited) as flood, as_user(limited, "bob-token") as bob, http_client(limited) as admin:
        wait_until(lambda: flood.shed() >= 50, timeout=120, interval=0.05, what="the flood to be shed")
        answers: Counter[tuple[str, int]] = Counter()
        for i in range(15):
            answers["readyz", bob.get("/readyz").status_code] += 1
            answers["bob create", bob.post(CM, json={"metadata": {"name": f"bob-{i}"}}).status_code] += 1
            answers["bob get", bob.get(f"{CM}/bob-{i}").status_code] += 1
            answers["bob list", bob.get(CM, params={"limit": "5"}).status_code] += 1
            answers["admin create", admin.post(CM, json={"metadata": {"name": f"admin-{i}"}}).status_code] += 1
        for i in range(3):  # kubectl as bob (client-go would retry a 429: the raw answers above prove there is none)
            kubectl.run("--token", "bob-token", "-n", "default", "create", "configmap", f"bob-kubectl-{i}",
                        "--from-literal=a=b")
            assert kubectl.run("--token", "bob-token", "-n", "default", "get", "configmap", f"bob-kubectl-{i}",
                               "-o", "name").stdout.strip() == f"configmap/bob-kubectl-{i}"
        still_flooding = flood.shed()
    assert answers == Counter({("readyz", 200): 15, ("bob create", 201): 15, ("bob get", 200): 15,
                               ("bob list", 200): 15, ("admin create", 201): 15})
    assert still_flooding >= 50
    assert flood.errors == []
    assert set(flood.codes) <= {201, 429}, flood.codes
    assert flood.codes[201] > 0  # shed, not starved: the flooder keeps its fair share
    shed = flood.shed_examples[0]
    assert shed.headers["retry-after"] == "1"
    body = shed.json()
    assert (body["kind"], body["code"], body["reason"], body["message"]) == (
        "Status", 429, "TooManyRequests", "Too many requests, please try again later.")


def test_a_malformed_timeout_parameter_is_a_400_naming_it(limited: Server) -> None:
    with http_client(limited) as c:
        r = c.get(CM, params={"timeout": "soon"})
    assert r.status_code == 400
    assert r.json()["message"] == 'invalid timeout specified in the request URL - time: invalid duration "soon"'


@pytest.mark.parametrize(("method", "path", "content_type"), [
    ("POST", CM, "application/json"),
    ("PUT", f"{CM}/big", "application/json"),
    ("PATCH", f"{CM}/big", "application/merge-patch+json"),
    ("PATCH", f"{CM}/big", "application/apply-patch+yaml"),
    ("PUT", "/api/v1/namespaces/default/status", "application/json"),
    ("DELETE", f"{CM}/big", "application/json"),
    ("POST", "/api/v1/namespaces/default/serviceaccounts/default/token", "application/json"),
], ids=["create", "update", "merge patch", "server-side apply", "status subresource", "delete options",
        "token subresource"])
def test_every_request_body_is_limited_to_3_mib(limited: Server, method: str, path: str, content_type: str) -> None:
    body = b'{"metadata":{"name":"big"},"data":{"k":"' + b"x" * (3 * 1024 * 1024) + b'"}}'
    with http_client(limited) as c:
        r = c.request(method, path, content=body, headers={"Content-Type": content_type})
    assert r.status_code == 413
    assert (r.json()["reason"], r.json()["message"]) == ("RequestEntityTooLarge",
                                                         "Request entity too large: limit is 3145728")


def test_long_running_requests_are_capped_per_user_and_the_slot_comes_back(limited: Server) -> None:
    watch = {"watch": "true", "timeoutSeconds": "60"}
    with as_user(limited, "bob-token") as bob, http_client(limited) as admin, contextlib.ExitStack() as open_:
        for _ in range(3):
            r = open_.enter_context(bob.stream("GET", CM, params=watch))
            assert r.status_code == 200
        refused = bob.get("/api/v1/namespaces/default/pods", params=watch)
        assert (refused.status_code, refused.headers["retry-after"]) == (429, "1")
        assert refused.json()["reason"] == "TooManyRequests"
        assert bob.get(CM, params={"limit": "1"}).status_code == 200  # short requests are not affected
        with as_user(limited, "flooder-token") as other, other.stream("GET", CM, params=watch) as r:
            assert r.status_code == 200  # the cap is per user
        with admin.stream("GET", CM, params=watch) as r:
            assert r.status_code == 200  # system:masters is exempt
        open_.close()  # bob's watches end: his slots come back

        def can_watch() -> bool:
            with bob.stream("GET", CM, params=watch) as r:
                return r.status_code == 200

        wait_until(can_watch, timeout=30, what="a slot to come back after the watches closed")
