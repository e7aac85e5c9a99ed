"""Server CPU per request spent in authentication, per kind of credential.

Builds the chain ``suanli up`` builds (admin token, a 1,000-user token file, ServiceAccount
tokens over an in-memory object map, x509 with the cluster CA) and times
``Authentication.authenticate`` with ``time.thread_time`` (main-thread CPU):

* ``admin``, ``tokenfile``: static tokens;
* ``sa-cached``: a bound ServiceAccount token within the 10 s success cache (the steady state);
* ``sa-uncached``: the same with the cache off (``token_cache_ttl=0``): ES256 verify + JSON + lookups;
* ``x509``: a client certificate (verified once, then from the certificate cache);
* ``bad-token``: an unknown bearer token (walks every token authenticator, then 401).

Usage: ``python -m bench authn [--n 20000] [--repeats 5]``; prints median [min-max] µs per request.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import ssl
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from suanli.apimachinery.errors import ApiError
from suanli.apiserver.authn import Authentication, AuthnOptions, build_authentication
from suanli.apiserver.authn.static import TokenFile
from suanli.apiserver.context import UserInfo
from suanli.apiserver.satokens import ServiceAccountTokens
from suanli.apiserver.tls import ensure_tls_material, issue_client_certificate, load_ca

PHASES = ("admin", "tokenfile", "sa-cached", "sa-uncached", "x509", "bad-token")


def _chain(data_dir: Path, objects: dict[tuple[str, str, str], Any], ttl: float) -> Authentication:
    material = ensure_tls_material(data_dir, [])
    users = TokenFile({f"tok-{i}": UserInfo(f"user-{i}", groups=("dev",)) for i in range(1000)})

    def lookup(bucket: str, ns: str, name: str) -> Any:
        return objects.get((bucket, ns, name))

    return build_authentication(AuthnOptions(token_cache_ttl=ttl), admin_token="admin",
                                sa_tokens=ServiceAccountTokens(data_dir), lookup=lookup, ca_pem=material.ca_pem,
                                token_file=users)


async def _time(n: int, fn: Any) -> float:
    t0 = time.thread_time()
    for _ in range(n):
        await fn()
    return (time.thread_time() - t0) / n * 1e6


async def run(n: int, repeats: int) -> dict[str, list[float]]:
    samples: dict[str, list[float]] = {p: [] for p in PHASES}
    with tempfile.TemporaryDirectory() as tmp:
        data = Path(tmp)
        objects = {("serviceaccounts", "ns", "robot"): {"metadata": {"name": "robot", "uid": "u1"}}}
        cached = _chain(data, objects, ttl=10)
        uncached = _chain(data, objects, ttl=0)
        assert cached.issuer is not None
        sa_token = cached.issuer.token_request("ns", "robot", {"spec": {}})["status"]["token"]
        cert_pem, _ = issue_client_certificate(load_ca(data), "carol", ["team"])
        der = (ssl.PEM_cert_to_DER_cert(cert_pem.decode()),)

        async def bad() -> None:
            with contextlib.suppress(ApiError):
                await cached.authenticate("nope")

        ops = {"admin": lambda: cached.authenticate("admin"), "tokenfile": lambda: cached.authenticate("tok-500"),
               "sa-cached": lambda: cached.authenticate(sa_token),
               "sa-uncached": lambda: uncached.authenticate(sa_token),
               "x509": lambda: cached.authenticate(None, der), "bad-token": bad}
        for _ in range(repeats):
            for phase in PHASES:
                samples[phase].append(await _time(n if phase != "sa-uncached" else max(n // 20, 1), ops[phase]))
    return samples


def main(argv: list[str]) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    ap.add_argument("--n", type=int, default=20000, help="requests per phase and repeat")
    ap.add_argument("--repeats", type=int, default=5)
    args = ap.parse_args(argv)
    samples = asyncio.run(run(args.n, args.repeats))
    print(f"main-thread CPU per authentication, n={args.n}, {args.repeats} repeats (median [min-max] µs)")
    for phase in PHASES:
        xs = samples[phase]
        print(f"  {phase:<12} {statistics.median(xs):8.1f}  [{min(xs):.1f}-{max(xs):.1f}]")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
