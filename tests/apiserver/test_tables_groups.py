"""``kubectl get`` rows for the issue-10 kinds (upstream printers.go v1.28 columns)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from suanli.apiserver.tables import printer_for
from suanli.apiserver.tables_groups import access_modes_string, csr_condition
from suanli.kinds.builtin import builtin_resource_types

NOW = datetime(2026, 1, 1, 0, 10, 0, tzinfo=UTC)
CREATED = "2026-01-01T00:00:00Z"
TYPES = {(rt.group, rt.plural): rt for rt in builtin_resource_types()}


def row(group: str, plural: str, obj: dict[str, Any]) -> dict[str, Any]:
    printer = printer_for(TYPES[(group, plural)])
    obj.setdefault("metadata", {}).setdefault("creationTimestamp", CREATED)
    return dict(zip((c.name for c in printer.columns), printer.row(obj, NOW), strict=True))


def test_persistent_volume_row() -> None:
    cells = row("", "persistentvolumes", {
        "metadata": {"name": "pv1"},
        "spec": {"capacity": {"storage": "5Gi"}, "accessModes": ["ReadWriteMany", "ReadWriteOnce"],
                 "persistentVolumeReclaimPolicy": "Retain", "storageClassName": "gold",
                 "claimRef": {"namespace": "ns", "name": "data"}},
        "status": {"phase": "Bound"}})
    assert cells == {"Name": "pv1", "Capacity": "5Gi", "Access Modes": "RWO,RWX", "Reclaim Policy": "Retain",
                     "Status": "Bound", "Claim": "ns/data", "StorageClass": "gold", "Reason": "", "Age": "10m",
                     "VolumeMode": "Filesystem"}


@pytest.mark.parametrize(
    ("status", "deleting", "expected"),
    [
        pytest.param({"phase": "Bound", "capacity": {"storage": "1Gi"}, "accessModes": ["ReadWriteOnce"]}, False,
                     ("Bound", "1Gi", "RWO"), id="bound-claim-shows-capacity"),
        pytest.param({"phase": "Pending"}, False, ("Pending", "", ""), id="pending-claim-shows-no-capacity"),
        pytest.param({"phase": "Bound", "capacity": {"storage": "1Gi"}}, True, ("Terminating", "", ""),
                     id="deleting-claim-is-terminating"),
    ],
)
def test_persistent_volume_claim_row(status: dict[str, Any], deleting: bool, expected: tuple[str, str, str]) -> None:
    meta: dict[str, Any] = {"name": "c"}
    if deleting:
        meta["deletionTimestamp"] = CREATED
    cells = row("", "persistentvolumeclaims", {"metadata": meta, "spec": {"storageClassName": "standard"},
                                               "status": status})
    assert (cells["Status"], cells["Capacity"], cells["Access Modes"]) == expected


@pytest.mark.parametrize(
    ("annotations", "name"),
    [({"storageclass.kubernetes.io/is-default-class": "true"}, "standard (default)"),
     ({"storageclass.beta.kubernetes.io/is-default-class": "true"}, "standard (default)"),
     ({"storageclass.kubernetes.io/is-default-class": "false"}, "standard"), ({}, "standard")],
)
def test_storage_class_row_marks_the_default(annotations: dict[str, str], name: str) -> None:
    cells = row("storage.k8s.io", "storageclasses", {"metadata": {"name": "standard", "annotations": annotations},
                                                     "provisioner": "p"})
    assert cells["Name"] == name
    assert (cells["ReclaimPolicy"], cells["VolumeBindingMode"], cells["AllowVolumeExpansion"]) == \
        ("Delete", "Immediate", False)


@pytest.mark.parametrize(
    ("spec", "expected"),
    [({"minAvailable": 2}, ("2", "N/A")), ({"maxUnavailable": "25%"}, ("N/A", "25%"))],
)
def test_pdb_row(spec: dict[str, Any], expected: tuple[str, str]) -> None:
    cells = row("policy", "poddisruptionbudgets", {"metadata": {"name": "b"}, "spec": spec,
                                                   "status": {"disruptionsAllowed": 1}})
    assert (cells["Min Available"], cells["Max Unavailable"], cells["Allowed Disruptions"]) == (*expected, 1)


@pytest.mark.parametrize(
    ("status", "expected"),
    [({}, "Pending"), ({"conditions": [{"type": "Approved", "status": "True"}]}, "Approved"),
     ({"conditions": [{"type": "Approved", "status": "True"}], "certificate": "eA=="}, "Approved,Issued"),
     ({"conditions": [{"type": "Denied", "status": "True"}]}, "Denied")],
)
def test_csr_condition(status: dict[str, Any], expected: str) -> None:
    assert csr_condition({"status": status}) == expected


@pytest.mark.parametrize(
    ("modes", "expected"),
    [(["ReadWriteOncePod", "ReadOnlyMany", "ReadWriteOnce"], "RWO,ROX,RWOP"), ([], ""), (None, "")],
)
def test_access_modes_string(modes: Any, expected: str) -> None:
    assert access_modes_string(modes) == expected


def test_every_new_kind_has_a_printer() -> None:
    for key in [("", "persistentvolumes"), ("", "replicationcontrollers"), ("storage.k8s.io", "csinodes"),
                ("storage.k8s.io", "csidrivers"), ("storage.k8s.io", "csistoragecapacities"),
                ("storage.k8s.io", "volumeattachments"), ("networking.k8s.io", "ingresses"),
                ("networking.k8s.io", "ingressclasses"), ("networking.k8s.io", "networkpolicies"),
                ("discovery.k8s.io", "endpointslices"), ("node.k8s.io", "runtimeclasses"),
                ("apiregistration.k8s.io", "apiservices"), ("certificates.k8s.io", "certificatesigningrequests"),
                ("admissionregistration.k8s.io", "validatingwebhookconfigurations"),
                ("flowcontrol.apiserver.k8s.io", "flowschemas"),
                ("flowcontrol.apiserver.k8s.io", "prioritylevelconfigurations")]:
        printer = printer_for(TYPES[key])
        cells = printer.row({"metadata": {"name": "x", "creationTimestamp": CREATED}}, NOW)
        assert len(cells) == len(printer.columns) and cells[0] == "x" and printer.columns[0].name == "Name", key
