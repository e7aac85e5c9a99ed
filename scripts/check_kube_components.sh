#!/usr/bin/env bash
# Manual acceptance check (issue 10): the real kube-scheduler and kube-controller-manager against
# `suanli up --only api`.
#
#   scripts/check_kube_components.sh /path/to/kube-scheduler /path/to/kube-controller-manager [workdir]
#
# This script does not build or download Kubernetes: bring your own binaries (v1.28 or newer).
# It starts `suanli up --only api` in WORKDIR (default: a new temp dir), writes kwok-style fake
# Ready nodes with kubectl (there are no node agents), starts both components with the kubeconfig
# Suanli writes, then applies a PodDisruptionBudget, a PV + PVC (bound by kube-controller-manager's
# binder), a Deployment, a StatefulSet and a CronJob, and plays the kubelet's part by marking bound
# pods Running/Ready. It waits (bounded) for each outcome, then greps both components' logs for
# informer/list/watch/decode errors. Exit status 0 = every check passed. Logs stay in WORKDIR.
set -uo pipefail

SCHED=${1:?usage: $0 KUBE_SCHEDULER KUBE_CONTROLLER_MANAGER [WORKDIR]}
KCM=${2:?usage: $0 KUBE_SCHEDULER KUBE_CONTROLLER_MANAGER [WORKDIR]}
WORK=${3:-$(mktemp -d /tmp/suanli-kubecheck.XXXXXX)}
SUANLI=${SUANLI:-suanli}
PORT=${PORT:-16443}
NS=kubecheck
mkdir -p "$WORK"
DATA=$WORK/data KCFG=$WORK/kubeconfig
export KUBECONFIG=$KCFG
failures=0
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null; done; wait 2>/dev/null; }
trap cleanup EXIT

check() {  # check DESCRIPTION TIMEOUT_SECONDS COMMAND...: poll COMMAND until it succeeds
    local what=$1 limit=$2; shift 2
    local end=$((SECONDS + limit))
    until "$@" >/dev/null 2>&1; do
        if ((SECONDS > end)); then echo "FAIL: $what"; failures=$((failures + 1)); return 1; fi
        play_kubelet; sleep 1
    done
    echo "ok:   $what"
}

play_kubelet() {  # renew node leases; mark every bound, not yet running pod Running and Ready (no kubelet)
    local now; now=$(date -u +%Y-%m-%dT%H:%M:%SZ)
    local micro; micro=$(date -u +%Y-%m-%dT%H:%M:%S.000000Z)
    for n in fake-0 fake-1; do  # the node lifecycle controller marks nodes without a fresh Lease unreachable
        kubectl apply -f - >/dev/null 2>&1 <<YAML
apiVersion: coordination.k8s.io/v1
kind: Lease
metadata: {name: $n, namespace: kube-node-lease}
spec: {holderIdentity: $n, leaseDurationSeconds: 40, renewTime: "$micro"}
YAML
    done
    kubectl get pods -A -o jsonpath='{range .items[?(@.spec.nodeName)]}{.metadata.namespace}/{.metadata.name}/{.status.phase}{"\n"}{end}' 2>/dev/null |
    while IFS=/ read -r ns name phase; do
        [[ -n $name && $phase == Pending ]] || continue
        kubectl -n "$ns" patch pod "$name" --subresource=status --type=merge -p "{\"status\":{\"phase\":\"Running\",\"startTime\":\"$now\",\"podIP\":\"10.244.0.10\",\"conditions\":[{\"type\":\"PodScheduled\",\"status\":\"True\"},{\"type\":\"Initialized\",\"status\":\"True\"},{\"type\":\"ContainersReady\",\"status\":\"True\",\"lastTransitionTime\":\"$now\"},{\"type\":\"Ready\",\"status\":\"True\",\"lastTransitionTime\":\"$now\"}]}}" >/dev/null 2>&1
    done
    # Jobs' pods complete at once so the CronJob's Job succeeds
    kubectl get pods -A -l batch.kubernetes.io/controller-uid -o jsonpath='{range .items[?(@.status.phase=="Running")]}{.metadata.namespace}/{.metadata.name}{"\n"}{end}' 2>/dev/null |
    while IFS=/ read -r ns name; do
        [[ -n $name ]] && kubectl -n "$ns" patch pod "$name" --subresource=status --type=merge -p '{"status":{"phase":"Succeeded"}}' >/dev/null 2>&1
    done
}

# 1. the API server alone
"$SUANLI" up --only api --port "$PORT" --data-dir "$DATA" --kubeconfig "$KCFG" >"$WORK/suanli.log" 2>&1 &
pids+=($!)
for _ in $(seq 120); do kubectl get --raw /readyz >/dev/null 2>&1 && break; sleep 0.5; done
kubectl get --raw /readyz >/dev/null || { echo "suanli up did not become ready"; cat "$WORK/suanli.log"; exit 1; }

# 2. kwok-style fake nodes: Ready, with allocatable
for n in fake-0 fake-1; do
    kubectl apply -f - >/dev/null <<YAML
apiVersion: v1
kind: Node
metadata: {name: $n, labels: {kubernetes.io/hostname: $n, type: fake}}
YAML
    kubectl patch node "$n" --subresource=status --type=merge -p '{"status":{"allocatable":{"cpu":"16","memory":"64Gi","pods":"110"},"capacity":{"cpu":"16","memory":"64Gi","pods":"110"},"conditions":[{"type":"Ready","status":"True","reason":"KubeletReady","message":"fake"}]}}' >/dev/null
