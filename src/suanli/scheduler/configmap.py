"""The scheduler ConfigMap ``volcano-system/volcano-scheduler-configmap``, as Volcano's installer makes it.

Volcano's helm chart renders its ``volcano-scheduler.conf`` into this ConfigMap and mounts it as
the file ``vc-scheduler --scheduler-conf`` reads, so the ConfigMap *is* the running
configuration and editing it reconfigures the scheduler. :func:`ensure_scheduler_configmap`
gives ``suanli up`` the same: it creates the namespace and the ConfigMap holding the
configuration ``suanli up`` runs (the ``--scheduler-config FILE`` text, else
:data:`~suanli.scheduler.core.config.DEFAULT_CONFIG_TEXT`), and never overwrites a user's edit:

* absent → created with that text;
* holding exactly what Suanli last wrote (annotation :data:`APPLIED_ANNOTATION`, the SHA-256 of
  that text) → replaced by the new text (another ``--scheduler-config`` file, or a newer default);
* edited since (or created by the user) → kept; if a ``--scheduler-config`` file was not applied
  because of that, a warning is logged and a Warning Event ``ConfigurationNotApplied`` is
  recorded on the ConfigMap (delete the ConfigMap and restart to apply the file).
"""

from __future__ import annotations

import hashlib
import logging
from typing import Literal

from suanli.apimachinery.errors import ApiError
from suanli.apimachinery.objects import Obj
from suanli.client.protocol import Client
from suanli.runtime.events import EventRecorder
from suanli.wire import CONFIGMAPS, NAMESPACES

__all__ = [
    "APPLIED_ANNOTATION",
    "CONFIGMAPS",
    "CONFIGMAP_KEY",
    "CONFIGMAP_NAME",
    "CONFIGMAP_NAMESPACE",
    "ensure_scheduler_configmap",
]

log = logging.getLogger(__name__)

CONFIGMAP_NAME = "volcano-scheduler-configmap"
CONFIGMAP_NAMESPACE = "volcano-system"
CONFIGMAP_KEY = "volcano-scheduler.conf"
#: SHA-256 (hex) of the ``volcano-scheduler.conf`` text Suanli last wrote into the ConfigMap.
APPLIED_ANNOTATION = "suanli.io/applied-scheduler-config-sha256"

Outcome = Literal["created", "updated", "unchanged", "kept"]


def _sha256(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


async def _ensure_namespace(client: Client) -> None:
    try:
        await client.create(NAMESPACES, {"apiVersion": "v1", "kind": "Namespace",
                                         "metadata": {"name": CONFIGMAP_NAMESPACE}})
    except ApiError as err:
        if err.code != 409:
            raise


async def ensure_scheduler_configmap(client: Client, text: str, *, source: str | None = None,
                                     events: EventRecorder | None = None) -> Outcome:
    """Make the scheduler ConfigMap hold ``text`` unless a user edited it (see the module docstring).

    ``source`` names the ``--scheduler-config`` file ``text`` came from (None: the built-in
    default). Returns what was done: ``created``, ``updated``, ``unchanged`` or ``kept`` (an edit).
    """
    await _ensure_namespace(client)
    digest = _sha256(text)
    try:
        cm = await client.get(CONFIGMAPS, CONFIGMAP_NAME, CONFIGMAP_NAMESPACE)
    except ApiError as err:
        if err.code != 404:
            raise
        obj: Obj = {"apiVersion": "v1", "kind": "ConfigMap",
                    "metadata": {"name": CONFIGMAP_NAME, "namespace": CONFIGMAP_NAMESPACE,
                                 "annotations": {APPLIED_ANNOTATION: digest}},
                    "data": {CONFIGMAP_KEY: text}}
        try:
            await client.create(CONFIGMAPS, obj, CONFIGMAP_NAMESPACE)
        except ApiError as again:
            if again.code != 409:
                raise
            return "kept"  # created concurrently by someone else: theirs stands
        log.info("created ConfigMap %s/%s from %s", CONFIGMAP_NAMESPACE, CONFIGMAP_NAME, source or "the default")
        return "created"
    current = str((cm.get("data") or {}).get(CONFIGMAP_KEY) or "")
    if current == text:
        return "unchanged"
    applied = ((cm.get("metadata") or {}).get("annotations") or {}).get(APPLIED_ANNOTATION)
    if applied == _sha256(current):
        await client.patch(CONFIGMAPS, CONFIGMAP_NAME,
                           {"metadata": {"annotations": {APPLIED_ANNOTATION: digest}}, "data": {CONFIGMAP_KEY: text}},
                           CONFIGMAP_NAMESPACE, patch_type="merge")
        log.info("updated ConfigMap %s/%s from %s", CONFIGMAP_NAMESPACE, CONFIGMAP_NAME, source or "the default")
        return "updated"
    if source is not None:
        message = (f"the ConfigMap was edited, so it was kept and --scheduler-config {source} was not applied; "
                   f"delete the ConfigMap and restart to apply the file")
        log.warning("%s/%s: %s", CONFIGMAP_NAMESPACE, CONFIGMAP_NAME, message)
        if events is not None:
            await events.record(cm, "Warning", "ConfigurationNotApplied", message)
    return "kept"
