"""Queue state machine and queue Commands (upstream pkg/controllers/queue/state), through the API."""

from __future__ import annotations

from typing import Any

import pytest

from suanli.apimachinery.gvr import GVR
from suanli.apimachinery.objects import Obj
from suanli.apiserver.admission_volcano import store_queue_children, store_queue_lookup, volcano_admission
from suanli.controllers.queue import QueueStateController, next_queue_state
from suanli.kinds.volcano import COMMANDS, PODGROUPS, QUEUES, default_queue, volcano_crds
from suanli.node.nfd.crds import ensure_crds
from tests.controllers.conftest import Api, eventually, running

NS = "default"
EVENTS = GVR("", "v1", "events")


@pytest.mark.parametrize(
    ("state", "action", "podgroups", "want"),
    [
        ("", "", 0, "Open"),
        ("Open", "CloseQueue", 0, "Closed"),
        ("Open", "CloseQueue", 2, "Closing"),
        ("Closing", "", 1, "Closing"),
        ("Closing", "", 0, "Closed"),
        ("Closing", "OpenQueue", 1, "Open"),
        ("Closed", "OpenQueue", 0, "Open"),
        ("Closed", "CloseQueue", 3, "Closed"),
        ("Closed", "", 3, "Closed"),
        ("Unknown", "", 0, "Unknown"),
        ("Unknown", "CloseQueue", 1, "Closing"),
        ("Open", "OpenQueue", 5, "Open"),
    ],
    ids=["new-queue-opens", "close-empty", "close-busy-is-closing", "closing-waits", "closing-drained",
         "reopen-closing", "reopen-closed", "close-closed-stays", "closed-stays", "unknown-stays",
         "close-unknown", "open-open"],
)
def test_next_queue_state(state: str, action: str, podgroups: int, want: str) -> None:
    assert next_queue_state(state, action, podgroups) == want


@pytest.fixture
async def qapi(api: Api) -> Api:
    mutating, validating = volcano_admission(store_queue_lookup(api.store), store_queue_children(api.store))
    for m in mutating:
        api.service.admission.add_mutating(m)
    for v in validating:
        api.service.admission.add_validating(v)
    await ensure_crds(api.client, volcano_crds())
    await api.client.create(QUEUES, default_queue())
    return api


def command(queue: Obj, action: str) -> Obj:
    ref = {"apiVersion": "scheduling.volcano.sh/v1beta1", "kind": "Queue", "name": queue["metadata"]["name"],
           "uid": queue["metadata"]["uid"], "controller": True, "blockOwnerDeletion": True}
    return {"apiVersion": "bus.volcano.sh/v1alpha1", "kind": "Command",
            "metadata": {"generateName": f"{queue['metadata']['name']}-{action.lower()}-", "ownerReferences": [ref]},
            "target": ref, "action": action}


async def state_is(api: Api, name: str, want: str) -> bool:
    q = await api.client.get(QUEUES, name)
    return bool((q.get("status") or {}).get("state") == want)


async def test_close_and_open_commands(qapi: Api) -> None:
    client = qapi.client
    async with running(QueueStateController(client)):
        q = await client.create(QUEUES, {"apiVersion": "scheduling.volcano.sh/v1beta1", "kind": "Queue",
                                         "metadata": {"name": "team"}, "spec": {"weight": 1}})
        await eventually(lambda: state_is(qapi, "team", "Open"), what="a new queue is Open")
        pg: dict[str, Any] = {"apiVersion": "scheduling.volcano.sh/v1beta1", "kind": "PodGroup",
                              "metadata": {"name": "pg", "namespace": NS}, "spec": {"minMember": 1, "queue": "team"}}
        await client.create(PODGROUPS, pg, NS)
        await client.create(COMMANDS, command(q, "CloseQueue"), NS)
        await eventually(lambda: state_is(qapi, "team", "Closing"), what="Closing while a PodGroup remains")
        assert (await client.list(COMMANDS, NS))["items"] == []
        await client.delete(PODGROUPS, "pg", NS)
        await eventually(lambda: state_is(qapi, "team", "Closed"), what="Closed once drained")
        await client.create(COMMANDS, command(q, "OpenQueue"), NS)
        await eventually(lambda: state_is(qapi, "team", "Open"), what="Open again")
        events = [(e["reason"], e["message"]) for e in (await client.list(EVENTS, NS))["items"]
                  if e["involvedObject"]["name"] == "team"]
    assert events == [("CloseQueue", "Close queue succeed")]
