"""Wire names: the one home of the names components agree on over the API.

Resource coordinates (:class:`GVR` and the GVRs the components use), the annotation and label
keys they read and write (Kubernetes, Volcano, NFD, kwok and Suanli's own ``suanli.io/…``), and
the extended-resource names of the devices Suanli schedules. This module imports nothing from
Suanli (an import-linter contract keeps it so), so every layer — the pure scheduling core included
— can use it. Keys that only one component knows (e.g. the Deployment controller's
``deployment.kubernetes.io/revision``) stay with that component.

>>> PODS.path("default", "web-0", "status")
'/api/v1/namespaces/default/pods/web-0/status'
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["GVR"]  # the constants below are imported by name


@dataclass(frozen=True, slots=True)
class GVR:
    """A group/version/resource (plural) and whether it is namespaced.

    >>> GVR("apps", "v1", "deployments").api_version
    'apps/v1'
    """

    group: str
    version: str
    resource: str
    namespaced: bool = True

    @property
    def api_version(self) -> str:
        return f"{self.group}/{self.version}" if self.group else self.version

    def path(self, namespace: str = "", name: str = "", subresource: str = "") -> str:
        """REST path: ``/api/v1/namespaces/ns/pods/name/status`` (namespace ignored if cluster-scoped)."""
        base = f"/apis/{self.group}/{self.version}" if self.group else f"/api/{self.version}"
        if self.namespaced and namespace:
            base += f"/namespaces/{namespace}"
        base += f"/{self.resource}"
        if name:
            base += f"/{name}"
            if subresource:
                base += f"/{subresource}"
        return base

    def __str__(self) -> str:
        return f"{self.resource}.{self.group}/{self.version}" if self.group else f"{self.resource}/{self.version}"


# -- resources ------------------------------------------------------------------------------------------

# core/v1
PODS = GVR("", "v1", "pods")
NODES = GVR("", "v1", "nodes", namespaced=False)
NAMESPACES = GVR("", "v1", "namespaces", namespaced=False)
CONFIGMAPS = GVR("", "v1", "configmaps")
SECRETS = GVR("", "v1", "secrets")
SERVICES = GVR("", "v1", "services")
SERVICEACCOUNTS = GVR("", "v1", "serviceaccounts")
EVENTS = GVR("", "v1", "events")
ENDPOINTS = GVR("", "v1", "endpoints")
PVCS = GVR("", "v1", "persistentvolumeclaims")
PVS = GVR("", "v1", "persistentvolumes", namespaced=False)
REPLICATIONCONTROLLERS = GVR("", "v1", "replicationcontrollers")
RESOURCEQUOTAS = GVR("", "v1", "resourcequotas")
# apps, batch, policy, scheduling, storage, discovery
DEPLOYMENTS = GVR("apps", "v1", "deployments")
REPLICASETS = GVR("apps", "v1", "replicasets")
STATEFULSETS = GVR("apps", "v1", "statefulsets")
DAEMONSETS = GVR("apps", "v1", "daemonsets")
CONTROLLER_REVISIONS = GVR("apps", "v1", "controllerrevisions")
JOBS = GVR("batch", "v1", "jobs")
CRONJOBS = GVR("batch", "v1", "cronjobs")
PDBS = GVR("policy", "v1", "poddisruptionbudgets")
PRIORITY_CLASSES = GVR("scheduling.k8s.io", "v1", "priorityclasses", namespaced=False)
STORAGECLASSES = GVR("storage.k8s.io", "v1", "storageclasses", namespaced=False)
ENDPOINTSLICES = GVR("discovery.k8s.io", "v1", "endpointslices")
LEASES = GVR("coordination.k8s.io", "v1", "leases")
# control-plane kinds
CLUSTER_ROLES = GVR("rbac.authorization.k8s.io", "v1", "clusterroles", namespaced=False)
CSRS = GVR("certificates.k8s.io", "v1", "certificatesigningrequests", namespaced=False)
CRDS = GVR("apiextensions.k8s.io", "v1", "customresourcedefinitions", namespaced=False)
APISERVICES = GVR("apiregistration.k8s.io", "v1", "apiservices", namespaced=False)
FLOWSCHEMAS = GVR("flowcontrol.apiserver.k8s.io", "v1", "flowschemas", namespaced=False)
PRIORITY_LEVELS = GVR("flowcontrol.apiserver.k8s.io", "v1", "prioritylevelconfigurations", namespaced=False)
# metrics.k8s.io (served by the node agents' metrics API)
POD_METRICS = GVR("metrics.k8s.io", "v1beta1", "pods")
NODE_METRICS = GVR("metrics.k8s.io", "v1beta1", "nodes", namespaced=False)
# Volcano
PODGROUPS = GVR("scheduling.volcano.sh", "v1beta1", "podgroups")
QUEUES = GVR("scheduling.volcano.sh", "v1beta1", "queues", namespaced=False)
VCJOBS = GVR("batch.volcano.sh", "v1alpha1", "jobs")
COMMANDS = GVR("bus.volcano.sh", "v1alpha1", "commands")
# Node Feature Discovery
NODE_FEATURES = GVR("nfd.k8s-sigs.io", "v1alpha1", "nodefeatures")
NODE_FEATURE_RULES = GVR("nfd.k8s-sigs.io", "v1alpha1", "nodefeaturerules", namespaced=False)
NODE_FEATURE_GROUPS = GVR("nfd.k8s-sigs.io", "v1alpha1", "nodefeaturegroups")


# -- Kubernetes labels and annotations ------------------------------------------------------------------

MANAGED_BY_LABEL = "app.kubernetes.io/managed-by"
#: Job pods: the owning Job's uid and name (batch/v1 selectors are built from them)
JOB_UID_LABEL = "batch.kubernetes.io/controller-uid"
JOB_NAME_LABEL = "batch.kubernetes.io/job-name"
#: finalizers the storage-object-in-use protection adds (admission) and removes (controller)
PVC_PROTECTION_FINALIZER = "kubernetes.io/pvc-protection"
PV_PROTECTION_FINALIZER = "kubernetes.io/pv-protection"
#: kwok: a node (value ``fake``) simulated without a kubelet
KWOK_NODE_ANNOTATION = "kwok.x-k8s.io/node"


# -- Volcano ----------------------------------------------------------------------------------------------

#: Pod annotation naming the pod's PodGroup (same namespace).
GROUP_NAME_ANNOTATION = "scheduling.k8s.io/group-name"
#: Older alias of :data:`GROUP_NAME_ANNOTATION`.
VOLCANO_GROUP_NAME_ANNOTATION = "scheduling.volcano.sh/group-name"
#: Pod (or namespace) annotation choosing the queue of a pod without a Volcano Job.
QUEUE_NAME_ANNOTATION = "scheduling.volcano.sh/queue-name"
#: A PodGroup owner's annotation overriding the group's ``minMember``.
MIN_MEMBER_ANNOTATION = "scheduling.volcano.sh/group-min-member"
#: Labels and annotations the Volcano Job controller puts on its pods.
JOB_NAME_KEY = "volcano.sh/job-name"
JOB_NAMESPACE_KEY = "volcano.sh/job-namespace"
QUEUE_NAME_KEY = "volcano.sh/queue-name"
TASK_SPEC_KEY = "volcano.sh/task-spec"
TASK_INDEX_KEY = "volcano.sh/task-index"
JOB_VERSION_KEY = "volcano.sh/job-version"
POD_TEMPLATE_KEY = "volcano.sh/template-uid"
JOB_RETRY_COUNT_KEY = "volcano.sh/job-retry-count"
NUMA_POLICY_KEY = "volcano.sh/numa-topology-policy"
#: annotation or label: the pod may be a preempt/reclaim victim
PREEMPTABLE_KEY = "volcano.sh/preemptable"
NODEGROUP_LABEL = "volcano.sh/nodegroup-name"
#: GPU sharing: the cards a pod was given (``"0,2"``) and a node's unhealthy cards (``"1,3"``)
GPU_INDEX_ANNOTATION = "volcano.sh/gpu-index"
GPU_UNHEALTHY_ANNOTATION = "volcano.sh/gpu-unhealthy-ids"


# -- Node Feature Discovery -------------------------------------------------------------------------------

NFD_NODE_NAME_LABEL = "nfd.node.kubernetes.io/node-name"
NFD_FEATURE_LABELS_ANNOTATION = "nfd.node.kubernetes.io/feature-labels"
NFD_FEATURE_ANNOTATIONS_ANNOTATION = "nfd.node.kubernetes.io/feature-annotations"
NFD_EXTENDED_RESOURCES_ANNOTATION = "nfd.node.kubernetes.io/extended-resources"
NFD_TAINTS_ANNOTATION = "nfd.node.kubernetes.io/taints"
#: GPU feature discovery's model label (``Tesla-V100-SXM2-16GB``)
GPU_MODEL_LABEL = "nvidia.com/gpu.product"


# -- Suanli -----------------------------------------------------------------------------------------------

#: node annotation: ``process`` for the real host (its pods run as processes)
RUNTIME_ANNOTATION = "suanli.io/runtime"
#: the device-operator objects' labels: device class (npu | kae | gpu) and component (driver | device-plugin …)
DEVICE_CLASS_LABEL = "suanli.io/device-class"
COMPONENT_LABEL = "suanli.io/operator-component"
#: pod annotation: the device ids a pod was given (``{"huawei.com/Ascend910":["0","1"]}``)
ALLOCATED_DEVICES_ANNOTATION = "suanli.io/allocated-devices"
#: node annotations: device topology (HCCS rings) and unhealthy devices
DEVICE_TOPOLOGY_ANNOTATION = "suanli.io/device-topology"
UNHEALTHY_DEVICES_ANNOTATION = "suanli.io/unhealthy-devices"
#: node annotation: the hardware profile a simulated node was built from
PROFILE_ANNOTATION = "suanli.io/hardware-profile"
#: node annotations the many-core plug-in reads
DISK_IO_ANNOTATION = "suanli.io/disk-io-usage"
NUMA_NODES_ANNOTATION = "suanli.io/numa-nodes"


# -- device resource names --------------------------------------------------------------------------------

NVIDIA_GPU = "nvidia.com/gpu"
ASCEND_910 = "huawei.com/Ascend910"
ASCEND_310 = "huawei.com/Ascend310"
ASCEND_310P = "huawei.com/Ascend310P"
KAE_HPRE = "openfuyao.com/kae.hpre"
#: Volcano GPU sharing: whole cards and MiB of card memory
GPU_NUMBER = "volcano.sh/gpu-number"
GPU_MEMORY = "volcano.sh/gpu-memory"
