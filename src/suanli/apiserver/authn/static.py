"""Static bearer tokens: the generated admin token and kube-apiserver's ``--token-auth-file``.

The token file is CSV, one record per token: ``token,user,uid[,"group1,group2"[,ignored...]]``
(upstream ``tokenfile.NewCSV``): at least three columns (else the file is rejected); the fourth,
when present, is split on commas into groups; later columns are ignored; a record with an empty
token is skipped; a repeated token keeps its last record. The file is read once at start, as
upstream (restart to change it).
"""

from __future__ import annotations

import csv
import hmac
import io
import logging
from collections.abc import Mapping
from pathlib import Path

from suanli.apiserver.authn.types import Credentials, Response
from suanli.apiserver.context import ADMIN, UserInfo

__all__ = ["AdminToken", "TokenFile", "TokenFileError", "parse_token_file"]

log = logging.getLogger(__name__)


class TokenFileError(ValueError):
    """A token file that cannot be used; the message names the file and the record."""


class AdminToken:
    """The generated admin bearer token (``<data dir>/token``): ``system:admin`` in ``system:masters``."""

    def __init__(self, token: str, user: UserInfo = ADMIN) -> None:
        self._token = token.encode()
        self.user = user

    async def authenticate(self, credentials: Credentials) -> Response | None:
        if credentials.token and hmac.compare_digest(credentials.token.encode(), self._token):
            return Response(self.user)
        return None


def parse_token_file(text: str, source: str = "<token file>") -> dict[str, UserInfo]:
    """The users of a token file's ``text`` by token; raises :class:`TokenFileError` on a malformed file."""
    tokens: dict[str, UserInfo] = {}
    reader = csv.reader(io.StringIO(text), strict=True)
    record_num = 0
    try:
        for record in reader:
            if not record:  # blank lines carry no record (Go's encoding/csv skips them too)
                continue
            if len(record) < 3:
                raise TokenFileError(f"token file '{source}' must have at least 3 columns (token, user name, "
                                     f"user uid), found {len(record)}")
            record_num += 1
            if record[0] == "":
                log.warning("empty token has been found in token file '%s', record number '%d'", source, record_num)
                continue
            if record[0] in tokens:
                log.warning("duplicate token has been found in token file '%s', record number '%d'", source,
                            record_num)
            groups = tuple(record[3].split(",")) if len(record) >= 4 else ()
            tokens[record[0]] = UserInfo(record[1], uid=record[2], groups=groups)
    except csv.Error as err:
        raise TokenFileError(f"token file '{source}' line {reader.line_num}: {err}") from None
    return tokens


class TokenFile:
    """Bearer tokens from a kube-apiserver token file (see module docstring)."""

    def __init__(self, tokens: Mapping[str, UserInfo]) -> None:
        self.tokens = dict(tokens)

    @classmethod
    def load(cls, path: Path) -> TokenFile:
        """Read ``path``; raises ``OSError`` or :class:`TokenFileError`."""
        return cls(parse_token_file(Path(path).read_text(), str(path)))

    async def authenticate(self, credentials: Credentials) -> Response | None:
        user = self.tokens.get(credentials.token) if credentials.token else None
        return None if user is None else Response(user)
