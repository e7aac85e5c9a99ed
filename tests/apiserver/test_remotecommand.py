"""The exec/attach protocol pieces: the error-channel Status kubectl decodes, and which container a request means."""

from __future__ import annotations

from typing import Any

import pytest

from suanli.apimachinery.errors import ApiError
from suanli.apiserver.remotecommand import exit_status, pick_container


@pytest.mark.parametrize(
    ("code", "status", "reason", "cause"),
    [(0, "Success", None, None), (3, "Failure", "NonZeroExitCode", "3"), (137, "Failure", "NonZeroExitCode", "137")],
    ids=["zero-is-success", "three-is-exit-code-cause-3", "killed-is-137"],
)
def test_exit_status_is_what_client_go_decodes(code: int, status: str, reason: str | None, cause: str | None) -> None:
    s = exit_status(code, ["sh", "-c", "x"])
    assert s["status"] == status
    assert s.get("reason") == reason
    if cause is not None:
        assert s["details"]["causes"] == [{"reason": "ExitCode", "message": cause}]


def _pod(*names: str, default: str | None = None) -> dict[str, Any]:
    meta: dict[str, Any] = {"name": "p"}
    if default:
        meta["annotations"] = {"kubectl.kubernetes.io/default-container": default}
    return {"metadata": meta, "spec": {"containers": [{"name": n} for n in names]}}


@pytest.mark.parametrize(
    ("pod", "requested", "expected"),
    [(_pod("a"), "", "a"), (_pod("a", "b"), "b", "b"), (_pod("a", "b", default="b"), "", "b")],
    ids=["only-container", "named-container", "default-container-annotation"],
)
def test_pick_container(pod: dict[str, Any], requested: str, expected: str) -> None:
    assert pick_container(pod, requested) == expected


@pytest.mark.parametrize(
    ("pod", "requested", "message"),
    [(_pod("a", "b"), "", "a container name must be specified for pod p, choose one of: [a b]"),
     (_pod("a"), "zzz", "container zzz is not valid for pod p")],
    ids=["ambiguous-is-400", "unknown-is-400"],
)
def test_pick_container_refuses(pod: dict[str, Any], requested: str, message: str) -> None:
    with pytest.raises(ApiError) as info:
        pick_container(pod, requested)
    assert info.value.code == 400 and info.value.message == message
