"""Server-side printers for the storage, policy, networking, discovery, node, certificates,
admissionregistration, apiregistration and flowcontrol groups, plus PersistentVolumes,
PersistentVolumeClaims and ReplicationControllers.

Columns follow upstream ``pkg/printers/internalversion/printers.go`` (v1.28 column sets).
The strategies of these kinds (:mod:`suanli.kinds.strategy`) carry them.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from suanli.apimachinery.objects import Obj
from suanli.kinds.printers import AGE, NAME, Column, Printer, human_duration, translate_timestamp
from suanli.kinds.storageclass import is_default_class

__all__ = ["access_modes_string", "csr_condition"]

_MODES = {"ReadWriteOnce": "RWO", "ReadOnlyMany": "ROX", "ReadWriteMany": "RWX", "ReadWriteOncePod": "RWOP"}


def _d(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _l(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []


def _name(obj: Obj) -> str:
    return str(_d(obj.get("metadata")).get("name") or "")


def _age(obj: Obj, now: datetime) -> str:
    return translate_timestamp(_d(obj.get("metadata")).get("creationTimestamp"), now)


def _c(name: str, type_: str = "string", priority: int = 0) -> Column:
    return Column(name, type_, "", "", priority)


def access_modes_string(modes: Any) -> str:
    """``RWO,ROX`` in upstream order (RWO, ROX, RWX, RWOP), each mode once."""
    present = {m for m in _l(modes) if isinstance(m, str)}
    return ",".join(short for mode, short in _MODES.items() if mode in present)


def _pv_row(pv: Obj, now: datetime) -> list[Any]:
    spec, status = _d(pv.get("spec")), _d(pv.get("status"))
    ref = _d(spec.get("claimRef"))
    claim = f"{ref.get('namespace')}/{ref.get('name')}" if ref.get("name") else ""
    return [_name(pv), str(_d(spec.get("capacity")).get("storage") or ""), access_modes_string(spec.get("accessModes")),
            str(spec.get("persistentVolumeReclaimPolicy") or ""), str(status.get("phase") or ""), claim,
            str(spec.get("storageClassName") or ""), str(status.get("reason") or ""), _age(pv, now),
            str(spec.get("volumeMode") or "Filesystem")]


def _pvc_row(pvc: Obj, now: datetime) -> list[Any]:
    spec, status = _d(pvc.get("spec")), _d(pvc.get("status"))
    phase = str(status.get("phase") or "")
    if _d(pvc.get("metadata")).get("deletionTimestamp"):
        phase = "Terminating"
    bound = phase == "Bound"
    return [_name(pvc), phase, str(spec.get("volumeName") or ""),
            str(_d(status.get("capacity")).get("storage") or "") if bound else "",
            access_modes_string(status.get("accessModes")) if bound else "",
            str(spec.get("storageClassName") or ""), _age(pvc, now), str(spec.get("volumeMode") or "Filesystem")]


def _rc_row(rc: Obj, now: datetime) -> list[Any]:
    spec, status = _d(rc.get("spec")), _d(rc.get("status"))
    containers = _l(_d(_d(spec.get("template")).get("spec")).get("containers"))
    names = ",".join(str(_d(c).get("name") or "") for c in containers)
    images = ",".join(str(_d(c).get("image") or "") for c in containers)
    selector = ",".join(f"{k}={v}" for k, v in sorted(_d(spec.get("selector")).items()))
    replicas = spec.get("replicas")
    return [_name(rc), 1 if replicas is None else int(replicas), int(status.get("replicas") or 0),
            int(status.get("readyReplicas") or 0), _age(rc, now), names, images, selector]


def _pdb_row(pdb: Obj, now: datetime) -> list[Any]:
    spec, status = _d(pdb.get("spec")), _d(pdb.get("status"))
    min_a, max_u = spec.get("minAvailable"), spec.get("maxUnavailable")
    return [_name(pdb), "N/A" if min_a is None else str(min_a), "N/A" if max_u is None else str(max_u),
            int(status.get("disruptionsAllowed") or 0), _age(pdb, now)]


def _storageclass_row(sc: Obj, now: datetime) -> list[Any]:
    name = _name(sc) + (" (default)" if is_default_class(sc) else "")
    return [name, str(sc.get("provisioner") or ""), str(sc.get("reclaimPolicy") or "Delete"),
            str(sc.get("volumeBindingMode") or "Immediate"), bool(sc.get("allowVolumeExpansion")), _age(sc, now)]


def _csinode_row(n: Obj, now: datetime) -> list[Any]:
    return [_name(n), len(_l(_d(n.get("spec")).get("drivers"))), _age(n, now)]


def _csidriver_row(d: Obj, now: datetime) -> list[Any]:
    spec = _d(d.get("spec"))
    tokens = ",".join(str(_d(t).get("audience") or "") for t in _l(spec.get("tokenRequests"))) or "<unset>"
    modes = ",".join(str(m) for m in _l(spec.get("volumeLifecycleModes"))) or "<none>"

    def flag(key: str) -> Any:
        value = spec.get(key)
        return "unknown" if value is None else bool(value)

    return [_name(d), flag("attachRequired"), flag("podInfoOnMount"), flag("storageCapacity"), tokens,
            flag("requiresRepublish"), modes, _age(d, now)]


def _csisc_row(c: Obj, now: datetime) -> list[Any]:
    return [_name(c), str(c.get("storageClassName") or ""), str(c.get("capacity") or ""), _age(c, now)]


def _va_row(va: Obj, now: datetime) -> list[Any]:
    spec = _d(va.get("spec"))
    return [_name(va), str(spec.get("attacher") or ""), str(_d(spec.get("source")).get("persistentVolumeName") or ""),
            str(spec.get("nodeName") or ""), bool(_d(va.get("status")).get("attached")), _age(va, now)]


def _ingress_row(ing: Obj, now: datetime) -> list[Any]:
    spec = _d(ing.get("spec"))
    hosts = [str(_d(r).get("host")) for r in _l(spec.get("rules")) if _d(r).get("host")]
    host_text = ",".join(hosts[:4]) + (f" + {len(hosts) - 4} more..." if len(hosts) > 4 else "") if hosts else "*"
    addrs = [str(_d(i).get("ip") or _d(i).get("hostname") or "")
             for i in _l(_d(_d(ing.get("status")).get("loadBalancer")).get("ingress"))]
    ports = "80, 443" if spec.get("tls") else "80"
    return [_name(ing), str(spec.get("ingressClassName") or "<none>"), host_text, ",".join(a for a in addrs if a),
            ports, _age(ing, now)]


def _ingressclass_row(ic: Obj, now: datetime) -> list[Any]:
    spec = _d(ic.get("spec"))
    params = _d(spec.get("parameters"))
    ptext = "<none>"
    if params:
        group = f".{params['apiGroup']}" if params.get("apiGroup") else ""
        ptext = f"{params.get('kind')}{group}/{params.get('name')}"
    return [_name(ic), str(spec.get("controller") or ""), ptext, _age(ic, now)]


def _netpol_row(np: Obj, now: datetime) -> list[Any]:
    sel = _d(_d(np.get("spec")).get("podSelector"))
    text = ",".join(f"{k}={v}" for k, v in sorted(_d(sel.get("matchLabels")).items()))
    for expr in _l(sel.get("matchExpressions")):
        e = _d(expr)
        op = str(e.get("operator") or "").lower()
        values = ",".join(str(v) for v in _l(e.get("values")))
        part = f"{e.get('key')} {op} ({values})" if op in ("in", "notin") else (
            str(e.get("key")) if op == "exists" else f"!{e.get('key')}")
        text = f"{text},{part}" if text else part
    return [_name(np), text or "<none>", _age(np, now)]


def _endpointslice_row(es: Obj, now: datetime) -> list[Any]:
    ports = [str(_d(p).get("port")) for p in _l(es.get("ports")) if _d(p).get("port") is not None]
    addrs = [str(a) for e in _l(es.get("endpoints")) for a in _l(_d(e).get("addresses"))]
    addr_text = ",".join(addrs[:3]) + (f" + {len(addrs) - 3} more..." if len(addrs) > 3 else "")
    port_text = ",".join(ports[:3]) + (f" + {len(ports) - 3} more..." if len(ports) > 3 else "")
    return [_name(es), str(es.get("addressType") or ""), port_text or "<unset>", addr_text or "<unset>",
            _age(es, now)]


def _runtimeclass_row(rc: Obj, now: datetime) -> list[Any]:
    return [_name(rc), str(rc.get("handler") or ""), _age(rc, now)]


def _apiservice_row(a: Obj, now: datetime) -> list[Any]:
    svc = _d(_d(a.get("spec")).get("service"))
    service = f"{svc.get('namespace')}/{svc.get('name')}" if svc else "Local"
    available = "Unknown"
    for c in _l(_d(a.get("status")).get("conditions")):
        if _d(c).get("type") == "Available":
            available = str(c.get("status"))
            if c.get("status") != "True":
                available = f"{c.get('status')} ({c.get('reason')})"
    return [_name(a), service, available, _age(a, now)]


def csr_condition(csr: Obj) -> str:
    """``Approved,Issued`` / ``Denied`` / ``Pending`` as kubectl shows a CSR's state."""
    conds = [str(_d(c).get("type")) for c in _l(_d(csr.get("status")).get("conditions"))
             if _d(c).get("status", "True") == "True"]
    if _d(csr.get("status")).get("certificate"):
        conds.append("Issued")
    return ",".join(conds) or "Pending"


