"""One CA loader (``apiserver/tls.parse_ca``) for the data dir and for PEM handed over by the platform."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from suanli.apiserver.tls import ensure_tls_material, load_ca, parse_ca

PrivateKey = ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey


def _pem(key: PrivateKey) -> bytes:
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                             serialization.NoEncryption())


def test_parse_ca_reads_the_generated_ca_as_load_ca_does(tmp_path: Path) -> None:
    m = ensure_tls_material(tmp_path, ["127.0.0.1"])
    cert, key = parse_ca(m.ca_cert.read_bytes(), m.ca_key.read_bytes())
    assert (cert, key.private_numbers()) == (load_ca(tmp_path)[0], load_ca(tmp_path)[1].private_numbers())


@pytest.mark.parametrize("other_key", [
    pytest.param(lambda: ec.generate_private_key(ec.SECP256R1()), id="ec-key-of-another-ca"),
    pytest.param(lambda: rsa.generate_private_key(public_exponent=65537, key_size=2048), id="rsa-key"),
])
def test_parse_ca_rejects_a_key_that_is_not_the_certificates(tmp_path: Path,
                                                            other_key: Callable[[], PrivateKey]) -> None:
    m = ensure_tls_material(tmp_path, ["127.0.0.1"])
    with pytest.raises(ValueError, match=re.escape("ca.key is not the key of ca.crt")):
        parse_ca(m.ca_cert.read_bytes(), _pem(other_key()))


def test_load_ca_names_the_directory_of_an_unusable_ca(tmp_path: Path) -> None:
    ensure_tls_material(tmp_path, ["127.0.0.1"])
    (tmp_path / "tls" / "ca.key").write_bytes(_pem(ec.generate_private_key(ec.SECP256R1())))
    with pytest.raises(ValueError, match=re.escape(f"{tmp_path / 'tls'}: ca.key is not the key of ca.crt")):
        load_ca(tmp_path)
