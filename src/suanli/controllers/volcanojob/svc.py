"""The ``svc`` job plugin: a headless Service and a hosts ConfigMap per job, as Volcano's.

Arguments (Go flags): ``--publish-not-ready-addresses`` (Service ``publishNotReadyAddresses``),
``--disable-network-policy``, ``--inject-hosts-env`` (default true).

* Service ``<job>``: ``clusterIP: None``, selector ``volcano.sh/job-name`` +
  ``volcano.sh/job-namespace`` (created if absent).
* ConfigMap ``<job>-svc`` (:func:`hosts_data`): per task ``<task>.host`` (one domain name per
  line), ``VC_<TASK>_HOSTS`` (comma-separated) and ``VC_<TASK>_NUM``; in the key, ``-`` in the
  task name becomes ``_`` and the env keys are upper-cased. Kept up to date on every sync.
* Pods: ``hostname`` = pod name and ``subdomain`` = job name unless the template sets them; the
  ConfigMap mounted at ``/etc/volcano`` in every container and init container; with
  ``--inject-hosts-env``, ``VC_<TASK>_HOSTS``/``VC_<TASK>_NUM`` of every task from the ConfigMap.

Departure: upstream also creates a NetworkPolicy ``<job>`` (ingress only from the job's pods)
unless ``--disable-network-policy``; Suanli does not serve ``networking.k8s.io`` (there is no
pod network to police), so none is created and admission warns about it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from suanli.apimachinery.goflags import parse_flags
from suanli.apimachinery.gvr import GVR
from suanli.apimachinery.objects import Obj
from suanli.controllers._pods import owner_reference
from suanli.controllers.volcanojob.plugins import CONFIGMAPS, SERVICES, Owned, add_env, add_volume, task_hosts
from suanli.kinds.volcano import JOB_NAME_KEY, JOB_NAMESPACE_KEY, JOB_PLUGIN_FLAGS

__all__ = ["MOUNT_PATH", "SvcPlugin", "hosts_data"]

MOUNT_PATH = "/etc/volcano"


def _key(task: str) -> str:
    return task.replace("-", "_")


def hosts_data(job: Obj) -> dict[str, str]:
    """The hosts ConfigMap's ``data`` for ``job`` (module docstring)."""
    data: dict[str, str] = {}
    for task, hosts in task_hosts(job):
        domains = [d for _, d in hosts]
        key = _key(task)
        data[f"{key}.host"] = "\n".join(domains)
        data[f"VC_{key.upper()}_HOSTS"] = ",".join(domains)
        data[f"VC_{key.upper()}_NUM"] = str(len(domains))
    return data


@dataclass(frozen=True)
class SvcPlugin:
    publish_not_ready_addresses: bool = False
    disable_network_policy: bool = False
    inject_hosts_env: bool = True
    error: str | None = None
    name: str = "svc"

    @classmethod
    def build(cls, args: Sequence[str]) -> SvcPlugin:
        values, error = parse_flags(
            args,
            JOB_PLUGIN_FLAGS["svc"],
            {"publish-not-ready-addresses": False, "disable-network-policy": False, "inject-hosts-env": True},
        )
        return cls(
            publish_not_ready_addresses=bool(values["publish-not-ready-addresses"]),
            disable_network_policy=bool(values["disable-network-policy"]),
            inject_hosts_env=bool(values["inject-hosts-env"]),
            error=error,
        )

    @staticmethod
    def configmap_name(job: Obj) -> str:
        return f"{job['metadata']['name']}-svc"

    def on_pod_create(self, pod: Obj, job: Obj) -> None:
        spec = pod.setdefault("spec", {})
        if not spec.get("hostname"):
            spec["hostname"] = pod["metadata"]["name"]
        if not spec.get("subdomain"):
            spec["subdomain"] = job["metadata"]["name"]
        cm = self.configmap_name(job)
        if self.inject_hosts_env:
            env: list[Obj] = []
            for task, _ in task_hosts(job):
                for var in (f"VC_{_key(task).upper()}_HOSTS", f"VC_{_key(task).upper()}_NUM"):
                    env.append({"name": var, "valueFrom": {"configMapKeyRef": {"name": cm, "key": var}}})
            add_env(pod, env)
        add_volume(pod, {"name": cm, "configMap": {"name": cm}}, {"name": cm, "mountPath": MOUNT_PATH})

    def _configmap(self, job: Obj) -> Owned:
        m = job["metadata"]
        body: Obj = {
            "apiVersion": "v1",
            "kind": "ConfigMap",
            "metadata": {"name": self.configmap_name(job), "namespace": m["namespace"],
                         "ownerReferences": [owner_reference(job)]},
            "data": hosts_data(job),
        }
        return Owned(CONFIGMAPS, body, replace=True)

    def on_job_add(self, job: Obj) -> list[Owned]:
        m = job["metadata"]
        spec: Obj = {
            "clusterIP": "None",
            "selector": {JOB_NAME_KEY: m["name"], JOB_NAMESPACE_KEY: m["namespace"]},
        }
        if self.publish_not_ready_addresses:
            spec["publishNotReadyAddresses"] = True
        service: Obj = {
            "apiVersion": "v1",
            "kind": "Service",
            "metadata": {"name": m["name"], "namespace": m["namespace"], "ownerReferences": [owner_reference(job)]},
            "spec": spec,
        }
        return [self._configmap(job), Owned(SERVICES, service)]

    def on_job_update(self, job: Obj) -> list[Owned]:
        return [self._configmap(job)]

    def on_job_delete(self, job: Obj) -> list[tuple[GVR, str]]:
        return [(CONFIGMAPS, self.configmap_name(job)), (SERVICES, str(job["metadata"]["name"]))]
