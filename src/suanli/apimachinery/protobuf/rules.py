"""Go-struct facts the .proto files do not carry, needed to rebuild the JSON a client meant.

Go's generated marshallers write every non-pointer scalar even when it is zero, while the JSON encoder
omits those fields (``omitempty``).  So the decoder drops zero scalars (``""``, ``0``, ``false``) unless the
field is listed in :data:`KEEP_ZERO`: pointer fields in Go (``*int32``, ``*bool``, ``*string``,
``*IntOrString``), whose presence on the wire means "explicitly set", plus a few non-``omitempty`` fields
whose zero is a meaningful value (``PriorityClass.value``, ``Scale.spec.replicas``).  A dropped zero is
what the Go JSON encoder would have omitted, so servers see the same object either way.

Nested messages are kept even when empty: gogo writes non-pointer structs always and pointer structs only
when set, and Go JSON likewise always renders structs, so ``{}`` on the wire is ``{}`` in JSON
(``emptyDir: {}``, ``resources: {}``, ``status: {}``).  The exceptions are :data:`NULL_WHEN_EMPTY` types
(a zero ``metav1.Time`` is written as an empty message and rendered as ``null``), which are dropped.

:data:`INLINE` lists embedded Go structs (``json:",inline"``): the proto has a nested message field, the
JSON has its members at the parent level.
"""

from __future__ import annotations

__all__ = [
    "DURATION",
    "FIELDSV1",
    "INLINE",
    "INTORSTR",
    "KEEP_ZERO",
    "MICROTIME",
    "NULL_WHEN_EMPTY",
    "QUANTITY",
    "RAWEXT",
    "TIME",
]

_CORE = "k8s.io.api.core.v1"
_APPS = "k8s.io.api.apps.v1"
_BATCH = "k8s.io.api.batch.v1"
_META = "k8s.io.apimachinery.pkg.apis.meta.v1"

TIME = f"{_META}.Time"
MICROTIME = f"{_META}.MicroTime"
DURATION = f"{_META}.Duration"
FIELDSV1 = f"{_META}.FieldsV1"
INTORSTR = "k8s.io.apimachinery.pkg.util.intstr.IntOrString"
QUANTITY = "k8s.io.apimachinery.pkg.api.resource.Quantity"
RAWEXT = "k8s.io.apimachinery.pkg.runtime.RawExtension"

NULL_WHEN_EMPTY = frozenset({TIME, MICROTIME, RAWEXT})


def _fields(table: dict[str, str]) -> frozenset[tuple[str, str]]:
    return frozenset((msg, name) for msg, names in table.items() for name in names.split())


_CONTAINER_PTRS = "restartPolicy"

