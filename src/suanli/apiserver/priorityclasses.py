"""Built-in PriorityClasses, as kube-apiserver's ``scheduling/bootstrap-system-priority-classes`` hook.

:func:`system_priority_classes` are created at start-up (``system-node-critical`` 2000001000,
``system-cluster-critical`` 2000000000). :class:`SystemPriorityClassAdmission` enforces what
upstream's PriorityClass storage and validation do:

* deleting a system class → 403 ``this is a system priority class and cannot be deleted``;
* a class named ``system-…`` that is not one of them (name, value, ``globalDefault: false``) →
  422 on ``metadata.name``;
* any other class with ``value`` above 1000000000 (``HighestUserDefinablePriority``) → 422 on
  ``value``.
"""

from __future__ import annotations

from suanli.apimachinery.errors import ApiError, Cause
from suanli.apimachinery.objects import Obj
from suanli.apiserver.admission import AdmissionRequest

__all__ = ["HIGHEST_USER_DEFINABLE_PRIORITY", "SYSTEM_PRIORITY_CLASSES", "SystemPriorityClassAdmission",
           "system_priority_classes"]

HIGHEST_USER_DEFINABLE_PRIORITY = 1_000_000_000
SYSTEM_PREFIX = "system-"
#: name -> (value, description), as upstream's SystemPriorityClasses()
SYSTEM_PRIORITY_CLASSES: dict[str, tuple[int, str]] = {
    "system-node-critical": (2_000_001_000, "Used for system critical pods that must not be moved from their "
                                            "current node."),
    "system-cluster-critical": (2_000_000_000, "Used for system critical pods that must run in the cluster, "
                                               "but can be moved to another node if necessary."),
}


def system_priority_classes() -> list[Obj]:
    """The built-in PriorityClass objects to create when absent."""
    return [{"apiVersion": "scheduling.k8s.io/v1", "kind": "PriorityClass", "metadata": {"name": name},
             "value": value, "description": description, "globalDefault": False, "preemptionPolicy":
             "PreemptLowerPriority"}
            for name, (value, description) in SYSTEM_PRIORITY_CLASSES.items()]


class SystemPriorityClassAdmission:
    """Validating admission for ``priorityclasses`` (see the module docstring)."""

    name = "SystemPriorityClasses"
    resources = frozenset({"scheduling.k8s.io/priorityclasses"})

    def validate(self, request: AdmissionRequest) -> None:
        if request.operation == "DELETE":
            if request.name in SYSTEM_PRIORITY_CLASSES:
                raise ApiError.forbidden("priorityclasses", request.name,
                                         f'priorityclasses.scheduling.k8s.io "{request.name}" is forbidden: '
                                         "this is a system priority class and cannot be deleted")
            return
        obj = request.obj
        if obj is None or request.subresource:
            return
        name = str((obj.get("metadata") or {}).get("name") or request.name)
        value = obj.get("value")
        if name.startswith(SYSTEM_PREFIX):
            known = SYSTEM_PRIORITY_CLASSES.get(name)
            if known is None:
                problem = f"{name} is not a known system priority class"
            elif value != known[0] or bool(obj.get("globalDefault")):
                problem = f"{name} is a known system priority class, but its value or globalDefault differ"
            else:
                return
            raise ApiError.invalid("PriorityClass", name, [Cause(
                "metadata.name", "Forbidden: priority class names with 'system-' prefix are reserved for system use "
                f"only. error: {problem}", "FieldValueForbidden")], group="scheduling.k8s.io")
        if isinstance(value, int) and value > HIGHEST_USER_DEFINABLE_PRIORITY:
            raise ApiError.invalid("PriorityClass", name, [Cause(
                "value", f"Forbidden: maximum allowed value of a user defined priority is "
                f"{HIGHEST_USER_DEFINABLE_PRIORITY}", "FieldValueForbidden")], group="scheduling.k8s.io")
