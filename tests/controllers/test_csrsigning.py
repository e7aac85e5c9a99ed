"""CertificateSigningRequests signed by the cluster CA (upstream csrsigning: signer rules, durations,
Failed on validation, Denied and foreign signers left alone) and their API validation."""

from __future__ import annotations

import base64
import datetime as dt
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from suanli.apimachinery.errors import ApiError
from suanli.apimachinery.gvr import GVR
from suanli.apimachinery.objects import deep_copy
from suanli.apiserver.csr import certificate_ttl, parse_csr, signer_validation_error
from suanli.controllers.csrsigning import CSRSigningController
from suanli.runtime.clock import FakeClock
from tests.controllers.conftest import Api, eventually, running

CSRS = GVR("certificates.k8s.io", "v1", "certificatesigningrequests", namespaced=False)
WALL = 1_700_000_000.0


def make_csr(cn: str, orgs: tuple[str, ...] = (), dns: tuple[str, ...] = ()) -> bytes:
    key = ec.generate_private_key(ec.SECP256R1())
    attrs = [x509.NameAttribute(NameOID.COMMON_NAME, cn)] + [x509.NameAttribute(NameOID.ORGANIZATION_NAME, o)
                                                            for o in orgs]
    builder = x509.CertificateSigningRequestBuilder().subject_name(x509.Name(attrs))
    if dns:
        builder = builder.add_extension(x509.SubjectAlternativeName([x509.DNSName(d) for d in dns]), critical=False)
    return builder.sign(key, hashes.SHA256()).public_bytes(serialization.Encoding.PEM)


def make_ca() -> tuple[x509.Certificate, ec.EllipticCurvePrivateKey]:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "test-ca")])
    now = dt.datetime.fromtimestamp(WALL, dt.UTC)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(1).not_valid_before(now - dt.timedelta(days=1))
            .not_valid_after(now + dt.timedelta(days=3650))
            .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
            .sign(key, hashes.SHA256()))
    return cert, key


CLIENT = "kubernetes.io/kube-apiserver-client"
KUBELET = "kubernetes.io/kube-apiserver-client-kubelet"
SERVING = "kubernetes.io/kubelet-serving"
NODE = ("system:node:n1", ("system:nodes",))


@pytest.mark.parametrize(("signer", "subject", "dns", "usages", "problem"), [
    (CLIENT, ("alice", ("devs",)), (), ["client auth"], ""),
    (CLIENT, ("alice", ()), (), ["digital signature", "key encipherment", "client auth"], ""),
    (CLIENT, ("alice", ()), (), ["digital signature"], "missing required usage for client certificate: client auth"),
    (CLIENT, ("alice", ()), (), ["client auth", "server auth"], "invalid usage for client certificate: server auth"),
    (KUBELET, NODE, (), ["digital signature", "key encipherment", "client auth"], ""),
    (KUBELET, NODE, (), ["digital signature", "client auth"], ""),
    (KUBELET, ("system:node:n1", ("devs",)), (), ["digital signature", "client auth"],
     "subject organization is not system:nodes"),
    (KUBELET, ("alice", ("system:nodes",)), (), ["digital signature", "client auth"],
     "subject common name does not begin with system:node:"),
    (KUBELET, NODE, ("n1.example",), ["digital signature", "client auth"], "DNS subjectAltNames are not allowed"),
    (KUBELET, NODE, (), ["client auth"], "usages did not match [client auth digital signature key encipherment]"),
    (SERVING, NODE, ("n1.example",), ["digital signature", "server auth"], ""),
    (SERVING, NODE, (), ["digital signature", "server auth"], "DNS or IP subjectAltName is required"),
    ("kubernetes.io/legacy-unknown", ("anything", ()), (), ["server auth"], ""),
], ids=["client", "client-optional-usages", "client-without-client-auth", "client-server-usage", "kubelet",
        "kubelet-no-rsa", "kubelet-wrong-org", "kubelet-wrong-cn", "kubelet-dns-san", "kubelet-usages",
        "serving", "serving-without-san", "legacy-unknown"])
def test_signer_rules(signer: str, subject: tuple[str, tuple[str, ...]], dns: tuple[str, ...], usages: list[str],
                      problem: str) -> None:
    csr = parse_csr(make_csr(subject[0], subject[1], dns))
    assert signer_validation_error(signer, csr, usages) == problem


@pytest.mark.parametrize(("seconds", "expected"), [
    (None, 365 * 86400), (600, 600), (599, 600), (3600, 3600), (2 * 365 * 86400, 365 * 86400)],
    ids=["default", "minimum", "below-minimum", "hour", "above-maximum"])
def test_certificate_ttl(seconds: int | None, expected: int) -> None:
    assert certificate_ttl(seconds).total_seconds() == expected


def csr_obj(name: str, pem: bytes, signer: str = CLIENT, usages: tuple[str, ...] = ("client auth",),
            **spec: Any) -> dict[str, Any]:
    return {"apiVersion": "certificates.k8s.io/v1", "kind": "CertificateSigningRequest", "metadata": {"name": name},
            "spec": {"request": base64.b64encode(pem).decode(), "signerName": signer, "usages": list(usages), **spec}}


