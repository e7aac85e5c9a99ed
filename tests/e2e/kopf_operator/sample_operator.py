"""A tiny kopf operator for the e2e tests: ``KopfSample`` → a child ConfigMap plus status.

* on create: create ConfigMap ``<name>-child`` (owned by the sample, ``data.message`` =
  ``spec.message``), set ``status.phase = "Ready"``; the handler's return value lands in
  ``status.create_child``; a ``ChildCreated`` Event is posted.
* on update of ``spec.message``: rewrite the child's ``data.message``.
* on delete: write ConfigMap ``<name>-deleted`` (proof the handler ran before the
  finalizer was released).

Run: ``KUBECONFIG=... kopf run --standalone --namespace=<ns> sample_operator.py``.
"""

from __future__ import annotations

from typing import Any

import kopf
from kubernetes import client, config

GROUP = "e2e.suanli.dev"
PLURAL = "kopfsamples"


@kopf.on.startup()
def configure(settings: kopf.OperatorSettings, **_: Any) -> None:
    config.load_kube_config()
    settings.watching.server_timeout = 60
    settings.posting.level = 20  # INFO


def _core() -> client.CoreV1Api:
    return client.CoreV1Api()


@kopf.on.create(GROUP, "v1", PLURAL)
def create_child(spec: kopf.Spec, name: str, namespace: str, patch: kopf.Patch, body: kopf.Body,
                 **_: Any) -> dict[str, str]:
    child: dict[str, Any] = {"apiVersion": "v1", "kind": "ConfigMap",
                             "metadata": {"name": f"{name}-child"},
                             "data": {"message": str(spec.get("message", ""))}}
    kopf.adopt(child)
    _core().create_namespaced_config_map(namespace, child)
    patch.status["phase"] = "Ready"
    kopf.info(body, reason="ChildCreated", message=f"created ConfigMap {name}-child")
    return {"child": f"{name}-child"}


@kopf.on.update(GROUP, "v1", PLURAL, field="spec.message")
def update_child(new: Any, name: str, namespace: str, **_: Any) -> None:
    _core().patch_namespaced_config_map(f"{name}-child", namespace, {"data": {"message": str(new or "")}})


@kopf.on.delete(GROUP, "v1", PLURAL)
def record_delete(name: str, namespace: str, **_: Any) -> None:
    marker = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": f"{name}-deleted"}, "data": {}}
    _core().create_namespaced_config_map(namespace, marker)
