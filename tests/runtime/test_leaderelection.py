"""Leader election: client-go's TestTryAcquireOrRenew table (leases) against our elector, then the
renew/release/health behaviour with a fake clock, and a real race over the in-process API."""

from __future__ import annotations

import asyncio
import contextlib
import re
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from typing import Any

import pytest

from suanli.apimachinery.errors import ApiError
from suanli.apimachinery.gvr import GVR
from suanli.apimachinery.objects import Obj, deep_copy
from suanli.apiserver.service import ApiService
from suanli.client.local import LocalClient
from suanli.kinds.builtin import builtin_resource_types
from suanli.kinds.registry import Registry
from suanli.runtime.clock import FakeClock
from suanli.runtime.leaderelection import (
    LEASES,
    LeaderElectedComponent,
    LeaderElectionConfig,
    LeaderElectionRecord,
    LeaderElector,
    LeadershipLost,
    LeaseLock,
    default_identity,
    format_micro_time,
)
from suanli.storage import Store

HOUR = 3600.0
Reaction = Callable[[str, Obj | None], Obj]


def _lease(record: LeaderElectionRecord | None) -> Obj:
    return {"apiVersion": "coordination.k8s.io/v1", "kind": "Lease",
            "metadata": {"name": "bar", "namespace": "foo", "resourceVersion": "1"},
            "spec": {} if record is None else record.lease_spec()}


def _not_found(_verb: str, _obj: Obj | None) -> Obj:
    raise ApiError(404, "NotFound", 'leases.coordination.k8s.io "bar" not found')


def _returns(record: LeaderElectionRecord | None) -> Reaction:
    return lambda _verb, _obj: _lease(record)


def _echo(_verb: str, obj: Obj | None) -> Obj:
    assert obj is not None
    return deep_copy(obj)


@dataclass
class ReactorClient:
    """The fake clientset of client-go's test: each call consumes the next reactor for its verb;
    a call with no reactor left fails the test ("unreachable action"). Every call takes a
    microsecond of ``clock`` time, as a real round trip takes some time."""

    reactors: list[tuple[str, Reaction]]
    clock: FakeClock
    actions: list[str] = field(default_factory=list)

    def _react(self, verb: str, obj: Obj | None) -> Obj:
        self.clock.advance(1e-6)
        self.actions.append(verb)
        for i, (v, reaction) in enumerate(self.reactors):
            if v == verb:
                del self.reactors[i]
                return reaction(verb, obj)
        raise AssertionError(f"unreachable action: {verb}")

    async def get(self, gvr: GVR, name: str, namespace: str = "") -> Obj:
        assert (gvr, name, namespace) == (LEASES, "bar", "foo")
        return self._react("get", None)

    async def create(self, gvr: GVR, obj: Obj, namespace: str = "") -> Obj:
        return self._react("create", obj)

    async def update(self, gvr: GVR, obj: Obj, namespace: str = "", *, subresource: str = "") -> Obj:
        return self._react("update", obj)


@dataclass(frozen=True)
class Case:
    reactors: list[tuple[str, Reaction]]
    observed_record: LeaderElectionRecord = field(default_factory=LeaderElectionRecord)
    observed_at: float | None = None  # seconds relative to now; None = never observed
    retry_after: float = 0.0
    expect_success: bool = True
    transition_leader: bool = False
    out_holder: str = "baz"


