"""EventCorrelator: the scenarios of client-go's ``events_cache_test.go`` (TestEventCorrelator,
TestEventSpamFilter, the aggregator key and message functions), with their inputs and expected
outcomes, run against our correlator; plus the LRU bound."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pytest

from suanli.runtime.event_correlator import (
    AGGREGATE_INTERVAL,
    AGGREGATE_MAX_EVENTS,
    AGGREGATE_PREFIX,
    SPAM_BURST,
    EventCorrelator,
    aggregate_key,
)

Obj = dict[str, Any]


class IntervalClock:
    """client-go's ``clock.IntervalClock``: every reading advances the time by ``step``."""

    def __init__(self, step: float) -> None:
        self.t = 1_000_000.0
        self.step = step

    def __call__(self) -> float:
        self.t += self.step
        return self.t


def ref(kind: str, name: str, namespace: str, field_path: str = "spec.containers{mycontainer}") -> Obj:
    return {"kind": kind, "name": name, "namespace": namespace, "uid": "C934D34AFB20242",
            "apiVersion": "version", "fieldPath": field_path}


def event(reason: str, message: str, involved: Obj) -> Obj:
    return {"apiVersion": "v1", "kind": "Event", "metadata": {"generateName": f"{involved['name']}.",
                                                              "namespace": involved["namespace"]},
            "reason": reason, "message": message, "involvedObject": dict(involved),
            "source": {"component": "kubelet", "host": "kublet.node1"}, "count": 1,
            "firstTimestamp": "t", "lastTimestamp": "t", "type": "Normal"}


def repeated(n: int, template: Obj) -> list[Obj]:
    return [dict(template) for _ in range(n)]


def unique(n: int) -> list[Obj]:
    return [event(f"reason-{i}", f"message-{i}", ref("Pod", f"pod-{i}", f"ns-{i}")) for i in range(n)]


def similar(n: int, template: Obj, prefix: str) -> list[Obj]:
    return [{**template, "message": f"{prefix}-{i}-{template['message']}"} for i in range(n)]


FIRST = event("first", "i am first", ref("Pod", "my-pod", "my-ns"))
DUPLICATE = event("duplicate", "me again", ref("Pod", "my-pod", "my-ns"))
UNIQUE = event("unique", "snowflake", ref("Pod", "my-pod", "my-ns"))
SIMILAR = event("similar", "similar message", ref("Pod", "my-pod", "my-ns", "spec.containers{container1}"))
SIMILAR_OTHER_CONTAINER = {**SIMILAR, "involvedObject": {**SIMILAR["involvedObject"],
                                                          "fieldPath": "spec.containers{container2}"}}


@dataclass
class Case:
    previous: list[Obj]
    new: Obj
    interval: float
    skip: bool = False
    message: str = ""
    count: int = 0


CASES = {
    "a single event is created": Case([], FIRST, 5, message="i am first", count=1),
    "the same event just counts": Case(repeated(1, DUPLICATE), DUPLICATE, 5, message="me again", count=2),
    "the same event counts even past the aggregation threshold": Case(
        repeated(AGGREGATE_MAX_EVENTS, DUPLICATE), DUPLICATE, 30, message="me again", count=AGGREGATE_MAX_EVENTS + 1),
    "the same event is spam when it comes too often": Case(
        repeated(SPAM_BURST + 1, DUPLICATE), DUPLICATE, 1, skip=True),
    "many unique events are each created": Case(unique(30), UNIQUE, 5, message="snowflake", count=1),
    "similar events are aggregated": Case(
        similar(AGGREGATE_MAX_EVENTS - 1, SIMILAR, SIMILAR["message"]), SIMILAR, 5,
        message=AGGREGATE_PREFIX + "similar message", count=1),
    "similar events many times count the aggregate": Case(
        similar(AGGREGATE_MAX_EVENTS, SIMILAR, SIMILAR["message"]), SIMILAR, 5,
        message=AGGREGATE_PREFIX + "similar message", count=2),
    "events from different containers are not aggregated": Case(
        repeated(1, SIMILAR_OTHER_CONTAINER), SIMILAR, 5, message="similar message", count=1),
    "similar events further apart than the aggregation interval are not aggregated": Case(
        similar(AGGREGATE_MAX_EVENTS - 1, SIMILAR, SIMILAR["message"]), SIMILAR, AGGREGATE_INTERVAL,
        message="similar message", count=1),
}


