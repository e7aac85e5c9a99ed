"""A kopf operator with a validating admission webhook (kopf's own ``WebhookServer``).

Environment: ``WEBHOOK_PORT`` and ``WEBHOOK_TLS`` (a directory with ``ca.crt``, ``server.crt``,
``server.key``). kopf registers the ValidatingWebhookConfiguration ``suanli-e2e.kopf.dev``
itself; the handler rejects ConfigMaps labelled ``guard: on`` that carry a ``forbidden`` key.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import kopf


@kopf.on.startup()
def configure(settings: kopf.OperatorSettings, **_: Any) -> None:
    tls = Path(os.environ["WEBHOOK_TLS"])
    settings.admission.server = kopf.WebhookServer(
        addr="127.0.0.1", host="127.0.0.1", port=int(os.environ["WEBHOOK_PORT"]),
        cafile=str(tls / "ca.crt"), certfile=str(tls / "server.crt"), pkeyfile=str(tls / "server.key"))
    settings.admission.managed = "suanli-e2e.kopf.dev"


@kopf.on.validate("configmaps", id="guard", labels={"guard": "on"})
def guard(body: kopf.Body, **_: Any) -> None:
    if "forbidden" in (body.get("data") or {}):
        raise kopf.AdmissionError("the forbidden key is not allowed", code=422)