done
play_kubelet

# 3. the real components
"$SCHED" --kubeconfig "$KCFG" --leader-elect=false --secure-port=0 -v=2 >"$WORK/kube-scheduler.log" 2>&1 &
pids+=($!)
"$KCM" --kubeconfig "$KCFG" --controllers='*' --leader-elect=false --use-service-account-credentials=false \
    --secure-port=0 --service-account-private-key-file="$DATA/sa.key" --root-ca-file="$DATA/tls/ca.crt" \
    --cluster-signing-cert-file="$DATA/tls/ca.crt" --cluster-signing-key-file="$DATA/tls/ca.key" \
    --allocate-node-cidrs=true --cluster-cidr=10.244.0.0/16 -v=2 >"$WORK/kube-controller-manager.log" 2>&1 &
pids+=($!)

# 4. workloads
kubectl create namespace "$NS" >/dev/null
kubectl -n "$NS" apply -f - >/dev/null <<'YAML'
apiVersion: policy/v1
kind: PodDisruptionBudget
metadata: {name: web}
spec: {minAvailable: 1, selector: {matchLabels: {app: web}}}
---
apiVersion: v1
kind: PersistentVolume
metadata: {name: kubecheck-pv}
spec: {capacity: {storage: 1Gi}, accessModes: [ReadWriteOnce], storageClassName: manual, hostPath: {path: /tmp/kubecheck-pv}}
---
apiVersion: v1
kind: PersistentVolumeClaim
metadata: {name: data}
spec: {accessModes: [ReadWriteOnce], storageClassName: manual, resources: {requests: {storage: 1Gi}}}
---
apiVersion: v1
kind: Pod
metadata: {name: with-pvc}
spec:
  containers: [{name: main, image: busybox}]
  volumes: [{name: data, persistentVolumeClaim: {claimName: data}}]
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: web}
spec:
  replicas: 3
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec: {containers: [{name: main, image: nginx:1.27}]}
---
apiVersion: apps/v1
kind: StatefulSet
metadata: {name: db}
spec:
  replicas: 2
  serviceName: db
  selector: {matchLabels: {app: db}}
  template:
    metadata: {labels: {app: db}}
    spec: {containers: [{name: main, image: busybox}]}
---
apiVersion: batch/v1
kind: CronJob
metadata: {name: tick}
spec:
  schedule: "* * * * *"
  jobTemplate:
    spec:
      template:
        spec: {restartPolicy: Never, containers: [{name: main, image: busybox}]}
YAML

bound() { [[ $(kubectl -n "$NS" get "$@" -o jsonpath='{.spec.nodeName}') != "" ]]; }
check "kube-controller-manager binds the PVC to the PV" 90 \
    bash -c "[[ \$(kubectl -n $NS get pvc data -o jsonpath='{.status.phase}') == Bound ]]"
check "kube-scheduler binds the pod using the PVC" 90 bound pod with-pvc
check "Deployment rolled out (3/3 available)" 120 \
    bash -c "[[ \$(kubectl -n $NS get deploy web -o jsonpath='{.status.availableReplicas}') == 3 ]]"
check "PDB status computed by the disruption controller" 60 \
    bash -c "[[ \$(kubectl -n $NS get pdb web -o jsonpath='{.status.currentHealthy}') == 3 ]]"
check "StatefulSet rolled out (2/2 ready, ordinal names)" 120 \
    bash -c "[[ \$(kubectl -n $NS get sts db -o jsonpath='{.status.readyReplicas}') == 2 ]] && kubectl -n $NS get pod db-0 db-1"
check "CronJob created a Job that completed" 150 \
    bash -c "kubectl -n $NS get jobs -o jsonpath='{.items[*].status.succeeded}' | grep -q 1"

# 5. informer / list / watch / decode errors in the components' logs. client-go's
# utilruntime.HandleError(WithContext) logs its errors with the caller's own message and the key
# logger="UnhandledError" (only HandleError without a message says "Unhandled Error"): match both.
pattern='failed to list|Failed to watch|failed to watch|the server could not find the requested resource|unable to decode|failed to decode|couldn.t get resource list|Unhandled Error|logger="UnhandledError"|the server rejected our request'
# Errors upstream itself logs and retries on any API server, listed (not failed on) so a reader can
# judge them: optimistic-concurrency conflicts (409), a controller's informer not yet showing its
# own write (kube-controller-manager 1.36's read-your-writes requeue), and the scheduler's
# PostFilter on a pod whose immediate PVC is not bound yet (it binds once the PV binder ran).
transient='the object has been modified|is not as new as written version|Status after running PostFilter plugins for pod.*status="not found"'
for log in kube-scheduler kube-controller-manager; do
    if grep -Ei "$pattern" "$WORK/$log.log" | grep -Evq "$transient"; then
        echo "FAIL: $log logged informer/API errors:"
        grep -Ei "$pattern" "$WORK/$log.log" | grep -Ev "$transient" | sort | uniq -c | sort -rn | head -20
        failures=$((failures + 1))
    else
        echo "ok:   $log logged no informer/list/watch/decode errors"
    fi
    if grep -Ei "$pattern" "$WORK/$log.log" | grep -Eq "$transient"; then
        echo "note: $log logged transient errors it retries (as on any API server):"
        grep -Ei "$pattern" "$WORK/$log.log" | grep -E "$transient" | sed -E 's/^[^"]*"//' | cut -c1-160 | sort | uniq -c
    fi
done
echo "logs in $WORK; failures: $failures"
exit $((failures > 0))