KEEP_ZERO: frozenset[tuple[str, str]] = _fields({
    # core/v1
    f"{_CORE}.PodSpec": "terminationGracePeriodSeconds activeDeadlineSeconds automountServiceAccountToken "
                        "shareProcessNamespace priority enableServiceLinks preemptionPolicy runtimeClassName "
                        "setHostnameAsFQDN hostUsers hostnameOverride",
    f"{_CORE}.Container": _CONTAINER_PTRS,
    f"{_CORE}.EphemeralContainerCommon": _CONTAINER_PTRS,
    f"{_CORE}.SecurityContext": "privileged runAsUser runAsGroup runAsNonRoot readOnlyRootFilesystem "
                                "allowPrivilegeEscalation procMount",
    f"{_CORE}.PodSecurityContext": "runAsUser runAsGroup runAsNonRoot fsGroup fsGroupChangePolicy "
                                   "supplementalGroupsPolicy seLinuxChangePolicy",
    f"{_CORE}.WindowsSecurityContextOptions": "gmsaCredentialSpecName gmsaCredentialSpec runAsUserName hostProcess",
    f"{_CORE}.SeccompProfile": "localhostProfile",
    f"{_CORE}.AppArmorProfile": "localhostProfile",
    f"{_CORE}.Probe": "terminationGracePeriodSeconds",
    f"{_CORE}.GRPCAction": "service",
    f"{_CORE}.Lifecycle": "stopSignal",
    f"{_CORE}.ConfigMapVolumeSource": "defaultMode optional",
    f"{_CORE}.SecretVolumeSource": "defaultMode optional",
    f"{_CORE}.ProjectedVolumeSource": "defaultMode",
    f"{_CORE}.DownwardAPIVolumeSource": "defaultMode",
    f"{_CORE}.DownwardAPIVolumeFile": "mode",
    f"{_CORE}.KeyToPath": "mode",
    f"{_CORE}.ConfigMapKeySelector": "optional",
    f"{_CORE}.SecretKeySelector": "optional",
    f"{_CORE}.ConfigMapEnvSource": "optional",
    f"{_CORE}.SecretEnvSource": "optional",
    f"{_CORE}.ConfigMapProjection": "optional",
    f"{_CORE}.SecretProjection": "optional",
    f"{_CORE}.FileKeySelector": "optional",
    f"{_CORE}.ServiceAccountTokenProjection": "expirationSeconds",
    f"{_CORE}.ClusterTrustBundleProjection": "name signerName optional",
    f"{_CORE}.PodCertificateProjection": "maxExpirationSeconds",
    f"{_CORE}.CSIVolumeSource": "readOnly fsType",
    f"{_CORE}.AzureDiskVolumeSource": "cachingMode fsType readOnly kind",
    f"{_CORE}.ISCSIVolumeSource": "initiatorName",
    f"{_CORE}.HostPathVolumeSource": "type",
    f"{_CORE}.VolumeMount": "recursiveReadOnly mountPropagation",
    f"{_CORE}.PersistentVolumeClaimSpec": "storageClassName volumeMode volumeAttributesClassName",
    f"{_CORE}.PersistentVolumeClaimStatus": "currentVolumeAttributesClassName",
    f"{_CORE}.Toleration": "tolerationSeconds",
    f"{_CORE}.TopologySpreadConstraint": "minDomains nodeAffinityPolicy nodeTaintsPolicy",
    f"{_CORE}.PodDNSConfigOption": "value",
    f"{_CORE}.PodResourceClaim": "resourceClaimName resourceClaimTemplateName",
    f"{_CORE}.PodResourceClaimStatus": "resourceClaimName",
    f"{_CORE}.TypedLocalObjectReference": "apiGroup",
    f"{_CORE}.TypedObjectReference": "apiGroup namespace",
    f"{_CORE}.ServiceSpec": "allocateLoadBalancerNodePorts loadBalancerClass internalTrafficPolicy ipFamilyPolicy "
                            "trafficDistribution",
    f"{_CORE}.ClientIPConfig": "timeoutSeconds",
    f"{_CORE}.ServicePort": "appProtocol",
    f"{_CORE}.EndpointPort": "appProtocol",
    f"{_CORE}.EndpointAddress": "nodeName",
    f"{_CORE}.ConfigMap": "immutable",
    f"{_CORE}.Secret": "immutable",
    f"{_CORE}.ServiceAccount": "automountServiceAccountToken",
    f"{_CORE}.ContainerStatus": "started stopSignal",
    f"{_CORE}.ReplicationControllerSpec": "replicas",
    f"{_CORE}.NodeSwapStatus": "capacity",
    f"{_CORE}.NodeFeatures": "supplementalGroupsPolicy",
    f"{_CORE}.NodeRuntimeHandlerFeatures": "recursiveReadOnlyMounts userNamespaces",
    # apps/v1
    f"{_APPS}.DeploymentSpec": "replicas revisionHistoryLimit progressDeadlineSeconds",
    f"{_APPS}.ReplicaSetSpec": "replicas",
    f"{_APPS}.StatefulSetSpec": "replicas revisionHistoryLimit",
    f"{_APPS}.DaemonSetSpec": "revisionHistoryLimit",
    f"{_APPS}.RollingUpdateStatefulSetStrategy": "partition maxUnavailable",
    f"{_APPS}.RollingUpdateDeployment": "maxUnavailable maxSurge",
    f"{_APPS}.RollingUpdateDaemonSet": "maxUnavailable maxSurge",
    f"{_APPS}.DeploymentStatus": "collisionCount terminatingReplicas",
    f"{_APPS}.ReplicaSetStatus": "terminatingReplicas",
    f"{_APPS}.DaemonSetStatus": "collisionCount",
    f"{_APPS}.StatefulSetStatus": "collisionCount",
    # batch/v1
    f"{_BATCH}.JobSpec": "parallelism completions activeDeadlineSeconds backoffLimit backoffLimitPerIndex "
                         "maxFailedIndexes manualSelector ttlSecondsAfterFinished suspend podReplacementPolicy "
                         "managedBy",
    f"{_BATCH}.JobStatus": "terminating ready",
    f"{_BATCH}.CronJobSpec": "timeZone startingDeadlineSeconds suspend successfulJobsHistoryLimit "
                             "failedJobsHistoryLimit",
    f"{_BATCH}.PodFailurePolicyOnExitCodesRequirement": "containerName",
    f"{_BATCH}.SuccessPolicyRule": "succeededIndexes succeededCount",
    # autoscaling
    "k8s.io.api.autoscaling.v1.HorizontalPodAutoscalerSpec": "minReplicas targetCPUUtilizationPercentage",
    "k8s.io.api.autoscaling.v1.HorizontalPodAutoscalerStatus": "observedGeneration currentCPUUtilizationPercentage",
    "k8s.io.api.autoscaling.v1.ScaleSpec": "replicas",  # not a pointer, but 0 is the point of `scale --replicas=0`
    "k8s.io.api.autoscaling.v2.HorizontalPodAutoscalerSpec": "minReplicas",
    "k8s.io.api.autoscaling.v2.HorizontalPodAutoscalerStatus": "observedGeneration",
    "k8s.io.api.autoscaling.v2.HPAScalingRules": "stabilizationWindowSeconds selectPolicy",
    "k8s.io.api.autoscaling.v2.MetricTarget": "averageUtilization",
    "k8s.io.api.autoscaling.v2.MetricValueStatus": "averageUtilization",
    # others
    "k8s.io.api.scheduling.v1.PriorityClass": "value preemptionPolicy",  # value: `json:"value"`, 0 is valid
    "k8s.io.api.coordination.v1.LeaseSpec": "holderIdentity leaseDurationSeconds leaseTransitions strategy "
                                            "preferredHolder",
    "k8s.io.api.policy.v1.PodDisruptionBudgetSpec": "minAvailable maxUnavailable unhealthyPodEvictionPolicy",
    "k8s.io.api.networking.v1.IngressSpec": "ingressClassName",
    "k8s.io.api.authentication.v1.TokenRequestSpec": "expirationSeconds",
    "k8s.io.api.networking.v1.HTTPIngressPath": "pathType",
    "k8s.io.api.networking.v1.IngressPortStatus": "error",
    # meta/v1
    f"{_META}.DeleteOptions": "gracePeriodSeconds orphanDependents propagationPolicy "
                              "ignoreStoreReadErrorWithClusterBreakingPotential",
    f"{_META}.Preconditions": "uid resourceVersion",
    f"{_META}.ObjectMeta": "deletionGracePeriodSeconds",
    f"{_META}.OwnerReference": "controller blockOwnerDeletion",
})

INLINE: frozenset[tuple[str, str]] = _fields({
    f"{_CORE}.ConfigMapEnvSource": "localObjectReference",
    f"{_CORE}.ConfigMapKeySelector": "localObjectReference",
    f"{_CORE}.ConfigMapProjection": "localObjectReference",
    f"{_CORE}.ConfigMapVolumeSource": "localObjectReference",
    f"{_CORE}.SecretEnvSource": "localObjectReference",
    f"{_CORE}.SecretKeySelector": "localObjectReference",
    f"{_CORE}.SecretProjection": "localObjectReference",
    f"{_CORE}.Volume": "volumeSource",
    f"{_CORE}.PersistentVolumeSpec": "persistentVolumeSource",
    f"{_CORE}.Probe": "handler",
    f"{_CORE}.EphemeralContainer": "ephemeralContainerCommon",
    "k8s.io.api.networking.v1.IngressRule": "ingressRuleValue",
})