CASES: dict[str, Case] = {
    "acquire from no object": Case(reactors=[("get", _not_found), ("create", _echo)]),
    "acquire from object without a spec": Case(
        reactors=[("get", _returns(None)), ("update", _echo)], transition_leader=True),
    "acquire from led object with the lease duration seconds": Case(
        reactors=[("get", _returns(LeaderElectionRecord(holder_identity="bing", lease_duration_seconds=3))),
                  ("get", _returns(LeaderElectionRecord(holder_identity="bing", lease_duration_seconds=3))),
                  ("update", _echo)],
        retry_after=3.0, transition_leader=True),
    "acquire from unled object": Case(
        reactors=[("get", _returns(LeaderElectionRecord())), ("update", _echo)], transition_leader=True),
    "acquire from led, unacked object": Case(
        reactors=[("get", _returns(LeaderElectionRecord(holder_identity="bing"))), ("update", _echo)],
        observed_record=LeaderElectionRecord(holder_identity="bing"), observed_at=-1000 * HOUR,
        transition_leader=True),
    "acquire from empty led, acked object": Case(
        reactors=[("get", _returns(LeaderElectionRecord(holder_identity=""))), ("update", _echo)],
        observed_at=1000 * HOUR, transition_leader=True),
    "don't acquire from led, acked object": Case(
        reactors=[("get", _returns(LeaderElectionRecord(holder_identity="bing")))],
        observed_at=1000 * HOUR, expect_success=False, out_holder="bing"),
    "renew already acquired object": Case(
        reactors=[("get", _returns(LeaderElectionRecord(holder_identity="baz"))), ("update", _echo)],
        observed_record=LeaderElectionRecord(holder_identity="baz"), observed_at=1000 * HOUR),
}


@pytest.mark.parametrize("case", list(CASES.values()), ids=list(CASES))
async def test_try_acquire_or_renew(case: Case) -> None:
    clock = FakeClock(start=10 * HOUR)
    fake = ReactorClient(list(case.reactors), clock)
    n_reactors = len(fake.reactors)
    reported: list[str] = []
    lock = LeaseLock(fake, "foo", "bar", "baz")  # type: ignore[arg-type]
    le = LeaderElector(lock, LeaderElectionConfig(lease_duration=10, renew_deadline=5, retry_period=2),
                       clock=clock, on_new_leader=reported.append)
    le.observed_record = case.observed_record
    if case.observed_at is not None:
        le.observed_time = clock.monotonic() + case.observed_at
    ok = await le.try_acquire_or_renew()
    if ok != case.expect_success:
        assert case.retry_after, "unexpected result of try_acquire_or_renew"
        clock.advance(case.retry_after)
        assert await le.try_acquire_or_renew() == case.expect_success
    assert le.observed_record.holder_identity == case.out_holder
    assert len(fake.actions) == n_reactors, "wrong number of api interactions"
    assert le.observed_record.leader_transitions == (1 if case.transition_leader else 0)
    le.maybe_report_transition()
    assert reported == [case.out_holder]


def test_lease_spec_round_trips_the_record() -> None:
    record = LeaderElectionRecord(holder_identity="foo", lease_duration_seconds=10,
                                  acquire_time=format_micro_time(1_700_000_000.5),
                                  renew_time=format_micro_time(1_700_000_001.25), leader_transitions=1)
    spec = record.lease_spec()
    assert spec["acquireTime"] == "2023-11-14T22:13:20.500000Z"
    assert LeaderElectionRecord.from_lease({"spec": spec}) == record
    assert LeaderElectionRecord.from_lease({"spec": LeaderElectionRecord.from_lease({"spec": spec}).lease_spec()}) \
        == record


@pytest.mark.parametrize(("lease", "renew", "retry", "message"), [
    (10, 10, 2, "leaseDuration must be greater than renewDeadline"),
    (15, 2, 2, "renewDeadline must be greater than retryPeriod*JitterFactor"),
    (15, 10, 0, "retryPeriod must be greater than zero"),
], ids=["lease-not-above-renew-deadline", "renew-deadline-below-jittered-retry", "zero-retry-period"])
def test_config_rejects_what_client_go_rejects(lease: float, renew: float, retry: float, message: str) -> None:
    with pytest.raises(ValueError, match=re.escape(message)):
        LeaderElectionConfig(lease_duration=lease, renew_deadline=renew, retry_period=retry)


def test_default_identity_is_hostname_underscore_uuid() -> None:
    import socket
    import uuid

    host, _, tail = default_identity().rpartition("_")
    assert host == socket.gethostname()
    assert str(uuid.UUID(tail)) == tail


# -- against the real API (in-process) -------------------------------------------------------


@pytest.fixture
async def client() -> AsyncIterator[LocalClient]:
    registry = Registry()
    registry.add_all(builtin_resource_types())
    store = Store(None, compaction_interval=0)
    await store.start()
    service = ApiService(store, registry)
    ns_rt = registry.get("", "v1", "namespaces")
    assert ns_rt is not None
    await service.create(ns_rt, "", {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "kube-system"}})
    try:
        yield LocalClient(service)
    finally:
        await service.drain_background()
        await store.stop()


