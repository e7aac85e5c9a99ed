"""A kubeconfig ``tokenFile`` (and the in-cluster token) is re-read as the kubelet rotates it."""

from __future__ import annotations

from pathlib import Path

from suanli.apimachinery.gvr import GVR
from suanli.client.http import HttpClient, TokenFileAuth
from suanli.client.kubeconfig import KubeConfig
from tests.client.stub_server import run_stub

PODS = GVR("", "v1", "pods")


async def test_a_rotated_token_file_is_used_after_the_refresh_interval(tmp_path: Path) -> None:
    token = tmp_path / "token"
    token.write_text("first\n")
    async with run_stub() as stub:
        client = HttpClient(KubeConfig(server=stub.url, token_file=str(token)))
        auth = client._http.auth
        assert isinstance(auth, TokenFileAuth)
        auth.refresh = 3600.0
        await client.list(PODS)
        token.write_text("second\n")
        await client.list(PODS)
        assert [r.headers["authorization"] for r in stub.requests[-2:]] == ["Bearer first", "Bearer first"]
        auth.refresh = 0.0  # the interval has passed
        await client.list(PODS)
        assert stub.requests[-1].headers["authorization"] == "Bearer second"
        token.unlink()  # unreadable: the last token stays in use
        await client.list(PODS)
        assert stub.requests[-1].headers["authorization"] == "Bearer second"
        await client.close()


async def test_an_inline_token_wins_over_the_file(tmp_path: Path) -> None:
    (tmp_path / "token").write_text("from-file")
    async with run_stub() as stub:
        async with HttpClient(KubeConfig(server=stub.url, token="inline", token_file=str(tmp_path / "token"))) as c:
            await c.list(PODS)
        assert stub.requests[-1].headers["authorization"] == "Bearer inline"
