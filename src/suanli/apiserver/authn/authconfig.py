"""``--authentication-config FILE``: kube-apiserver's structured ``AuthenticationConfiguration``.

The file (YAML or JSON, ``apiserver.config.k8s.io/v1`` or ``v1beta1``/``v1alpha1``) lists ``jwt``
authenticators; :func:`load_authentication_config` turns each into a :class:`~.oidc.JWTConfig`
after upstream's validation (``ValidateAuthenticationConfiguration``), raising ``ValueError``
with its field errors (``jwt[0].issuer.url: Invalid value: "http://x": URL scheme must be https``):

* ``issuer``: ``url`` (https, no user info, query or fragment, unique across entries),
  ``discoveryURL`` (https, different from ``url``), ``audiences`` (≥ 1, no duplicates;
  ``audienceMatchPolicy: MatchAny`` required for several), ``certificateAuthority`` (PEM);
* ``claimValidationRules``: ``claim`` + ``requiredValue``, or CEL ``expression`` + ``message``;
* ``claimMappings``: ``username`` (required) and ``groups`` — ``claim`` with ``prefix`` (required
  with a claim, may be ``""``) or ``expression`` (no prefix); ``uid`` — ``claim`` or
  ``expression``; ``extra`` — domain-prefixed lower-case ``key`` (not ``k8s.io``/``kubernetes.io``)
  with a CEL ``valueExpression``; an expression using ``claims.email`` for the username needs
  ``claims.email_verified`` somewhere (checked textually);
* ``userValidationRules``: CEL ``expression`` over ``user`` + ``message``.

Expressions must compile under cel-python. ``anonymous`` and ``jwt[].issuer.egressSelectorType``
are not supported (an error names them). It cannot be combined with the ``--oidc-*`` flags.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import yaml
from cryptography.x509 import load_pem_x509_certificates

from suanli.apimachinery.matchconditions import compile_error
from suanli.apiserver.authn.oidc import ClaimMapping, JWTConfig

__all__ = ["AUTHN_CONFIG_VERSIONS", "load_authentication_config", "parse_authentication_config"]

AUTHN_CONFIG_VERSIONS = ("apiserver.config.k8s.io/v1", "apiserver.config.k8s.io/v1beta1",
                         "apiserver.config.k8s.io/v1alpha1")
_DOMAIN_PATH = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)+/\S+$")


def _q(value: Any) -> str:
    return f'"{value}"'


class _Errors(list[str]):
    def required(self, path: str, detail: str = "") -> None:
        self.append(f"{path}: Required value" + (f": {detail}" if detail else ""))

    def invalid(self, path: str, value: Any, detail: str) -> None:
        self.append(f"{path}: Invalid value: {_q(value)}: {detail}")

    def duplicate(self, path: str, value: Any) -> None:
        self.append(f"{path}: Duplicate value: {_q(value)}")

    def cel(self, path: str, expression: str) -> None:
        why = compile_error(expression)
        if why:
            self.invalid(path, expression, f"compilation failed: {why}")


def _url(errs: _Errors, path: str, url: str) -> None:
    parts = urlsplit(url)
    if parts.scheme != "https":
        errs.invalid(path, url, "URL scheme must be https")
    if parts.username or parts.password:
        errs.invalid(path, url, "URL must not contain a username or password")
    if parts.query:
        errs.invalid(path, url, "URL must not contain a query")
    if parts.fragment:
        errs.invalid(path, url, "URL must not contain a fragment")


def _mapping(errs: _Errors, path: str, raw: Any, *, required: bool, prefixed: bool = True) -> ClaimMapping:
    m = raw if isinstance(raw, dict) else {}
    claim, expression, prefix = str(m.get("claim") or ""), str(m.get("expression") or ""), m.get("prefix")
    if claim and expression:
        errs.invalid(path, "", "claim and expression can't both be set")
    elif required and not claim and not expression:
        errs.required(path, "claim or expression is required")
    elif expression:
        if prefixed and prefix is not None:
            errs.invalid(f"{path}.prefix", prefix, "may not be specified when expression is set")
        errs.cel(f"{path}.expression", expression)
    elif claim and prefixed and prefix is None:
        errs.required(f"{path}.prefix", "required when claim is set. It can be set to an empty string to disable "
                                        "prefixing")
    return ClaimMapping(claim, str(prefix or ""), expression)


def _rules(errs: _Errors, path: str, raw: Any) -> tuple[tuple[str, str], ...]:
    out: list[tuple[str, str]] = []
    seen: set[str] = set()
    for i, rule in enumerate(raw or []):
        at, r = f"{path}[{i}]", rule if isinstance(rule, dict) else {}
        expression = str(r.get("expression") or "")
        if not expression:
            errs.required(f"{at}.expression")
            continue
        if expression in seen:
            errs.duplicate(f"{at}.expression", expression)
            continue
        seen.add(expression)
        errs.cel(f"{at}.expression", expression)
        out.append((expression, str(r.get("message") or "")))
    return tuple(out)


def _obj(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _jwt(errs: _Errors, path: str, raw: Any) -> JWTConfig:
    a = _obj(raw)
    issuer = _obj(a.get("issuer"))
    url = str(issuer.get("url") or "")
    if not url:
        errs.required(f"{path}.issuer.url")
    else:
        _url(errs, f"{path}.issuer.url", url)
    discovery = str(issuer.get("discoveryURL") or "")
    if discovery:
        if url and url.rstrip("/") == discovery.rstrip("/"):
            errs.invalid(f"{path}.issuer.discoveryURL", discovery, "discoveryURL must be different from URL")
        _url(errs, f"{path}.issuer.discoveryURL", discovery)
    if issuer.get("egressSelectorType"):
        errs.invalid(f"{path}.issuer.egressSelectorType", issuer["egressSelectorType"], "not supported by Suanli")
    auds = [str(x) for x in issuer.get("audiences") or []]
    policy = str(issuer.get("audienceMatchPolicy") or "")
    if not auds:
        errs.required(f"{path}.issuer.audiences", f"at least one {path}.issuer.audiences is required")
    for i, aud in enumerate(auds):
        if not aud:
            errs.required(f"{path}.issuer.audiences[{i}]")
        if aud in auds[:i]:
            errs.duplicate(f"{path}.issuer.audiences[{i}]", aud)
    if len(auds) > 1 and policy != "MatchAny":
        errs.invalid(f"{path}.issuer.audienceMatchPolicy", policy, "audienceMatchPolicy must be MatchAny for "
                                                                   "multiple audiences")
    if len(auds) == 1 and policy not in ("", "MatchAny"):
        errs.invalid(f"{path}.issuer.audienceMatchPolicy", policy, "audienceMatchPolicy must be empty or MatchAny "
                                                                   "for single audience")
    ca = str(issuer.get("certificateAuthority") or "")
    if ca:
        try:
            load_pem_x509_certificates(ca.encode())
        except ValueError as err:
            errs.invalid(f"{path}.issuer.certificateAuthority", "<omitted>", str(err))
    required: list[tuple[str, str]] = []
    cel_rules: list[dict[str, Any]] = []
    seen_claims: set[str] = set()
    for i, rule in enumerate(a.get("claimValidationRules") or []):
        at, r = f"{path}.claimValidationRules[{i}]", rule if isinstance(rule, dict) else {}
        claim, expression = str(r.get("claim") or ""), str(r.get("expression") or "")
        if claim and expression:
            errs.invalid(at, claim, "claim and expression can't both be set")
        elif not claim and not expression:
            errs.required(at, "claim or expression is required")
        elif claim:
            if r.get("message"):
                errs.invalid(f"{at}.message", r["message"], "may not be specified when claim is set")
            if claim in seen_claims:
                errs.duplicate(f"{at}.claim", claim)
            seen_claims.add(claim)
            required.append((claim, str(r.get("requiredValue") or "")))
        else:
            if r.get("requiredValue"):
                errs.invalid(f"{at}.requiredValue", r["requiredValue"], "may not be specified when expression is set")
            cel_rules.append(r)
    claim_rules = _rules(errs, f"{path}.claimValidationRules", cel_rules)
    cm = _obj(a.get("claimMappings"))
    username = _mapping(errs, f"{path}.claimMappings.username", cm.get("username"), required=True)
    groups = _mapping(errs, f"{path}.claimMappings.groups", cm.get("groups"), required=False)
    uid = _mapping(errs, f"{path}.claimMappings.uid", cm.get("uid"), required=False, prefixed=False)
    extra: list[tuple[str, str]] = []
    for i, e in enumerate(cm.get("extra") or []):
        at, m = f"{path}.claimMappings.extra[{i}]", e if isinstance(e, dict) else {}
        key, value = str(m.get("key") or ""), str(m.get("valueExpression") or "")
        if not _DOMAIN_PATH.match(key.lower()):
            errs.invalid(f"{at}.key", key, "must be a domain-prefixed path (such as \"acme.io/foo\")")
        if key != key.lower():
            errs.invalid(f"{at}.key", key, "must be lowercase")
        domain = key.split("/", 1)[0]
        if domain in ("k8s.io", "kubernetes.io") or domain.endswith((".k8s.io", ".kubernetes.io")):
            errs.invalid(f"{at}.key", key, "k8s.io, kubernetes.io and their subdomains are reserved for Kubernetes use")
        if any(k == key for k, _ in extra):
            errs.duplicate(f"{at}.key", key)
            continue
        if not value:
            errs.required(f"{at}.valueExpression")
            continue
        errs.cel(f"{at}.valueExpression", value)
        extra.append((key, value))
    everything = " ".join([username.expression, *(v for _, v in extra), *(x for x, _ in claim_rules)])
    if "claims.email" in username.expression.replace("claims.email_verified", "") \
            and "claims.email_verified" not in everything:
        errs.invalid(f"{path}.claimMappings.username.expression", username.expression,
                     "claims.email_verified must be used in claimMappings.username.expression or "
                     "claimMappings.extra[*].valueExpression or claimValidationRules[*].expression when "
                     "claims.email is used in claimMappings.username.expression")
    user_rules = _rules(errs, f"{path}.userValidationRules", a.get("userValidationRules"))
    return JWTConfig(url, tuple(auds), discovery_url=discovery, ca_pem=ca.encode() if ca else None,
                     username=username, groups=groups, uid=uid, extra=tuple(extra),
                     required_claims=tuple(required), claim_rules=claim_rules, user_rules=user_rules)


def parse_authentication_config(doc: Any) -> tuple[JWTConfig, ...]:
    """The JWT authenticators of an ``AuthenticationConfiguration`` object; ``ValueError`` with the field errors."""
    if not isinstance(doc, dict) or doc.get("kind") != "AuthenticationConfiguration" \
            or doc.get("apiVersion") not in AUTHN_CONFIG_VERSIONS:
        got = doc.get("apiVersion") if isinstance(doc, dict) else None
        kind = doc.get("kind") if isinstance(doc, dict) else None
        raise ValueError(f'kind/apiVersion: Invalid value: "{got}, Kind={kind}": must be AuthenticationConfiguration '
                         f"in one of {', '.join(AUTHN_CONFIG_VERSIONS)}")
    errs = _Errors()
    if doc.get("anonymous"):
        errs.invalid("anonymous", "<omitted>", "not supported by Suanli: use --anonymous")
    out: list[JWTConfig] = []
    seen: set[str] = set()
    for i, raw in enumerate(doc.get("jwt") or []):
        url = str((raw.get("issuer") or {}).get("url") or "") if isinstance(raw, dict) else ""
        if url and url in seen:
            errs.duplicate(f"jwt[{i}].issuer.url", url)
            continue
        seen.add(url)
        out.append(_jwt(errs, f"jwt[{i}]", raw))
    if errs:
        raise ValueError(errs[0] if len(errs) == 1 else "[" + ", ".join(errs) + "]")
    return tuple(out)


def load_authentication_config(path: Path) -> tuple[JWTConfig, ...]:
    """:func:`parse_authentication_config` of the file ``path``; errors name the file."""
    try:
        doc = yaml.safe_load(Path(path).read_text())
        return parse_authentication_config(doc)
    except (OSError, yaml.YAMLError, ValueError) as err:
        raise ValueError(f"--authentication-config {path}: {err}") from None