async def _approve(api: Api, name: str, kind: str = "Approved") -> None:
    csr = deep_copy(await api.client.get(CSRS, name))  # the client hands out the store's shared copy
    csr.setdefault("status", {})["conditions"] = [{"type": kind, "status": "True", "reason": "Test"}]
    await api.client.update(CSRS, csr, subresource="approval")


async def test_approved_client_request_is_signed_by_the_ca(api: Api) -> None:
    ca_cert, ca_key = make_ca()
    clock = FakeClock(wall_start=WALL)
    async with running(CSRSigningController(api.client, lambda: (ca_cert, ca_key), clock=clock)):
        await api.client.create(CSRS, csr_obj("alice", make_csr("alice", ("devs", "ops")), expirationSeconds=3600))
        await api.client.create(CSRS, csr_obj("pending", make_csr("bob")))
        await _approve(api, "alice")
        csr = await eventually(lambda: _with_certificate(api, "alice"), what="certificate issued")
        cert = x509.load_pem_x509_certificate(base64.b64decode(csr["status"]["certificate"]))
        cert.verify_directly_issued_by(ca_cert)
        assert cert.subject.rfc4514_string() == "O=ops,O=devs,CN=alice"
        assert cert.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value == x509.ExtendedKeyUsage(
            [ExtendedKeyUsageOID.CLIENT_AUTH])
        now = dt.datetime.fromtimestamp(WALL, dt.UTC)
        assert cert.not_valid_after_utc == now + dt.timedelta(seconds=3600)
        assert now - dt.timedelta(minutes=5) <= cert.not_valid_before_utc < now  # backdated, scaled for 1 h
        # an issued certificate cannot be replaced and the approval cannot be withdrawn
        with pytest.raises(ApiError) as err:
            await api.client.patch(CSRS, "alice", {"status": {"certificate": base64.b64encode(b"x").decode()}},
                                   subresource="status")
        assert "updates may not modify existing certificate content" in err.value.message
        assert not ((await api.client.get(CSRS, "pending")).get("status") or {}).get("certificate")


async def test_refused_denied_and_foreign_requests(api: Api) -> None:
    ca_cert, ca_key = make_ca()
    ctrl = CSRSigningController(api.client, lambda: (ca_cert, ca_key), clock=FakeClock(wall_start=WALL))
    async with running(ctrl):
        await api.client.create(CSRS, csr_obj("kubelet", make_csr("system:node:n1", ("devs",)), KUBELET,
                                              ("digital signature", "client auth")))
        await api.client.create(CSRS, csr_obj("denied", make_csr("carol")))
        await api.client.create(CSRS, csr_obj("foreign", make_csr("dave"), "example.com/signer"))
        await _approve(api, "kubelet")
        await _approve(api, "denied", "Denied")
        await _approve(api, "foreign")
        csr = await eventually(lambda: _failed(api, "kubelet"), what="Failed condition")
        assert (csr["reason"], csr["message"]) == ("SignerValidationFailure",
                                                   "subject organization is not system:nodes")
        await eventually(lambda: len(ctrl.queue) == 0 and not ctrl.queue._processing, what="queue idle")
        for name in ("denied", "foreign"):
            assert not ((await api.client.get(CSRS, name)).get("status") or {}).get("certificate")


async def _with_certificate(api: Api, name: str) -> dict[str, Any] | None:
    csr = await api.client.get(CSRS, name)
    return csr if (csr.get("status") or {}).get("certificate") else None


async def _failed(api: Api, name: str) -> dict[str, Any] | None:
    csr = await api.client.get(CSRS, name)
    return next((c for c in (csr.get("status") or {}).get("conditions") or [] if c["type"] == "Failed"), None)


@pytest.mark.parametrize(("spec", "field", "message"), [
    ({"expirationSeconds": 599}, "spec.expirationSeconds",
     "Invalid value: 599: may not specify a duration less than 600 seconds (10 minutes)"),
    ({"signerName": "kubernetes.io/legacy-unknown"}, "spec.signerName",
     'Invalid value: "kubernetes.io/legacy-unknown": the legacy signerName is not allowed via this API version'),
    ({"usages": []}, "spec.usages", "Required value"),
    ({"request": base64.b64encode(b"not a pem").decode()}, "spec.request",
     "PEM block type must be CERTIFICATE REQUEST"),
], ids=["expiration-below-600", "legacy-signer", "no-usages", "not-a-csr"])
async def test_create_validation(api: Api, spec: dict[str, Any], field: str, message: str) -> None:
    obj = csr_obj("bad", make_csr("eve"))
    obj["spec"].update(spec)
    with pytest.raises(ApiError) as err:
        await api.client.create(CSRS, obj)
    assert err.value.code == 422
    assert any(c.field == field and message in c.message for c in err.value.causes)


async def test_approved_and_denied_are_mutually_exclusive(api: Api) -> None:
    await api.client.create(CSRS, csr_obj("both", make_csr("frank")))
    csr = deep_copy(await api.client.get(CSRS, "both"))
    csr["status"] = {"conditions": [{"type": "Approved", "status": "True"}, {"type": "Denied", "status": "True"}]}
    with pytest.raises(ApiError) as err:
        await api.client.update(CSRS, csr, subresource="approval")
    assert "Approved and Denied conditions are mutually exclusive" in err.value.message
