"""The device decision's pure rules: picking, checking a decided grant, and the annotation formats."""

from __future__ import annotations

import pytest

from suanli.apimachinery.devices import (
    DevicePick,
    check_grant,
    format_allocation,
    format_topology,
    parse_allocation,
    parse_topology,
    parse_unhealthy,
    pick_card_by_memory,
    pick_devices,
    pick_idle_cards,
)

HCCS = [[0, 1, 2, 3], [4, 5, 6, 7]]


@pytest.mark.parametrize(
    ("free", "k", "ids", "score"),
    [
        ({0, 1, 2, 3, 4, 5, 6, 7}, 4, (0, 1, 2, 3), 100.0),
        ({0, 1, 4, 5, 6, 7}, 2, (0, 1), 100.0),
        ({0, 1, 2, 4, 5, 6, 7}, 3, (0, 1, 2), 100.0),
        ({0, 1, 2, 4, 5, 6, 7}, 2, (0, 1), 50.0 + 50.0 * 2 / 3),
        ({0, 1, 2, 4, 5, 6, 7}, 4, (4, 5, 6, 7), 100.0),
        ({0, 1, 2, 4, 5, 6, 7}, 5, (0, 4, 5, 6, 7), 0.0),
        ({0, 1, 4, 5, 6}, 4, (0, 4, 5, 6), 0.0),
        ({0, 1, 2, 3, 4, 5, 6, 7}, 0, (), 0.0),
    ],
    ids=[
        "whole-group",
        "best-fit-takes-the-smaller-group",
        "exact-group",
        "partial-group-score-83",
        "group-with-room-beats-a-partial-one",
        "spanning-takes-the-fullest-group-first",
        "spanning-fewest-groups-scores-0",
        "nothing-requested",
    ],
)
def test_pick_devices(free: set[int], k: int, ids: tuple[int, ...], score: float) -> None:
    assert pick_devices(free, HCCS, k) == DevicePick(ids, pytest.approx(score))


def test_pick_devices_short_and_ungrouped() -> None:
    assert pick_devices({0}, HCCS, 2) is None
    # devices in no group form one more group after the listed ones
    assert pick_devices({0, 8, 9}, HCCS, 2) == DevicePick((8, 9), 100.0)
    assert pick_devices({3, 1, 2}, [], 2) == DevicePick((1, 2), 50.0 + 50.0 * 2 / 3)


@pytest.mark.parametrize(
    ("ids", "k", "why"),
    [
        ([2, 3], 2, None),
        ([2], 2, "1 device(s) listed for a request of 2"),
        ([2, 2], 2, "a device is listed twice"),
        ([9], 1, "device 9 does not exist or is unhealthy"),
        ([1], 1, "device 1 is already allocated to another pod"),
    ],
    ids=["valid", "wrong-count", "duplicate", "unknown-or-unhealthy", "already-held"],
)
def test_check_grant(ids: list[int], k: int, why: str | None) -> None:
    assert check_grant(ids, k, usable={0, 1, 2, 3}, used={0, 1}) == why


@pytest.mark.parametrize(
    ("text", "parsed"),
    [
        (None, {}),
        ('{"huawei.com/Ascend910":["0","1"]}', {"huawei.com/Ascend910": [0, 1]}),
        ('{"huawei.com/Ascend910":[2,3]}', {"huawei.com/Ascend910": [2, 3]}),
        ('{"huawei.com/Ascend910":["x"]}', None),
        ('{"huawei.com/Ascend910":[-1]}', None),
        ('{"huawei.com/Ascend910":"0"}', None),
        ("[0]", None),
        ("not json", None),
    ],
    ids=["absent", "string-ids", "integer-ids-accepted", "non-numeric-id", "negative-id", "not-a-list",
         "not-an-object", "not-json"],
)
def test_parse_allocation(text: str | None, parsed: dict[str, list[int]] | None) -> None:
    assert parse_allocation(text) == parsed


def test_formats_round_trip() -> None:
    text = format_allocation({"nvidia.com/gpu": [1], "huawei.com/Ascend910": [0, 3]})
    assert text == '{"huawei.com/Ascend910":["0","3"],"nvidia.com/gpu":["1"]}'
    assert parse_allocation(text) == {"huawei.com/Ascend910": [0, 3], "nvidia.com/gpu": [1]}
    topo = format_topology({"huawei.com/Ascend910": HCCS})
    assert topo == '{"huawei.com/Ascend910":[[0,1,2,3],[4,5,6,7]]}'
    assert parse_topology(topo, "huawei.com/Ascend910", None) == HCCS


@pytest.mark.parametrize(
    ("text", "devices", "groups"),
    [
        ('{"r":[[0,1],[2,3]]}', range(3), [[0, 1], [2]]),
        ('{"r":[[0,1],[2,3]]}', range(6), [[0, 1], [2, 3], [4, 5]]),
        ('{"r":[[0,1],[1,2]]}', None, [[0, 1], [2]]),
        ('{"other":[[0]]}', range(2), [[0, 1]]),
        ("garbage", range(2), [[0, 1]]),
        (None, None, []),
    ],
    ids=["restricted-to-devices", "unlisted-devices-form-a-last-group", "a-device-belongs-to-its-first-group",
         "other-resource-only", "malformed-is-one-group", "absent-lists-nothing"],
)
def test_parse_topology(text: str | None, devices: range | None, groups: list[list[int]]) -> None:
    assert parse_topology(text, "r", devices) == groups


def test_parse_unhealthy_bare_and_qualified_ids() -> None:
    text = "1, huawei.com/Ascend910=3, nvidia.com/gpu=4, junk"
    assert parse_unhealthy(text, "huawei.com/Ascend910") == {1, 3}
    assert parse_unhealthy(text, "nvidia.com/gpu") == {1, 4}
    assert parse_unhealthy(None, "r") == set()


@pytest.mark.parametrize(
    ("free", "need", "spread", "card"),
    [
        ([16000, 4000, 8000], 6000, False, 2),
        ([16000, 4000, 8000], 6000, True, 0),
        ([8000, 8000], 6000, False, 0),
        ([-1, 16000], 1000, False, 1),
        ([4000, 5000], 6000, False, None),
    ],
    ids=["binpack-fullest-fitting", "spread-emptiest", "lowest-index-breaks-ties", "unusable-card-skipped",
         "nothing-fits"],
)
def test_pick_card_by_memory(free: list[float], need: float, spread: bool, card: int | None) -> None:
    assert pick_card_by_memory(free, need, spread=spread) == card


def test_pick_idle_cards() -> None:
    assert pick_idle_cards([16000, 1000, 16000, 16000], 16000, 2) == [0, 2]
    assert pick_idle_cards([16000, -1, 1000], 16000, 2) is None
