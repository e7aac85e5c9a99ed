"""API Priority and Fairness bootstrap and status, as kube-apiserver keeps them (no enforcement).

* **Ensurer** (upstream ``pkg/registry/flowcontrol/ensurer``, run at start and every minute):
  the objects of :mod:`suanli.kinds.flowcontrol` are created when missing. Mandatory ones
  (``exempt``, ``catch-all``) always get their spec back (the ``exempt`` level keeps the
  user-settable ``spec.exempt`` values); suggested ones are updated only while their annotation
  ``apf.kubernetes.io/autoupdate-spec`` is ``"true"`` — without a valid annotation, only while
  ``metadata.generation`` is 1 (never edited), and the decision is written back into the
  annotation.
* **Dangling condition** (upstream APF config controller): every FlowSchema carries
  ``status.conditions[type=Dangling]``: ``False``/``Found`` when its priority level exists,
  ``True``/``NotFound`` otherwise, with upstream's message; ``lastTransitionTime`` kept while the
  status does not change.

Suanli does not classify or queue requests: these objects are informational (kubectl,
kube-controller-manager's and clients' informers see upstream's configuration).
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime

from suanli.apimachinery.errors import ApiError
from suanli.apimachinery.gvr import GVR
from suanli.apimachinery.objects import Obj, deep_copy
from suanli.client.protocol import Client
from suanli.controllers._controller import QueueController
from suanli.kinds.flowcontrol import (
    AUTOUPDATE_ANNOTATION,
    MANDATORY,
    bootstrap_flow_schemas,
    bootstrap_priority_levels,
)
from suanli.runtime.clock import Clock
from suanli.runtime.informer_factory import SharedInformerFactory
from suanli.wire import FLOWSCHEMAS, PRIORITY_LEVELS

__all__ = ["FLOWSCHEMAS", "PRIORITY_LEVELS", "FlowControlController", "dangling_condition", "should_update_spec"]

log = logging.getLogger(__name__)

ENSURE_PERIOD = 60.0
_ENSURE = "ensure"


def should_update_spec(obj: Obj) -> bool:
    """Upstream ``shouldUpdateSpec``: the annotation's boolean, else whether ``generation`` is 1."""
    meta = obj.get("metadata") or {}
    value = str((meta.get("annotations") or {}).get(AUTOUPDATE_ANNOTATION, "")).lower()
    if value in ("true", "1", "t"):
        return True
    if value in ("false", "0", "f"):
        return False
    return int(meta.get("generation") or 0) == 1


def dangling_condition(schema: Obj, level_exists: bool, now: str) -> Obj:
    """The ``Dangling`` condition of FlowSchema ``schema`` (``lastTransitionTime`` from ``now``)."""
    name = ((schema.get("spec") or {}).get("priorityLevelConfiguration") or {}).get("name", "")
    if level_exists:
        return {"type": "Dangling", "status": "False", "reason": "Found", "lastTransitionTime": now,
                "message": f'This FlowSchema references the PriorityLevelConfiguration object named "{name}" '
                           "and it exists"}
    return {"type": "Dangling", "status": "True", "reason": "NotFound", "lastTransitionTime": now,
            "message": f'This FlowSchema references the PriorityLevelConfiguration object named "{name}" but '
                       "there is no such object"}


class FlowControlController(QueueController):
    """Keeps the APF bootstrap objects and the FlowSchemas' Dangling conditions."""

    name = "priority-and-fairness-config"

    def __init__(self, client: Client, *, clock: Clock | None = None,
                 factory: SharedInformerFactory | None = None, period: float = ENSURE_PERIOD) -> None:
        super().__init__(client, clock=clock, workers=1, factory=factory)
        self.period = period
        self.schemas = self.watch(FLOWSCHEMAS)
        self.levels = self.watch(PRIORITY_LEVELS)
        self.schemas.add_handler(self._schema, lambda _o, n: self._schema(n), None)
        self.levels.add_handler(self._level, lambda _o, n: self._level(n), self._level)
        self.queue.add(_ENSURE)

    def _schema(self, fs: Obj) -> None:
        self.queue.add("fs/" + str(fs["metadata"]["name"]))

    def _level(self, pl: Obj) -> None:
        name = pl["metadata"]["name"]
        for fs in self.schemas.list():
            if ((fs.get("spec") or {}).get("priorityLevelConfiguration") or {}).get("name") == name:
                self._schema(fs)

    async def reconcile(self, key: str) -> None:
        if key == _ENSURE:
            try:
                await self._ensure(PRIORITY_LEVELS, bootstrap_priority_levels())
                await self._ensure(FLOWSCHEMAS, bootstrap_flow_schemas())
            finally:
                self.queue.add_after(_ENSURE, self.period)
            return
        await self._dangling(key.removeprefix("fs/"))

    async def _ensure(self, gvr: GVR, wanted: list[Obj]) -> None:
        informer = self.levels if gvr is PRIORITY_LEVELS else self.schemas
        for want in wanted:
            name = want["metadata"]["name"]
            have = informer.get("", name)
            if have is None:
                try:
                    await self.client.create(gvr, want)
                except ApiError as err:
                    if err.code != 409:
                        raise
                continue
            update = self._desired(want, have, mandatory=name in MANDATORY)
            if update is not None:
                try:
                    await self.client.update(gvr, update)
                except ApiError as err:
                    if err.code not in (404, 409):
                        raise

    @staticmethod
    def _desired(want: Obj, have: Obj, *, mandatory: bool) -> Obj | None:
        """The updated object, or None when ``have`` is as it should be."""
        annotations = (have["metadata"].get("annotations") or {})
        spec = deep_copy(want["spec"])
        if mandatory and want.get("kind") == "PriorityLevelConfiguration" and \
                isinstance((have.get("spec") or {}).get("exempt"), dict):
            spec["exempt"] = have["spec"]["exempt"]  # the exempt level's shares stay the user's
        decide = True if mandatory else should_update_spec(have)
        value = "true" if decide else "false"
        if (not decide or have.get("spec") == spec) and annotations.get(AUTOUPDATE_ANNOTATION) == value:
            return None
        new: Obj = deep_copy(have)
        new["metadata"].setdefault("annotations", {})[AUTOUPDATE_ANNOTATION] = value
        if decide:
            new["spec"] = spec
        return new

    async def _dangling(self, name: str) -> None:
        fs = self.schemas.get("", name)
        if fs is None:
            return
        level = ((fs.get("spec") or {}).get("priorityLevelConfiguration") or {}).get("name", "")
        now = datetime.fromtimestamp(self.clock.now(), UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        want = dangling_condition(fs, self.levels.get("", str(level)) is not None, now)
        conditions = list((fs.get("status") or {}).get("conditions") or [])
        old = next((c for c in conditions if c.get("type") == "Dangling"), None)
        if old is not None and all(old.get(k) == want[k] for k in ("status", "reason", "message")):
            return
        if old is not None and old.get("status") == want["status"]:
            want["lastTransitionTime"] = old.get("lastTransitionTime", now)
        new = [c for c in conditions if c.get("type") != "Dangling"] + [want]
        try:
            await self.client.patch(FLOWSCHEMAS, name, {"status": {"conditions": new}}, subresource="status")
        except ApiError as err:
            if err.code != 404:
                raise