def _csr_row(csr: Obj, now: datetime) -> list[Any]:
    spec = _d(csr.get("spec"))
    dur = spec.get("expirationSeconds")
    return [_name(csr), _age(csr, now), str(spec.get("signerName") or ""), str(spec.get("username") or ""),
            human_duration(float(dur)) if isinstance(dur, int) else "<none>", csr_condition(csr)]


def _webhooks_row(cfg: Obj, now: datetime) -> list[Any]:
    return [_name(cfg), len(_l(cfg.get("webhooks"))), _age(cfg, now)]


def _flowschema_row(fs: Obj, now: datetime) -> list[Any]:
    spec = _d(fs.get("spec"))
    dist = _d(spec.get("distinguisherMethod")).get("type") or "<none>"
    missing = "?"
    for c in _l(_d(fs.get("status")).get("conditions")):
        if _d(c).get("type") == "Dangling":
            missing = str(c.get("status"))
    return [_name(fs), str(_d(spec.get("priorityLevelConfiguration")).get("name") or ""),
            int(spec.get("matchingPrecedence") or 0), str(dist), _age(fs, now), missing]


def _plc_row(plc: Obj, now: datetime) -> list[Any]:
    spec = _d(plc.get("spec"))
    limited = _d(spec.get("limited"))
    queuing = _d(_d(limited.get("limitResponse")).get("queuing"))
    shares = limited.get("nominalConcurrencyShares")
    return [_name(plc), str(spec.get("type") or ""), "<none>" if shares is None else str(shares),
            str(queuing.get("queues") or "<none>"), str(queuing.get("handSize") or "<none>"),
            str(queuing.get("queueLengthLimit") or "<none>"), _age(plc, now)]


