"""The serving TLS context: TLS 1.2 minimum, ECDHE + AEAD suites only (uvicorn's default allows CBC and NULL)."""

from __future__ import annotations

import ssl

from suanli.apiserver.tls import harden_server_context


def test_only_tls12_plus_with_ecdhe_aead_ciphers() -> None:
    loose = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    loose.set_ciphers("TLSv1")  # what uvicorn configures by default
    assert any(c["name"] == "ECDHE-ECDSA-AES128-SHA" for c in loose.get_ciphers())
    ctx = harden_server_context(loose)
    assert ctx.minimum_version == ssl.TLSVersion.TLSv1_2
    tls12 = [c for c in ctx.get_ciphers() if c["protocol"] == "TLSv1.2"]
    assert tls12 and all(c["aead"] and c["kea"] == "kx-ecdhe" for c in tls12)
    assert ctx.options & ssl.OP_NO_COMPRESSION
