"""Volcano's queue controller, state part: ``bus.volcano.sh`` Commands on Queues
(``vcctl queue operate -a open|close``) and ``Closing`` → ``Closed``.

Level-triggered per queue name over Queues, PodGroups (indexed by ``spec.queue``) and Commands
(those whose ``target`` is a ``scheduling.volcano.sh/v1beta1`` Queue). A Command is deleted
first (one already gone is skipped), then its action drives :func:`next_queue_state`, as
upstream's queue state machine (``pkg/controllers/queue/state``); a plain sync (no command)
moves a ``Closing`` queue to ``Closed`` once it has no PodGroups and a new queue (no state) to
``Open``, as upstream's first sync. ``status.state`` is written
with a merge patch on the ``status`` subresource; closing an Open (or Unknown) queue records
Normal ``CloseQueue`` "Close queue succeed" (source ``vc-controller-manager``).

Not implemented: the hierarchy (closing children with their parent, the
``volcano.sh/closed-by-parent`` annotation); queue status counts are the scheduler's.
"""

from __future__ import annotations

import logging

from suanli.apimachinery.errors import ApiError
from suanli.apimachinery.objects import Obj
from suanli.client.protocol import Client
from suanli.controllers._controller import QueueController
from suanli.kinds.volcano import COMMANDS, DEFAULT_QUEUE, PODGROUPS, QUEUES
from suanli.runtime.clock import Clock
from suanli.runtime.events import EventRecorder
from suanli.runtime.informer_factory import SharedInformerFactory

__all__ = ["CLOSE_QUEUE", "OPEN_QUEUE", "QueueStateController", "next_queue_state"]

log = logging.getLogger(__name__)

OPEN_QUEUE = "OpenQueue"
CLOSE_QUEUE = "CloseQueue"
_BY_QUEUE = "queue"


def next_queue_state(state: str, action: str, podgroups: int) -> str:
    """The queue state after ``action`` (``OpenQueue``, ``CloseQueue``, anything else = sync)
    from ``state`` ("" = Open) with ``podgroups`` PodGroups in the queue (upstream state machine)."""
    state = state or "Open"
    closing = "Closed" if podgroups == 0 else "Closing"
    if action == OPEN_QUEUE:
        return "Open"
    if action == CLOSE_QUEUE:
        return "Closed" if state == "Closed" else closing
    if state == "Closing":
        return closing
    return state if state in ("Open", "Closed") else "Unknown"


def _pg_queue(pg: Obj) -> list[str]:
    return [str((pg.get("spec") or {}).get("queue") or DEFAULT_QUEUE)]


class QueueStateController(QueueController):
    """Runs the queue state machine (module docstring); construct with a Client, ``run()``/``stop()``."""

    name = "queue-controller"

    def __init__(self, client: Client, *, clock: Clock | None = None, workers: int = 1,
                 factory: SharedInformerFactory | None = None) -> None:
        super().__init__(client, clock=clock, workers=workers, factory=factory)
        self.recorder = EventRecorder(client, "vc-controller-manager", clock=self.clock)
        self.queues = self.watch(QUEUES)
        self.podgroups = self.watch(PODGROUPS, indexers={_BY_QUEUE: _pg_queue})
        self.commands = self.watch(COMMANDS)
        self._pending: dict[str, list[Obj]] = {}
        self.queues.add_handler(self._queue_changed, lambda _o, n: self._queue_changed(n), self._queue_changed)
        self.podgroups.add_handler(self._pg_changed, lambda _o, n: self._pg_changed(n), self._pg_changed)
        self.commands.add_handler(self._command_added, lambda _o, _n: None, lambda _o: None)

    def _queue_changed(self, queue: Obj) -> None:
        self.queue.add(str(queue["metadata"]["name"]))

    def _pg_changed(self, pg: Obj) -> None:
        self.queue.add(_pg_queue(pg)[0])

    def _command_added(self, cmd: Obj) -> None:
        target = cmd.get("target") or {}
        if target.get("apiVersion") != "scheduling.volcano.sh/v1beta1" or target.get("kind") != "Queue":
            return
        name = str(target.get("name") or "")
        self._pending.setdefault(name, []).append(cmd)
        self.queue.add(name)

    async def _take_command(self, name: str) -> str:
        """Delete the oldest pending Command for queue ``name``; its action, or "" when none is left."""
        while self._pending.get(name):
            cmd = self._pending[name].pop(0)
            m = cmd["metadata"]
            try:
                await self.client.delete(COMMANDS, m["name"], m["namespace"], preconditions={"uid": m["uid"]})
            except ApiError as err:
                if err.code in (404, 409):
                    continue
                self._pending[name].insert(0, cmd)
                raise
            return str(cmd.get("action") or "")
        self._pending.pop(name, None)
        return ""

    async def reconcile(self, key: str) -> None:
        queue = self.queues.get("", key)
        if queue is None:
            self._pending.pop(key, None)
            return
        action = await self._take_command(key)
        state = str((queue.get("status") or {}).get("state") or "")
        new = next_queue_state(state, action, len(self.podgroups.by_index(_BY_QUEUE, key)))
        if new != state:  # a new queue's empty state becomes "Open", as upstream's first sync
            await self.client.patch(QUEUES, key, {"status": {"state": new}}, subresource="status")
            if action == CLOSE_QUEUE and (state or "Open") not in ("Closed", "Closing"):
                await self.recorder.record(queue, "Normal", CLOSE_QUEUE, "Close queue succeed")
        if self._pending.get(key):
            self.queue.add(key)