class FlakyClient:
    """Delegates to ``inner``; while ``failing`` every call raises 503 (an unreachable server)."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner
        self.failing = False

    def __getattr__(self, name: str) -> Any:
        attr = getattr(self.inner, name)
        if not callable(attr):
            return attr

        async def call(*args: Any, **kwargs: Any) -> Any:
            if self.failing:
                raise ApiError(503, "ServiceUnavailable", "connection refused")
            return await attr(*args, **kwargs)
        return call


CONFIG = LeaderElectionConfig(lease_duration=15, renew_deadline=10, retry_period=2)


def _elector(client: Any, identity: str, clock: FakeClock) -> LeaderElector:
    return LeaderElector(LeaseLock(client, "kube-system", "suanli-scheduler", identity), CONFIG, clock=clock)


async def test_two_candidates_racing_for_a_new_lease_elect_exactly_one(client: LocalClient) -> None:
    clock = FakeClock()
    a, b = _elector(client, "a", clock), _elector(client, "b", clock)
    results = await asyncio.gather(a.try_acquire_or_renew(), b.try_acquire_or_renew())
    assert sorted(results) == [False, True]
    lease = await client.get(LEASES, "suanli-scheduler", "kube-system")
    winner = "a" if results[0] else "b"
    assert lease["spec"]["holderIdentity"] == winner
    assert lease["spec"]["leaseDurationSeconds"] == 15
    assert lease["spec"]["leaseTransitions"] == 0
    assert lease["spec"]["acquireTime"] == lease["spec"]["renewTime"]


async def test_standby_takes_over_only_after_the_record_is_unchanged_for_the_lease_duration(
        client: LocalClient) -> None:
    clock = FakeClock()
    leader, standby = _elector(client, "leader", clock), _elector(client, "standby", clock)
    assert await leader.try_acquire_or_renew()
    assert not await standby.try_acquire_or_renew()  # first sight of the record starts its timer
    clock.advance(10)
    assert await leader.try_acquire_or_renew()  # a renewal changes renewTime: the standby's timer restarts
    clock.advance(10)
    assert not await standby.try_acquire_or_renew()
    clock.advance(14)
    assert not await standby.try_acquire_or_renew(), "unchanged for 14 s < 15 s"
    clock.advance(1)
    assert await standby.try_acquire_or_renew()
    lease = await client.get(LEASES, "suanli-scheduler", "kube-system")
    assert lease["spec"]["holderIdentity"] == "standby"
    assert lease["spec"]["leaseTransitions"] == 1
    assert not await leader.try_acquire_or_renew(), "the old leader sees a fresh record held by another"
    assert leader.leader() == "standby"


async def test_release_empties_the_holder_so_a_standby_takes_over_at_once(client: LocalClient) -> None:
    clock = FakeClock()
    leader, standby = _elector(client, "leader", clock), _elector(client, "standby", clock)
    assert await leader.try_acquire_or_renew()
    assert not await standby.try_acquire_or_renew()
    assert await leader.release()
    lease = await client.get(LEASES, "suanli-scheduler", "kube-system")
    assert lease["spec"]["holderIdentity"] == ""
    assert lease["spec"]["leaseDurationSeconds"] == 1
    assert await standby.try_acquire_or_renew()
    assert (await client.get(LEASES, "suanli-scheduler", "kube-system"))["spec"]["leaseTransitions"] == 1


async def _advance_until(clock: FakeClock, done: Callable[[], bool], limit: float) -> None:
    """Whenever every task is blocked on the fake clock, advance it to the next deadline, until
    ``done()``; fail when that takes more than ``limit`` seconds of fake time."""
    start = clock.monotonic()
    while True:
        for _ in range(5):
            await asyncio.sleep(0)
        if done():
            return
        assert clock.monotonic() - start <= limit, "condition not reached in time"
        deadline = time.monotonic() + 10
        while clock.sleepers == 0 and not done():  # wait (real time, bounded) until all block on the clock
            assert time.monotonic() < deadline, "nothing ever waited on the clock"
            await asyncio.sleep(0.001)
        if done():
            return
        clock.advance_to_next()


class Recorder:
    def __init__(self) -> None:
        self.running = asyncio.Event()
        self.stopped = asyncio.Event()

    async def run(self) -> None:
        self.running.set()
        await self.stopped.wait()

    async def stop(self) -> None:
        self.stopped.set()


async def test_a_leader_that_cannot_renew_within_the_deadline_stops_its_component_and_fails(
        client: LocalClient) -> None:
    clock = FakeClock()
    flaky = FlakyClient(client)
    elector = _elector(flaky, "leader", clock)
    inner = Recorder()
    comp = LeaderElectedComponent(inner, elector)
    task = asyncio.create_task(comp.run())
    await _advance_until(clock, inner.running.is_set, limit=5)
    assert elector.check() is None
    flaky.failing = True
    lost_at = clock.monotonic()
    await _advance_until(clock, task.done, limit=30)
    with pytest.raises(LeadershipLost):
        task.result()
    assert inner.stopped.is_set()
    elapsed = clock.monotonic() - lost_at
    assert CONFIG.renew_deadline <= elapsed <= CONFIG.renew_deadline + 2 * CONFIG.retry_period


async def test_graceful_stop_stops_the_component_and_releases_the_lease(client: LocalClient) -> None:
    clock = FakeClock()
    elector = _elector(client, "leader", clock)
    inner = Recorder()
    comp = LeaderElectedComponent(inner, elector)
    task = asyncio.create_task(comp.run())
    await _advance_until(clock, inner.running.is_set, limit=5)
    await comp.stop()
    await asyncio.wait_for(task, timeout=5)
    assert inner.stopped.is_set()
    lease = await client.get(LEASES, "suanli-scheduler", "kube-system")
    assert lease["spec"]["holderIdentity"] == ""


async def test_a_standby_never_runs_its_component_while_the_leader_renews(client: LocalClient) -> None:
    clock = FakeClock()
    leader = _elector(client, "leader", clock)
    assert await leader.try_acquire_or_renew()
    inner = Recorder()
    standby = LeaderElectedComponent(inner, _elector(client, "standby", clock))
    task = asyncio.create_task(standby.run())
    for _ in range(20):  # 20 retry rounds (~40-90 s) with the leader renewing every 2 s
        await asyncio.wait_for(clock.wait_for_sleepers(1), timeout=5)
        clock.advance(2)
        assert await leader.try_acquire_or_renew()
        assert not inner.running.is_set()
    await standby.stop()
    await asyncio.wait_for(task, timeout=5)
    assert not inner.running.is_set()


@pytest.mark.parametrize(("since_renewal", "healthy"), [(0, True), (35, True), (35.5, False)],
                         ids=["just-renewed", "at-lease-plus-tolerance", "past-lease-plus-tolerance"])
async def test_health_check_fails_when_the_leader_has_not_renewed_for_lease_plus_tolerance(
        client: LocalClient, since_renewal: float, healthy: bool) -> None:
    clock = FakeClock()
    elector = _elector(client, "leader", clock)
    assert await elector.try_acquire_or_renew()
    clock.advance(since_renewal)
    assert (elector.check(20.0) is None) == healthy
    standby = _elector(client, "standby", clock)
    with contextlib.suppress(Exception):
        await standby.try_acquire_or_renew()
    assert standby.check(20.0) is None, "a standby is always healthy"


async def test_acquiring_records_a_leader_election_event_on_the_lease(client: LocalClient) -> None:
    from suanli.runtime.events import EVENTS, EventRecorder

    elector = LeaderElector(LeaseLock(client, "kube-system", "suanli-scheduler", "host_1"), CONFIG,
                            clock=FakeClock(), events=EventRecorder(client, "suanli-scheduler"))
    assert await elector.acquire()
    events = (await client.list(EVENTS, "kube-system"))["items"]
    assert [(e["reason"], e["message"], e["involvedObject"]["kind"], e["involvedObject"]["name"]) for e in events] \
        == [("LeaderElection", "host_1 became leader", "Lease", "suanli-scheduler")]