def _written(verdict_event: Obj, serial: list[int]) -> Obj:
    """What the server returns: the Event with a name (kept when it was a count increment)."""
    out = dict(verdict_event)
    meta = dict(out.get("metadata") or {})
    if not meta.get("name"):
        serial[0] += 1
        meta["name"] = f"{meta.get('generateName', 'e.')}{serial[0]}"
    out["metadata"] = meta
    return out


@pytest.mark.parametrize("case", CASES.values(), ids=CASES.keys())
def test_event_correlator(case: Case) -> None:
    correlator = EventCorrelator(clock=IntervalClock(case.interval))
    serial = [0]
    for prev in case.previous:
        verdict = correlator.correlate(dict(prev))
        if not verdict.skip:
            assert verdict.event is not None
            correlator.update_state(verdict.key, _written(verdict.event, serial))
    verdict = correlator.correlate(dict(case.new))
    assert verdict.skip is case.skip
    if case.skip:
        return
    assert verdict.event is not None
    assert verdict.event["message"] == case.message
    assert verdict.event["count"] == case.count
    assert (verdict.existing is not None) == (case.count > 1)  # a count > 1 updates a recorded Event
    assert verdict.event["reason"] == case.new["reason"]
    assert verdict.event["involvedObject"] == case.new["involvedObject"]


def _by_object_and_reason(e: Obj) -> tuple[str, ...]:
    src, obj = e["source"], e["involvedObject"]
    return (src["component"], src["host"], obj["kind"], obj["namespace"], obj["name"], obj["uid"],
            obj["apiVersion"], e["reason"])


ORIGINAL = event("original", "i am first", ref("Pod", "my-pod", "my-ns"))
DIFFERENT_REASON = event("duplicate", "me again", ref("Pod", "my-pod", "my-ns"))
SPAM = event("original", "me again", ref("Pod", "my-pod", "my-ns"))


@pytest.mark.parametrize(("new", "key_func", "skip"), [
    (DIFFERENT_REASON, None, True),
    (DIFFERENT_REASON, _by_object_and_reason, False),
    (SPAM, _by_object_and_reason, True),
], ids=["the default filter counts every event about an object",
        "a filter keyed by reason lets another reason through",
        "a filter keyed by reason stops the same reason with another message"])
def test_event_spam_filter(new: Obj, key_func: Any, skip: bool) -> None:
    kwargs: dict[str, Any] = {} if key_func is None else {"spam_key_func": key_func}
    correlator = EventCorrelator(clock=IntervalClock(1.0), burst=1, **kwargs)
    first = correlator.correlate(dict(ORIGINAL))
    assert not first.skip and first.event is not None
    correlator.update_state(first.key, _written(first.event, [0]))
    verdict = correlator.correlate(dict(new))
    assert verdict.skip is skip
    if not skip:
        assert verdict.event is not None and verdict.event["message"] == new["message"]


def test_aggregator_groups_events_that_differ_only_in_their_message() -> None:
    fun = event("end-of-world", "it was fun", ref("Pod", "pod1", "other"))
    awful = event("end-of-world", "it was awful", ref("Pod", "pod1", "other"))
    bug = event("nevermind", "it was a bug", ref("Pod", "pod1", "other"))
    (g1, l1), (g2, l2), (g3, _) = aggregate_key(fun), aggregate_key(awful), aggregate_key(bug)
    assert g1 == g2
    assert l1 != l2
    assert g1 != g3


def test_spam_filter_refills_one_event_per_five_minutes() -> None:
    clock = IntervalClock(0.0)
    correlator = EventCorrelator(clock=clock)
    verdicts = [correlator.correlate(dict(DUPLICATE)).skip for _ in range(SPAM_BURST + 1)]
    assert verdicts == [False] * SPAM_BURST + [True]
    clock.t += 299.0
    assert correlator.correlate(dict(DUPLICATE)).skip
    clock.t += 301.0  # 600 s since the bucket ran dry: two tokens; each correlate takes one
    assert not correlator.correlate(dict(DUPLICATE)).skip


def test_caches_stay_bounded_by_their_lru_size() -> None:
    correlator = EventCorrelator(clock=IntervalClock(1.0), cache_size=50)
    for i, e in enumerate(unique(1_000)):
        verdict = correlator.correlate(e)
        assert verdict.event is not None
        correlator.update_state(verdict.key, _written(verdict.event, [i]))
    assert correlator.cached_keys() <= 3 * 50
