"""Leader election on ``coordination.k8s.io/v1`` Leases, with client-go's semantics.

The behaviour follows ``k8s.io/client-go/tools/leaderelection`` (our code, their contract):

* a :class:`LeaseLock` reads and writes one Lease; its spec is a :class:`LeaderElectionRecord`
  (``holderIdentity``, ``leaseDurationSeconds``, ``acquireTime``, ``renewTime``,
  ``leaseTransitions``); updates carry the ``resourceVersion`` of the last read, so two
  candidates racing for the same Lease cannot both win (the loser gets 409);
* :meth:`LeaderElector.try_acquire_or_renew` is one attempt: create the Lease when absent;
  otherwise, when somebody else holds it, take it over only when the *observed* record
  has not changed for the record's ``leaseDurationSeconds`` by the local monotonic clock
  (clocks of different machines are never compared); the leader keeps its
  ``acquireTime`` and ``leaseTransitions`` when renewing, a new holder increments
  ``leaseTransitions``;
* :meth:`LeaderElector.acquire` retries every ``retry_period`` (jittered by up to
  ``JITTER_FACTOR``) until it leads or is stopped; :meth:`LeaderElector.renew` renews every
  ``retry_period`` and returns as soon as a renewal has not succeeded within
  ``renew_deadline`` (leadership lost) or the elector is stopped; with
  ``release_on_cancel`` a graceful stop then writes an empty holder with
  ``leaseDurationSeconds: 1`` so a standby takes over at once;
* :meth:`LeaderElector.check` is the ``leaderElection`` health check: it fails when this
  process leads but has not renewed for ``lease_duration + max_tolerable_expired``.

:class:`LeaderElectedComponent` wraps a :class:`~suanli.runtime.component.Component`: it
runs the component only while leading and raises :class:`LeadershipLost` the moment a
renewal fails (the component is stopped first): callers exit non-zero, as kube-scheduler
and kube-controller-manager do.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import socket
import uuid
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import UTC, datetime

from suanli.apimachinery.errors import ApiError
from suanli.apimachinery.objects import Obj, deep_copy
from suanli.client.protocol import Client
from suanli.runtime.clock import Clock, RealClock
from suanli.runtime.component import Component
from suanli.runtime.events import EventRecorder
from suanli.runtime.metrics import Gauge, default_registry
from suanli.wire import LEASES

__all__ = [
    "JITTER_FACTOR",
    "LEASES",
    "LeaderElectedComponent",
    "LeaderElectionConfig",
    "LeaderElectionRecord",
    "LeaderElector",
    "LeadershipLost",
    "LeaseLock",
    "default_identity",
    "format_micro_time",
]

log = logging.getLogger(__name__)

#: client-go's ``JitterFactor``: acquire retries wait ``retry_period * (1 + U[0, 1.2))``
JITTER_FACTOR = 1.2


def default_identity() -> str:
    """``<hostname>_<uuid>``, the identity kube-scheduler and kube-controller-manager use."""
    return f"{socket.gethostname()}_{uuid.uuid4()}"


def format_micro_time(epoch: float) -> str:
    """A ``metav1.MicroTime`` (RFC 3339 with microseconds, UTC): ``2023-11-14T22:13:20.000000Z``."""
    return datetime.fromtimestamp(epoch, UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


@dataclass(frozen=True)
class LeaderElectionRecord:
    """The Lease spec fields leader election reads and writes (client-go's ``LeaderElectionRecord``)."""

    holder_identity: str = ""
    lease_duration_seconds: int = 0
    acquire_time: str = ""
    renew_time: str = ""
    leader_transitions: int = 0

    @classmethod
    def from_lease(cls, lease: Obj) -> LeaderElectionRecord:
        spec = lease.get("spec") or {}
        return cls(holder_identity=str(spec.get("holderIdentity") or ""),
                   lease_duration_seconds=int(spec.get("leaseDurationSeconds") or 0),
                   acquire_time=str(spec.get("acquireTime") or ""),
                   renew_time=str(spec.get("renewTime") or ""),
                   leader_transitions=int(spec.get("leaseTransitions") or 0))

    def lease_spec(self) -> Obj:
        """The Lease ``spec`` for this record (unset fields omitted, as client-go's pointers are)."""
        spec: Obj = {"holderIdentity": self.holder_identity,
                     "leaseDurationSeconds": self.lease_duration_seconds,
                     "leaseTransitions": self.leader_transitions}
        if self.acquire_time:
            spec["acquireTime"] = self.acquire_time
        if self.renew_time:
            spec["renewTime"] = self.renew_time
        return spec


class LeaseLock:
    """One Lease ``namespace/name`` held as ``identity`` through ``client``.

    :meth:`get` remembers the Lease it read; :meth:`update` writes over exactly that version
    (its ``resourceVersion``), so a concurrent writer makes it fail with 409.
    """

    def __init__(self, client: Client, namespace: str, name: str, identity: str) -> None:
        self.client = client
        self.namespace = namespace
        self.name = name
        self.identity = identity
        self._lease: Obj | None = None

    def describe(self) -> str:
        return f"{self.namespace}/{self.name}"

    @property
    def lease(self) -> Obj | None:
        """The Lease as last read or written (None before the first read)."""
        return self._lease

    async def get(self) -> LeaderElectionRecord:
        """The current record; ``ApiError(404)`` when the Lease does not exist."""
        self._lease = await self.client.get(LEASES, self.name, self.namespace)
        return LeaderElectionRecord.from_lease(self._lease)

    async def create(self, record: LeaderElectionRecord) -> None:
        self._lease = await self.client.create(LEASES, {
            "apiVersion": "coordination.k8s.io/v1", "kind": "Lease",
            "metadata": {"name": self.name, "namespace": self.namespace},
            "spec": record.lease_spec()}, self.namespace)

    async def update(self, record: LeaderElectionRecord) -> None:
        """Write ``record`` over the Lease last read or written (``RuntimeError`` before any)."""
        if self._lease is None:
            raise RuntimeError("lease not initialized: get or create it first")
        lease = deep_copy(self._lease)
        lease["spec"] = record.lease_spec()
        self._lease = await self.client.update(LEASES, lease, self.namespace)


@dataclass(frozen=True)
class LeaderElectionConfig:
    """client-go's timings (kube-scheduler's defaults): seconds."""

    lease_duration: float = 15.0
    renew_deadline: float = 10.0
    retry_period: float = 2.0
    release_on_cancel: bool = True

    def __post_init__(self) -> None:
        # client-go's NewLeaderElector validation
        if self.lease_duration <= self.renew_deadline:
            raise ValueError("leaseDuration must be greater than renewDeadline")
        if self.renew_deadline <= JITTER_FACTOR * self.retry_period:
            raise ValueError("renewDeadline must be greater than retryPeriod*JitterFactor")
        if self.retry_period <= 0:
            raise ValueError("retryPeriod must be greater than zero")


def _master_status() -> Gauge:
    """client-go's ``leader_election_master_status`` (1 while leading) in the process registry."""
    return default_registry().gauge(
        "leader_election_master_status",
        "Gauge of if the reporting system is master of the relevant lease, 0 indicates backup, 1 indicates master. "
        "'name' is the string used to identify the lease.", ["name"])


class LeaderElector:
    """One candidate for one Lease. ``on_new_leader(identity)`` is called on every observed change of leader.

    Exports ``leader_election_master_status{name=<lease name>}`` (client-go's metric).
    """

    def __init__(self, lock: LeaseLock, config: LeaderElectionConfig | None = None, *, clock: Clock | None = None,
                 on_new_leader: Callable[[str], None] | None = None, rng: random.Random | None = None,
                 events: EventRecorder | None = None) -> None:
        self.lock = lock
        #: records client-go's ``LeaderElection`` Events on the Lease ("<id> became leader", "… stopped leading")
        self.events = events
        self.config = config or LeaderElectionConfig()
        self.clock: Clock = clock or RealClock()
        self.on_new_leader = on_new_leader
        self.rng = rng or random.Random()  # nosec B311  # retry jitter, not security
        self.observed_record = LeaderElectionRecord()
        #: local monotonic time at which ``observed_record`` was last seen to change
        self.observed_time = float("-inf")
        self._reported_leader = ""
        self._stopped = asyncio.Event()
        self._status = _master_status()
        self._status.set(0, lock.name)

    # -- state ---------------------------------------------------------------------------------

    def leader(self) -> str:
        """Identity of the last observed leader ("" when none was observed)."""
        return self.observed_record.holder_identity

    def is_leader(self) -> bool:
        return self.observed_record.holder_identity == self.lock.identity

    def check(self, max_tolerable_expired: float = 20.0) -> str | None:
        """The ``leaderElection`` health check: ``None`` when healthy, else why not.

        A standby is always healthy; a leader is unhealthy once its last successful renewal
        is more than ``lease_duration + max_tolerable_expired`` ago.
        """
        if not self.is_leader():
            return None
        if self.clock.monotonic() - self.observed_time > self.config.lease_duration + max_tolerable_expired:
            return f"failed election to renew leadership on lease {self.lock.name}"
        return None

    # -- one attempt ---------------------------------------------------------------------------

    async def try_acquire_or_renew(self) -> bool:
        """One acquire-or-renew attempt; True when this candidate holds the Lease afterwards."""
        started = self.clock.monotonic()  # like client-go's ``now``: taken before the read
        now = format_micro_time(self.clock.now())
        record = LeaderElectionRecord(holder_identity=self.lock.identity,
                                      lease_duration_seconds=int(self.config.lease_duration),
                                      acquire_time=now, renew_time=now)
        try:
            old = await self.lock.get()
        except ApiError as err:
            if err.code != 404:
                log.error("error retrieving resource lock %s: %s", self.lock.describe(), err)
                return False
            try:
                await self.lock.create(record)
            except ApiError as create_err:
                log.error("error initially creating leader election record: %s", create_err)
                return False
            self._observe(record)
            return True
        if old != self.observed_record:
            self._observe(old)
        if old.holder_identity and not self.is_leader() and \
                self.observed_time + old.lease_duration_seconds > started:
            log.debug("lock is held by %s and has not yet expired", old.holder_identity)
            return False
        if self.is_leader():
            record = replace(record, acquire_time=old.acquire_time, leader_transitions=old.leader_transitions)
        else:
            record = replace(record, leader_transitions=old.leader_transitions + 1)
        try:
            await self.lock.update(record)
        except ApiError as err:
            log.error("failed to update lock %s: %s", self.lock.describe(), err)
            return False
        self._observe(record)
        return True

    def _observe(self, record: LeaderElectionRecord) -> None:
        self.observed_record = record
        self.observed_time = self.clock.monotonic()

    def maybe_report_transition(self) -> None:
        """Call ``on_new_leader`` when the observed holder differs from the one last reported."""
        holder = self.observed_record.holder_identity
        if holder == self._reported_leader:
            return
        self._reported_leader = holder
        if self.on_new_leader is not None:
            self.on_new_leader(holder)

    # -- loops ---------------------------------------------------------------------------------

    def stop(self) -> None:
        """Make :meth:`acquire` and :meth:`renew` return at their next wait."""
        self._stopped.set()

    async def _wait(self, seconds: float) -> bool:
        """Sleep ``seconds`` on the clock; True when stopped meanwhile."""
        sleeper = asyncio.ensure_future(self.clock.sleep(seconds))
        stopped = asyncio.ensure_future(self._stopped.wait())
        try:
            await asyncio.wait({sleeper, stopped}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            sleeper.cancel()
            stopped.cancel()
        return self._stopped.is_set()

    async def acquire(self) -> bool:
        """Retry until this candidate leads (True) or :meth:`stop` is called (False)."""
        log.info("attempting to acquire leader lease %s...", self.lock.describe())
        while not self._stopped.is_set():
            ok = await self.try_acquire_or_renew()
            self.maybe_report_transition()
            if ok:
                log.info("successfully acquired lease %s", self.lock.describe())
                self._status.set(1, self.lock.name)
                await self._record("became leader")
                return True
            jittered = self.config.retry_period * (1 + self.rng.random() * JITTER_FACTOR)
            if await self._wait(jittered):
                break
        return False

    async def renew(self) -> bool:
        """Renew every ``retry_period`` while leading. Returns False as soon as one renewal has
        not succeeded within ``renew_deadline`` (leadership lost), True when stopped."""
        while not self._stopped.is_set():
            if not await self._renew_within_deadline():
                self._status.set(0, self.lock.name)
                self.maybe_report_transition()
                await self._record("stopped leading")
                log.error("failed to renew lease %s: timed out", self.lock.describe())
                return False
            self.maybe_report_transition()
            if await self._wait(self.config.retry_period):
                break
        return True

    async def _renew_within_deadline(self) -> bool:
        """client-go's ``PollImmediateUntil(retryPeriod, tryAcquireOrRenew, renewDeadline)``."""
        deadline = self.clock.monotonic() + self.config.renew_deadline
        while True:
            remaining = deadline - self.clock.monotonic()
            if remaining <= 0:
                return False
            attempt = asyncio.ensure_future(self.try_acquire_or_renew())
            timer = asyncio.ensure_future(self.clock.sleep(remaining))
            await asyncio.wait({attempt, timer}, return_when=asyncio.FIRST_COMPLETED)
            timer.cancel()
            if not attempt.done():
                attempt.cancel()
                return False
            if attempt.result():
                return True
            left = deadline - self.clock.monotonic()
            if left <= self.config.retry_period:  # no attempt fits before the deadline: lost at the deadline
                await self.clock.sleep(left)
                return False
            await self.clock.sleep(self.config.retry_period)

    async def _record(self, what: str) -> None:
        lease = self.lock.lease
        if self.events is not None and lease is not None:
            await self.events.record(lease, "Normal", "LeaderElection", f"{self.lock.identity} {what}")

    async def release(self) -> bool:
        """Give the Lease up if this candidate holds it (empty holder, ``leaseDurationSeconds: 1``)."""
        if not self.is_leader():
            return True
        record = LeaderElectionRecord(lease_duration_seconds=1,
                                      leader_transitions=self.observed_record.leader_transitions)
        try:
            await self.lock.update(record)
        except ApiError as err:
            log.error("failed to release lock %s: %s", self.lock.describe(), err)
            return False
        self._observe(record)
        self._status.set(0, self.lock.name)
        return True


class LeadershipLost(RuntimeError):
    """The Lease was not renewed within the renew deadline: the component was stopped."""


class LeaderElectedComponent:
    """Runs ``inner`` only while ``elector`` leads (a :class:`~suanli.runtime.component.Component`).

    :meth:`run` waits for leadership, then runs ``inner`` and renews concurrently. A failed
    renewal stops ``inner`` at once and raises :class:`LeadershipLost`; ``inner`` ending on
    its own ends :meth:`run` too. :meth:`stop` stops ``inner``, then releases the Lease
    (with ``release_on_cancel``).
    """

    def __init__(self, inner: Component, elector: LeaderElector) -> None:
        self.inner = inner
        self.elector = elector
        self.leading = asyncio.Event()
        self._inner_task: asyncio.Task[None] | None = None
        self._stopping = False
        self._finished = asyncio.Event()

    def health_checks(self) -> dict[str, Callable[[], str | None]]:
        """``leaderElection``: fails when leading without a renewal for lease + 20 s (the
        tolerance kube-scheduler and kube-controller-manager give client-go's HealthzAdaptor)."""
        return {"leaderElection": lambda: self.elector.check(20.0)}

    async def run(self) -> None:
        try:
            if not await self.elector.acquire():
                return
            self.leading.set()
            self._inner_task = asyncio.create_task(self.inner.run())
            renew = asyncio.create_task(self.elector.renew())
            try:
                done, _ = await asyncio.wait({self._inner_task, renew}, return_when=asyncio.FIRST_COMPLETED)
                if renew in done and not renew.result() and not self._stopping:
                    await self._stop_inner()
                    raise LeadershipLost(f"leaderelection lost: lease {self.elector.lock.describe()}")
                if self._inner_task in done:
                    self._inner_task.result()
            finally:
                self.elector.stop()
                with contextlib.suppress(BaseException):
                    await renew  # returns at its next wait: no renewal races the release below
            if self._stopping and self.elector.config.release_on_cancel:
                await self.elector.release()
        finally:
            self._finished.set()

    async def _stop_inner(self) -> None:
        with contextlib.suppress(Exception):
            await self.inner.stop()
        task = self._inner_task
        if task is not None and not task.done():
            try:
                await asyncio.wait_for(asyncio.shield(task), timeout=10)
            except (TimeoutError, Exception):
                task.cancel()

    async def stop(self) -> None:
        """Stop ``inner``, then (from :meth:`run`, once renewing has ended) release the Lease."""
        self._stopping = True
        self.elector.stop()
        if self._inner_task is not None:
            await self._stop_inner()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._finished.wait(), timeout=self.elector.config.renew_deadline)