def _quota_row(quota: Obj, now: datetime) -> list[Any]:
    """Upstream ``printResourceQuota``: ``name: used/hard`` per ``status.hard`` resource (sorted),
    ``limits.*`` in the LIMIT column, everything else in REQUEST."""
    status = _d(quota.get("status"))
    hard, used = _d(status.get("hard")), _d(status.get("used"))
    request: list[str] = []
    limit: list[str] = []
    for name in sorted(hard):
        (limit if name.split(".", 1)[0] == "limits" and "." in name else request).append(
            f"{name}: {used.get(name, '0')}/{hard[name]}")
    return [_name(quota), _age(quota, now), ", ".join(request), ", ".join(limit)]


def _limitrange_row(lr: Obj, now: datetime) -> list[Any]:
    return [_name(lr), _d(lr.get("metadata")).get("creationTimestamp")]


RESOURCEQUOTAS = Printer((NAME, AGE, _c("Request"), _c("Limit")), _quota_row)
LIMITRANGES = Printer((NAME, Column("Created At", "date", "", "", 0)), _limitrange_row)
PERSISTENTVOLUMES = Printer(
    (NAME, _c("Capacity"), _c("Access Modes"), _c("Reclaim Policy"), _c("Status"), _c("Claim"), _c("StorageClass"),
     _c("Reason"), AGE, _c("VolumeMode", priority=1)),
    _pv_row,
)
PERSISTENTVOLUMECLAIMS = Printer(
    (NAME, _c("Status"), _c("Volume"), _c("Capacity"), _c("Access Modes"), _c("StorageClass"), AGE,
     _c("VolumeMode", priority=1)),
    _pvc_row,
)
REPLICATIONCONTROLLERS = Printer(
    (NAME, _c("Desired", "integer"), _c("Current", "integer"), _c("Ready", "integer"), AGE,
     _c("Containers", priority=1), _c("Images", priority=1), _c("Selector", priority=1)),
    _rc_row,
)
PODDISRUPTIONBUDGETS = Printer(
    (NAME, _c("Min Available"), _c("Max Unavailable"), _c("Allowed Disruptions", "integer"), AGE),
    _pdb_row,
)
STORAGECLASSES = Printer(
    (NAME, _c("Provisioner"), _c("ReclaimPolicy"), _c("VolumeBindingMode"), _c("AllowVolumeExpansion", "boolean"),
     AGE),
    _storageclass_row,
)
CSINODES = Printer((NAME, _c("Drivers", "integer"), AGE), _csinode_row)
CSIDRIVERS = Printer(
    (NAME, _c("AttachRequired", "boolean"), _c("PodInfoOnMount", "boolean"), _c("StorageCapacity", "boolean"),
     _c("TokenRequests"), _c("RequiresRepublish", "boolean"), _c("Modes"), AGE),
    _csidriver_row,
)
CSISTORAGECAPACITIES = Printer((NAME, _c("StorageClassName"), _c("Capacity"), AGE), _csisc_row)
VOLUMEATTACHMENTS = Printer((NAME, _c("Attacher"), _c("PV"), _c("Node"), _c("Attached", "boolean"), AGE), _va_row)
INGRESSES = Printer((NAME, _c("Class"), _c("Hosts"), _c("Address"), _c("Ports"), AGE), _ingress_row)
INGRESSCLASSES = Printer((NAME, _c("Controller"), _c("Parameters"), AGE), _ingressclass_row)
NETWORKPOLICIES = Printer((NAME, _c("Pod-Selector"), AGE), _netpol_row)
ENDPOINTSLICES = Printer((NAME, _c("AddressType"), _c("Ports"), _c("Endpoints"), AGE), _endpointslice_row)
RUNTIMECLASSES = Printer((NAME, _c("Handler"), AGE), _runtimeclass_row)
APISERVICES = Printer((NAME, _c("Service"), _c("Available"), AGE), _apiservice_row)
CERTIFICATESIGNINGREQUESTS = Printer(
    (NAME, AGE, _c("SignerName"), _c("Requestor"), _c("RequestedDuration"), _c("Condition")),
    _csr_row,
)
WEBHOOK_CONFIGURATIONS = Printer((NAME, _c("Webhooks", "integer"), AGE), _webhooks_row)
FLOWSCHEMAS = Printer(
    (NAME, _c("PriorityLevel"), _c("MatchingPrecedence", "integer"), _c("DistinguisherMethod"), AGE, _c("MissingPL")),
    _flowschema_row,
)
PRIORITYLEVELCONFIGURATIONS = Printer(
    (NAME, _c("Type"), _c("NominalConcurrencyShares"), _c("Queues"), _c("HandSize"), _c("QueueLengthLimit"), AGE),
    _plc_row,
)
