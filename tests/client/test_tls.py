"""TLS material and token generation, plus a verified HTTPS round trip with the HttpClient."""

from __future__ import annotations

import ipaddress
import stat
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.x509.oid import ExtendedKeyUsageOID

from suanli.apimachinery.errors import ApiError
from suanli.apimachinery.gvr import GVR
from suanli.apiserver.tls import TlsMaterial, ensure_tls_material, ensure_token
from suanli.client.http import HttpClient
from suanli.client.kubeconfig import KubeConfig
from tests.client.stub_server import run_stub


def cert(path: Path) -> x509.Certificate:
    return x509.load_pem_x509_certificate(path.read_bytes())


def sans(path: Path) -> tuple[set[str], set[str]]:
    ext = cert(path).extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    ips = {str(ip) for ip in ext.get_values_for_type(x509.IPAddress)}
    return set(ext.get_values_for_type(x509.DNSName)), ips


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_first_start_creates_ca_and_serving_cert(tmp_path: Path) -> None:
    tls = ensure_tls_material(tmp_path, ["suanli.example.com", "10.1.2.3", "0.0.0.0"])
    ca, server = cert(tls.ca_cert), cert(tls.server_cert)
    server.verify_directly_issued_by(ca)
    assert ca.extensions.get_extension_for_class(x509.BasicConstraints).value.ca
    assert (ca.not_valid_after_utc - ca.not_valid_before_utc).days >= 3650
    eku = server.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
    assert ExtendedKeyUsageOID.SERVER_AUTH in eku
    assert sans(tls.server_cert) == ({"localhost", "suanli.example.com"}, {"127.0.0.1", "::1", "10.1.2.3"})
    assert tls.ca_pem == tls.ca_cert.read_bytes()
    assert (mode(tls.ca_key), mode(tls.server_key)) == (0o600, 0o600)


def test_restart_reuses_files(tmp_path: Path) -> None:
    first = ensure_tls_material(tmp_path, ["node-a"])
    before = {p: p.read_bytes() for p in (first.ca_cert, first.ca_key, first.server_cert, first.server_key)}
    second = ensure_tls_material(tmp_path, ["node-a", "localhost"])
    assert {p: p.read_bytes() for p in before} == before
    assert second == first


def test_new_host_reissues_serving_cert_with_same_ca(tmp_path: Path) -> None:
    first = ensure_tls_material(tmp_path, ["node-a"])
    ca_before, key_before = first.ca_cert.read_bytes(), first.server_key.read_bytes()
    second = ensure_tls_material(tmp_path, ["node-b", "192.168.0.9"])
    assert second.ca_cert.read_bytes() == ca_before
    assert second.server_key.read_bytes() != key_before
    cert(second.server_cert).verify_directly_issued_by(cert(second.ca_cert))
    dns, ips = sans(second.server_cert)
    assert {"node-a", "node-b"} <= dns  # hosts of the older certificate are kept
    assert "192.168.0.9" in ips


@pytest.mark.parametrize("damage", ["missing-key", "corrupt-cert", "key-of-other-cert"],
                         ids=["missing-server-key", "corrupt-server-cert", "mismatched-server-key"])
def test_damaged_serving_cert_is_reissued(tmp_path: Path, damage: str) -> None:
    tls = ensure_tls_material(tmp_path, [])
    if damage == "missing-key":
        tls.server_key.unlink()
    elif damage == "corrupt-cert":
        tls.server_cert.write_text("not a certificate")
    else:
        tls.server_key.write_bytes(tls.ca_key.read_bytes())
    again = ensure_tls_material(tmp_path, [])
    assert again.ca_pem == tls.ca_pem
    cert(again.server_cert).verify_directly_issued_by(cert(again.ca_cert))
    assert cert(again.server_cert).public_key() != cert(again.ca_cert).public_key()


def test_token_is_random_private_and_persistent(tmp_path: Path) -> None:
    token = ensure_token(tmp_path)
    assert len(token) >= 32
    assert mode(tmp_path / "token") == 0o600
    assert ensure_token(tmp_path) == token
    assert ensure_token(tmp_path / "other") != token


@pytest.fixture
def tls(tmp_path: Path) -> TlsMaterial:
    return ensure_tls_material(tmp_path, ["127.0.0.1"])


async def test_https_round_trip_verifies_server_with_ca(tls: TlsMaterial) -> None:
    async with run_stub(token="t0k", certfile=str(tls.server_cert), keyfile=str(tls.server_key)) as stub:
        assert stub.url.startswith("https://")
        async with HttpClient(KubeConfig(server=stub.url, ca_data=tls.ca_pem, token="t0k")) as c:
            assert (await c.list(GVR("", "v1", "pods")))["kind"] == "PodList"


async def test_https_without_our_ca_fails_verification(tls: TlsMaterial, tmp_path: Path) -> None:
    other = ensure_tls_material(tmp_path / "other", [])
    async with run_stub(certfile=str(tls.server_cert), keyfile=str(tls.server_key)) as stub:
        async with HttpClient(KubeConfig(server=stub.url, ca_data=other.ca_pem)) as c:
            with pytest.raises(ApiError) as info:
                await c.list(GVR("", "v1", "pods"))
        assert info.value.code == 503
        assert "CERTIFICATE_VERIFY_FAILED" in info.value.message
        async with HttpClient(KubeConfig(server=stub.url, insecure_skip_tls_verify=True)) as c:
            assert (await c.list(GVR("", "v1", "pods")))["kind"] == "PodList"


def test_ip_hosts_are_ip_sans_not_dns(tmp_path: Path) -> None:
    tls = ensure_tls_material(tmp_path, ["[fd00::1]", "10.0.0.1"])
    dns, ips = sans(tls.server_cert)
    assert str(ipaddress.ip_address("fd00::1")) in ips
    assert not any(d[0].isdigit() or ":" in d for d in dns)
