"""``--token-auth-file``: upstream ``tokenfile_test.go`` cases (our parser, their inputs and expectations)."""

from __future__ import annotations

from pathlib import Path

import pytest

from suanli.apiserver.authn.static import AdminToken, TokenFile, TokenFileError, parse_token_file
from suanli.apiserver.authn.types import Credentials
from suanli.apiserver.context import ADMIN, UserInfo

UPSTREAM_FILE = '''
token1,user1,uid1
token2,user2,uid2
token3,user3,uid3,"group1,group2"
token4,user4,uid4,"group2"
token5,user5,uid5,group5
token6,user6,uid6,group5,otherdata
token7,user7,uid7,"group1,group2",otherdata
'''


@pytest.mark.parametrize(("token", "user"), [
    ("token1", UserInfo("user1", uid="uid1")),
    ("token2", UserInfo("user2", uid="uid2")),
    ("token3", UserInfo("user3", uid="uid3", groups=("group1", "group2"))),
    ("token4", UserInfo("user4", uid="uid4", groups=("group2",))),
    ("token5", UserInfo("user5", uid="uid5", groups=("group5",))),
    ("token6", UserInfo("user6", uid="uid6", groups=("group5",))),
    ("token7", UserInfo("user7", uid="uid7", groups=("group1", "group2"))),
    ("token8", None),
], ids=["plain", "plain-2", "quoted-groups", "quoted-one-group", "bare-group", "extra-column-ignored",
        "quoted-groups-extra-column", "unknown-token"])
async def test_token_file(tmp_path: Path, token: str, user: UserInfo | None) -> None:
    path = tmp_path / "tokens.csv"
    path.write_text(UPSTREAM_FILE)
    resp = await TokenFile.load(path).authenticate(Credentials(token=token))
    assert (resp.user if resp else None) == user


@pytest.mark.parametrize("text", ["token1,user1,uid1\ntoken2,user2,uid2\ntoken3,user3\ntoken4\n", "token4\n"],
                         ids=["bad-record-among-good", "insufficient-columns"])
def test_a_record_with_fewer_than_three_columns_rejects_the_file(text: str) -> None:
    with pytest.raises(TokenFileError, match="must have at least 3 columns"):
        parse_token_file(text, "tokens.csv")


def test_an_empty_token_is_not_recorded() -> None:
    assert parse_token_file(",user5,uid5\n") == {}


def test_a_repeated_token_keeps_its_last_record() -> None:
    assert parse_token_file("t,first,1\nt,second,2\n")["t"].name == "second"


def test_malformed_quoting_names_the_file() -> None:
    with pytest.raises(TokenFileError, match=r"tokens\.csv"):
        parse_token_file('t,u,1,"unterminated\n', "tokens.csv")


@pytest.mark.parametrize(("token", "accepted"), [("s3cret", True), ("s3cre", False), ("", False), (None, False)],
                         ids=["exact", "prefix", "empty", "none"])
async def test_admin_token(token: str | None, accepted: bool) -> None:
    resp = await AdminToken("s3cret").authenticate(Credentials(token=token))
    assert (resp.user if resp else None) == (ADMIN if accepted else None)
