"""kube-apiserver's ``legacy_token_tracking_controller``: the date since which legacy
ServiceAccount token use is tracked.

Contract (upstream ``pkg/controlplane/controller/legacytokentracking``):

* ConfigMap ``kube-system/kube-apiserver-legacy-service-account-token-tracking`` holds
  ``data.since`` = the UTC date (``YYYY-MM-DD``) it was first created;
* absent → created with today's date; creation is rate-limited to once per 30 minutes (the first
  is immediate), so a deleted ConfigMap comes back, but not in a tight loop;
* present with a ``since`` that is not a valid date → ``since`` reset to today; a valid date is
  never overwritten.

kube-controller-manager's legacy token cleaner reads it; without it, it logs an error.
"""

from __future__ import annotations

from datetime import UTC, datetime

from suanli.apimachinery.errors import ApiError
from suanli.apimachinery.objects import Obj, deep_copy
from suanli.client.protocol import Client
from suanli.controllers._controller import QueueController
from suanli.runtime.clock import Clock
from suanli.runtime.informer_factory import SharedInformerFactory
from suanli.wire import CONFIGMAPS

__all__ = ["CONFIGMAP_NAME", "LegacyTokenTrackingController", "valid_since"]

NAMESPACE = "kube-system"
CONFIGMAP_NAME = "kube-apiserver-legacy-service-account-token-tracking"
DATA_KEY = "since"
CREATION_INTERVAL = 30 * 60.0
_KEY = f"{NAMESPACE}/{CONFIGMAP_NAME}"


def valid_since(value: object) -> bool:
    """Whether ``value`` is a date as upstream's ``time.Parse("2006-01-02", …)`` accepts it."""
    if not isinstance(value, str) or len(value) != 10:
        return False
    try:
        datetime.strptime(value, "%Y-%m-%d")
    except ValueError:
        return False
    return True


class LegacyTokenTrackingController(QueueController):
    """Keeps the tracking ConfigMap present with a valid ``since`` date."""

    name = "legacy_token_tracking_controller"

    def __init__(self, client: Client, *, clock: Clock | None = None,
                 factory: SharedInformerFactory | None = None) -> None:
        super().__init__(client, clock=clock, workers=1, factory=factory)
        self.configmaps = self.watch(CONFIGMAPS)
        self.configmaps.add_handler(self._seen, lambda _o, n: self._seen(n), self._seen)
        self._next_creation = float("-inf")  # monotonic time the rate limiter allows the next create
        self.queue.add(_KEY)

    def _seen(self, obj: Obj) -> None:
        meta = obj.get("metadata") or {}
        if meta.get("name") == CONFIGMAP_NAME and meta.get("namespace") == NAMESPACE:
            self.queue.add(_KEY)

    def _today(self) -> str:
        return datetime.fromtimestamp(self.clock.now(), UTC).strftime("%Y-%m-%d")

    async def reconcile(self, key: str) -> None:
        current = self.configmaps.get(NAMESPACE, CONFIGMAP_NAME)
        if current is None:
            now = self.clock.monotonic()
            if now < self._next_creation:
                self.queue.add_after(_KEY, self._next_creation - now)
                return
            obj: Obj = {"apiVersion": "v1", "kind": "ConfigMap",
                        "metadata": {"name": CONFIGMAP_NAME, "namespace": NAMESPACE},
                        "data": {DATA_KEY: self._today()}}
            try:
                await self.client.create(CONFIGMAPS, obj, NAMESPACE)
            except ApiError as err:
                if err.code == 409:
                    return
                raise  # an unsuccessful attempt does not consume the rate limit
            self._next_creation = now + CREATION_INTERVAL
            return
        if valid_since((current.get("data") or {}).get(DATA_KEY)):
            return
        fixed = deep_copy(current)
        fixed.setdefault("data", {})[DATA_KEY] = self._today()
        try:
            await self.client.update(CONFIGMAPS, fixed, NAMESPACE)
        except ApiError as err:
            if err.code not in (404, 409):
                raise
