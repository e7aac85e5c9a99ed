"""The tenant recipe's RBAC half through the real kubectl with impersonation (``--as``/``--as-group``):
each department's members read their own pods and not the other's, quota still applies to them,
and department admins cannot change their own quota. Needs the RBAC authorizer and impersonation
(issue 11 item 2); the recipe's objects come from examples/tenants (see docs/tenants.md)."""

from __future__ import annotations

import pytest

from tests.conftest import Kubectl
from tests.e2e.conftest import manifest

pytestmark = [pytest.mark.e2e, pytest.mark.usefixtures("departments")]

MEMBERS = {"dept-a": ("alice", "dept-a-developers"), "dept-b": ("bob", "dept-b-developers")}


def as_member(kc: Kubectl, dept: str, *args: str, input: str | None = None) -> tuple[int, str, str]:
    user, group = MEMBERS[dept]
    proc = kc.run(*args, "--as", user, "--as-group", group, input=input, check=False)
    return proc.returncode, proc.stdout.strip(), proc.stderr.strip()


@pytest.mark.parametrize(("dept", "other"), [("dept-a", "dept-b"), ("dept-b", "dept-a")],
                         ids=["a-cannot-read-b", "b-cannot-read-a"])
def test_neither_department_can_read_the_others_pods(kc: Kubectl, dept: str, other: str) -> None:
    user = MEMBERS[dept][0]
    code, _, err = as_member(kc, dept, "get", "pods", "-n", dept)
    assert code == 0, err
    code, _, err = as_member(kc, dept, "get", "pods", "-n", other)
    assert code == 1
    assert err == (f'Error from server (Forbidden): pods is forbidden: User "{user}" cannot list resource "pods" '
                   f'in API group "" in the namespace "{other}"')
    assert as_member(kc, dept, "auth", "can-i", "list", "pods", "-n", other)[1] == "no"
    assert as_member(kc, dept, "auth", "can-i", "create", "pods", "-n", dept)[1] == "yes"


def test_members_are_bound_by_their_quota(kc: Kubectl) -> None:
    """A member's creates are admitted by RBAC and then charged: 2-CPU pods until the 2-CPU quota refuses."""
    created: list[str] = []
    err = ""
    for i in range(3):
        pod = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": f"greedy-{i}"},
               "spec": {"containers": [{"name": "main", "image": "busybox:1.36",
                                        "resources": {"requests": {"cpu": "2"}, "limits": {"cpu": "2"}}}]}}
        code, _, err = as_member(kc, "dept-b", "create", "-n", "dept-b", "-f", "-", input=manifest(pod))
        if code != 0:
            break
        created.append(f"greedy-{i}")
    assert len(created) <= 1
    assert f'pods "greedy-{len(created)}" is forbidden: exceeded quota: compute, requested: requests.cpu=2' in err
    for name in created:
        code, _, derr = as_member(kc, "dept-b", "delete", "pod", name, "-n", "dept-b", "--grace-period=0",
                                  "--force", "--wait=true")
        assert code == 0, derr


def test_department_admins_cannot_change_their_quota(kc: Kubectl) -> None:
    proc = kc.run("patch", "resourcequota", "compute", "-n", "dept-a", "--type=merge",
                  "-p", '{"spec":{"hard":{"requests.cpu":"100"}}}', "--as", "carol", "--as-group", "dept-a-admins",
                  check=False)
    assert proc.returncode == 1
    assert proc.stderr.strip() == ('Error from server (Forbidden): resourcequotas "compute" is forbidden: User "carol" '
                                   'cannot patch resource "resourcequotas" in API group "" in the namespace "dept-a"')
