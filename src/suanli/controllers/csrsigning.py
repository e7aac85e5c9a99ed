"""kube-controller-manager's ``csrsigning`` controller: approved CertificateSigningRequests for the
built-in ``kubernetes.io/*`` signers get ``status.certificate`` signed by the cluster CA.

Contract (upstream ``pkg/controller/certificates/signer``):

* only requests with condition ``Approved`` (and no ``Failed``), no certificate yet and a signer
  in :data:`suanli.apiserver.csr.KNOWN_SIGNERS` are handled; others are left alone (another
  signer may own them; ``Denied`` ones are never signed);
* a request the signer's rules refuse gets condition ``Failed`` (reason
  ``SignerValidationFailure``, upstream's message) and no certificate; an unparsable request
  is retried (logged), as upstream;
* the certificate honours ``spec.expirationSeconds`` (clamped to [600 s, one year]) and is
  written through the ``status`` subresource.

Issued certificates name the CSR's subject: a ``kube-apiserver-client`` certificate with
``CN=<user>, O=<group>…`` is the client identity X.509 authentication accepts.
"""

from __future__ import annotations

import base64
import datetime as dt
import logging
from collections.abc import Callable

from cryptography import x509

from suanli.apimachinery.errors import ApiError
from suanli.apimachinery.objects import Obj, deep_copy
from suanli.apiserver.csr import KNOWN_SIGNERS, CaKey, certificate_ttl, parse_csr, sign, signer_validation_error
from suanli.client.protocol import Client
from suanli.controllers._controller import QueueController
from suanli.runtime.clock import Clock
from suanli.runtime.informer import object_key
from suanli.runtime.informer_factory import SharedInformerFactory
from suanli.wire import CSRS

__all__ = ["CSRS", "CSRSigningController"]

log = logging.getLogger(__name__)


def _condition(csr: Obj, kind: str) -> bool:
    return any(c.get("type") == kind and c.get("status", "True") == "True"
               for c in (csr.get("status") or {}).get("conditions") or [])


class CSRSigningController(QueueController):
    """Signs approved requests of the built-in signers with ``ca`` (certificate, key)."""

    name = "csrsigning-controller"

    def __init__(self, client: Client, ca: Callable[[], tuple[x509.Certificate, CaKey]], *,
                 clock: Clock | None = None, factory: SharedInformerFactory | None = None) -> None:
        super().__init__(client, clock=clock, workers=1, factory=factory)
        self._ca = ca
        self.csrs = self.watch(CSRS)
        self.csrs.add_handler(self._seen, lambda _o, n: self._seen(n), None)

    def _seen(self, csr: Obj) -> None:
        self.queue.add(object_key(csr))

    async def reconcile(self, key: str) -> None:
        csr = self.csrs.get("", key)
        if csr is None:
            return
        spec, status = csr.get("spec") or {}, csr.get("status") or {}
        if status.get("certificate") or not _condition(csr, "Approved") or _condition(csr, "Failed") or \
                spec.get("signerName") not in KNOWN_SIGNERS:
            return
        request = parse_csr(base64.b64decode(str(spec.get("request") or "")))
        usages = [str(u) for u in spec.get("usages") or []]
        problem = signer_validation_error(str(spec["signerName"]), request, usages)
        new = deep_copy(csr)
        now = dt.datetime.fromtimestamp(self.clock.now(), dt.UTC)
        if problem:
            stamp = now.strftime("%Y-%m-%dT%H:%M:%SZ")
            new.setdefault("status", {}).setdefault("conditions", []).append({
                "type": "Failed", "status": "True", "reason": "SignerValidationFailure", "message": problem,
                "lastUpdateTime": stamp, "lastTransitionTime": stamp})
        else:
            ca_cert, ca_key = self._ca()
            expiration = spec.get("expirationSeconds")
            pem = sign(request, usages, certificate_ttl(int(expiration) if expiration is not None else None),
                       ca_cert, ca_key, now)
            new.setdefault("status", {})["certificate"] = base64.b64encode(pem).decode()
        try:
            await self.client.update(CSRS, new, subresource="status")
        except ApiError as err:
            if err.code != 404:
                raise
