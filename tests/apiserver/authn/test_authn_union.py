"""The chain's composition rules, as upstream's union, bearer-token, anonymous and group-adder tests state them.

Tables follow ``apiserver/pkg/authentication/request/union/unionauth_test.go`` (second passes,
unnecessary errors suppressed, none pass, additive errors, fail-on-error) and
``token/union`` / ``group`` / ``anonymous`` behaviour.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass

import pytest

from suanli.apiserver.authn.types import AuthenticationError, Credentials, Response
from suanli.apiserver.authn.union import (
    ANONYMOUS,
    Anonymous,
    AudienceAgnostic,
    AuthenticatedGroup,
    BearerToken,
    TokenCache,
    Union,
)
from suanli.apiserver.context import UserInfo

ALICE = UserInfo("alice", groups=("dev",))
BOB = UserInfo("bob")


@dataclass
class Fake:
    """Answers with ``user``, raises ``error``, or says "not mine"; counts its calls."""

    user: UserInfo | None = None
    error: str | None = None
    calls: int = 0

    async def authenticate(self, credentials: Credentials) -> Response | None:
        self.calls += 1
        if self.error is not None:
            raise AuthenticationError(self.error)
        return None if self.user is None else Response(self.user)


@pytest.mark.parametrize(("chain", "expected", "error"), [
    ([Fake(ALICE), Fake(BOB)], "alice", None),
    ([Fake(), Fake(BOB)], "bob", None),
    ([Fake(error="first"), Fake(BOB)], "bob", None),
    ([Fake(), Fake()], None, None),
    ([], None, None),
    ([Fake(error="first"), Fake(error="second")], None, "first; second"),
    ([Fake(error="only"), Fake()], None, "only"),
], ids=["first-passes", "second-passes", "errors-suppressed-when-one-passes", "none-pass", "no-authenticators",
        "additive-errors", "one-error-reported"])
async def test_union_first_success_wins(chain: list[Fake], expected: str | None, error: str | None) -> None:
    union = Union(chain)
    if error is not None:
        with pytest.raises(AuthenticationError, match=error):
            await union.authenticate(Credentials(token="t"))
        return
    resp = await union.authenticate(Credentials(token="t"))
    assert (resp.user.name if resp else None) == expected


async def test_union_stops_asking_after_a_success() -> None:
    later = Fake(BOB)
    await Union([Fake(ALICE), later]).authenticate(Credentials(token="t"))
    assert later.calls == 0


@pytest.mark.parametrize(("token", "inner", "outcome"), [
    (None, Fake(ALICE), "none"),
    ("", Fake(ALICE), "none"),
    ("t", Fake(ALICE), "alice"),
    ("t", Fake(), "invalid bearer token"),
    ("t", Fake(error="expired"), "expired"),
], ids=["no-token-not-mine", "empty-token-not-mine", "accepted", "unknown-token-is-an-error", "inner-error-kept"])
async def test_bearer_token(token: str | None, inner: Fake, outcome: str) -> None:
    auth = BearerToken(inner)
    if outcome in ("none", "alice"):
        resp = await auth.authenticate(Credentials(token=token))
        assert (resp.user.name if resp else "none") == outcome
        return
    with pytest.raises(AuthenticationError, match=outcome):
        await auth.authenticate(Credentials(token=token))


@pytest.mark.parametrize(("user", "groups"), [
    (UserInfo("alice", groups=("dev",)), ("dev", "system:authenticated")),
    (UserInfo("alice", groups=("system:authenticated", "dev")), ("system:authenticated", "dev")),
    (UserInfo("alice"), ("system:authenticated",)),
    (ANONYMOUS, ("system:unauthenticated",)),
], ids=["added", "not-duplicated", "no-groups", "anonymous-untouched"])
async def test_authenticated_group_adder(user: UserInfo, groups: tuple[str, ...]) -> None:
    resp = await AuthenticatedGroup(Fake(user)).authenticate(Credentials())
    assert resp is not None and resp.user.groups == groups


@pytest.mark.parametrize(("inner", "outcome"), [
    (Fake(), "system:anonymous"),
    (Fake(ALICE), "alice"),
    (Fake(error="invalid bearer token"), "error"),
], ids=["nobody-answers-anonymous", "authenticated-user-wins", "fail-on-error-no-anonymous"])
async def test_anonymous_fails_on_error(inner: Fake, outcome: str) -> None:
    auth = Anonymous(inner)
    if outcome == "error":
        with pytest.raises(AuthenticationError):
            await auth.authenticate(Credentials(token="bad"))
        return
    resp = await auth.authenticate(Credentials())
    assert resp is not None and resp.user.name == outcome
    if outcome == "system:anonymous":
        assert resp.user.groups == ("system:unauthenticated",)


@pytest.mark.parametrize(("requested", "accepted", "audiences"), [
    ((), True, ()),
    (("api",), True, ("api",)),
    (("other", "api"), True, ("api",)),
    (("other",), False, ()),
], ids=["no-audiences-requested", "api-audience", "intersection", "foreign-audience-refused"])
async def test_audience_agnostic_tokens_are_valid_for_the_api_audiences_only(
        requested: tuple[str, ...], accepted: bool, audiences: tuple[str, ...]) -> None:
    inner = Fake(ALICE)
    resp = await AudienceAgnostic(("api",), inner).authenticate(Credentials(token="t", audiences=requested))
    assert (resp is not None) == accepted
    if resp is not None:
        assert resp.audiences == audiences
    assert inner.calls == (1 if accepted else 0)


async def test_token_cache_remembers_successes_for_the_ttl() -> None:
    clock = [0.0]
    inner = Fake(ALICE)
    cache = TokenCache(inner, ttl=10, clock=lambda: clock[0])
    for _ in range(3):
        assert (await cache.authenticate(Credentials(token="t", audiences=("api",)))) is not None
    assert inner.calls == 1
    await cache.authenticate(Credentials(token="t", audiences=("other",)))
    assert inner.calls == 2  # another audience set is another entry
    clock[0] = 10.5
    await cache.authenticate(Credentials(token="t", audiences=("api",)))
    assert inner.calls == 3


@pytest.mark.parametrize("inner", [Fake(), Fake(error="expired")], ids=["not-mine", "error"])
async def test_token_cache_does_not_remember_failures(inner: Fake) -> None:
    cache = TokenCache(inner, ttl=10)
    for _ in range(2):
        with contextlib.suppress(AuthenticationError):
            await cache.authenticate(Credentials(token="t"))
    assert inner.calls == 2
