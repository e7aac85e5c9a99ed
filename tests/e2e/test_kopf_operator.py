"""kopf (``kopf run --standalone``) reconciling a CRD against a real `suanli up`.

The operator (tests/e2e/kopf_operator/sample_operator.py) exercises what kopf needs
from a server: legacy discovery, list + watch with bookmarks, merge patches of the
body and ``/status``, finalizers added/removed with JSON patches guarded by a ``test``
of the resourceVersion, and Events posted with ``generateName``.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.conftest import Server
from tests.e2e._helpers import SAMPLE_CRD_GROUP, ensure_crd, http_client, make_namespace, sample_crd, wait_until

pytestmark = pytest.mark.e2e

PLURAL = "kopfsamples"
OPERATOR = Path(__file__).parent / "kopf_operator" / "sample_operator.py"
FINALIZER = "kopf.zalando.org/KopfFinalizerMarker"


@pytest.fixture(scope="module")
def operator_ns(server: Server, tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Path]]:
    ensure_crd(server, sample_crd(PLURAL, kind="KopfSample"))
    ns = make_namespace(server, "kopf")
    log_path = tmp_path_factory.mktemp("kopf") / "kopf.log"
    env = dict(os.environ, KUBECONFIG=str(server.kubeconfig), PYTHONUNBUFFERED="1")
    with log_path.open("wb") as log:
        proc = subprocess.Popen([str(Path(sys.executable).parent / "kopf"), "run", "--standalone",
                                 f"--namespace={ns}", "--verbose", str(OPERATOR)],
                                stdout=log, stderr=subprocess.STDOUT, env=env)
    try:
        yield ns, log_path
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
    log_text = log_path.read_text(errors="replace")
    assert "Traceback" not in log_text, log_text[-5000:]


def sample_path(ns: str, name: str = "") -> str:
    base = f"/apis/{SAMPLE_CRD_GROUP}/v1/namespaces/{ns}/{PLURAL}"
    return f"{base}/{name}" if name else base


def get_json(c: httpx.Client, path: str) -> dict[str, Any] | None:
    r = c.get(path)
    if r.status_code == 404:
        return None
    assert r.status_code == 200, r.text
    doc: dict[str, Any] = r.json()
    return doc


def test_create_update_delete_is_reconciled(server: Server, operator_ns: tuple[str, Path]) -> None:
    ns, log_path = operator_ns
    with http_client(server) as c:
        body = {"apiVersion": f"{SAMPLE_CRD_GROUP}/v1", "kind": "KopfSample", "metadata": {"name": "s1"},
                "spec": {"message": "hello", "size": 1}}
        r = c.post(sample_path(ns), json=body)
        assert r.status_code == 201, r.text

        def ready() -> dict[str, Any] | None:
            obj = get_json(c, sample_path(ns, "s1"))
            status = (obj or {}).get("status") or {}
            return obj if status.get("phase") == "Ready" and status.get("create_child") else None

        obj = wait_until(ready, timeout=30, what=f"kopf to reconcile s1 (log: {log_path})")
        assert obj["status"]["create_child"] == {"child": "s1-child"}
        assert FINALIZER in obj["metadata"]["finalizers"]
        child = get_json(c, f"/api/v1/namespaces/{ns}/configmaps/s1-child")
        assert child is not None and child["data"] == {"message": "hello"}
        owner = child["metadata"]["ownerReferences"][0]
        assert (owner["kind"], owner["name"], owner["uid"]) == ("KopfSample", "s1", obj["metadata"]["uid"])

        r = c.patch(sample_path(ns, "s1"), content=b'{"spec":{"message":"bye"}}',
                    headers={"Content-Type": "application/merge-patch+json"})
        assert r.status_code == 200, r.text
        wait_until(lambda: (get_json(c, f"/api/v1/namespaces/{ns}/configmaps/s1-child") or {}).get("data")
                   == {"message": "bye"}, timeout=30, what="the update handler to rewrite the child")

        def kopf_events() -> list[dict[str, Any]]:
            r = c.get(f"/api/v1/namespaces/{ns}/events", params={"fieldSelector": "involvedObject.name=s1"})
            assert r.status_code == 200, r.text
            return [e for e in r.json()["items"] if e["metadata"]["name"].startswith("kopf-event-")
                    and e.get("reason") == "ChildCreated"]

        events = wait_until(kopf_events, timeout=30, what="kopf to post events")
        assert all(e["involvedObject"]["kind"] == "KopfSample" for e in events)

        r = c.delete(sample_path(ns, "s1"))
        assert r.status_code == 200, r.text
        wait_until(lambda: get_json(c, sample_path(ns, "s1")) is None, timeout=30,
                   what="the finalizer to be released and s1 to be deleted")
        assert get_json(c, f"/api/v1/namespaces/{ns}/configmaps/s1-deleted") is not None
        # the child is owned by s1: the garbage collector removes it
        wait_until(lambda: get_json(c, f"/api/v1/namespaces/{ns}/configmaps/s1-child") is None, timeout=30,
                   what="the garbage collector to delete the orphaned child")


def test_finalizer_json_patch_with_stale_test_is_422(server: Server, operator_ns: tuple[str, Path]) -> None:
    """kopf's finalizer edits rely on ``test /metadata/resourceVersion`` failing with 422 on a race."""
    ns, _ = operator_ns
    with http_client(server) as c:
        body = {"apiVersion": f"{SAMPLE_CRD_GROUP}/v1", "kind": "KopfSample", "metadata": {"name": "s2"},
                "spec": {"message": "x"}}
        created = c.post(sample_path(ns), json=body).json()
        ops = [{"op": "test", "path": "/metadata/resourceVersion", "value": "1"},
               {"op": "add", "path": "/metadata/finalizers", "value": ["x/y"]}]
        r = c.patch(sample_path(ns, "s2"), json=ops, headers={"Content-Type": "application/json-patch+json"})
        assert r.status_code == 422, r.text
        assert r.json()["code"] == 422
        wait_until(lambda: ((get_json(c, sample_path(ns, "s2")) or {}).get("status") or {}).get("phase") == "Ready",
                   timeout=30, what="kopf to reconcile s2")
        assert created["metadata"]["name"] == "s2"
        r = c.delete(sample_path(ns, "s2"))
        assert r.status_code == 200
        wait_until(lambda: get_json(c, sample_path(ns, "s2")) is None, timeout=30, what="s2 deleted")
