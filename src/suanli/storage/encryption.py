"""Encryption at rest: kube-apiserver's ``EncryptionConfiguration`` and its value transformers.

CONTRACT

* :func:`load_encryption_config` reads an ``apiserver.config.k8s.io/v1`` ``EncryptionConfiguration``
  (YAML or JSON) and validates it as kube-apiserver does (same rules, field paths and messages);
  every problem is reported at once in one :class:`EncryptionConfigError`.
* :class:`EncryptionConfig` maps a store bucket (``"secrets"``, ``"apps/deployments"``,
  ``"<group>/<plural>"``) to the :class:`PrefixTransformers` of the first ``resources[]`` entry whose
  list names it (``secrets``, ``deployments.apps``, ``*.apps``, ``*.`` for the core group, ``*.*``
  for everything), or ``None`` (stored as plain bytes).
* Within an entry every key of every provider becomes one transformer with its own prefix, in file
  order: ``k8s:enc:aescbc:v1:<key name>:``, ``k8s:enc:aesgcm:v1:<key name>:``,
  ``k8s:enc:secretbox:v1:<key name>:`` and the empty prefix for ``identity``. The first one encrypts;
  reading tries every transformer whose prefix the value starts with, in order (identity refuses
  values that start with ``k8s:enc:`` so a later real key can read them). A value no transformer
  reads raises :class:`DecryptError`.
* Stored layouts are upstream's: aescbc = prefix, 16-byte IV, AES-CBC ciphertext with PKCS#7
  padding; aesgcm = prefix, 12-byte random nonce, AES-GCM ciphertext and 16-byte tag with the
  object's storage key as additional data; secretbox = prefix, 24-byte nonce, NaCl secretbox
  (XSalsa20-Poly1305: tag then ciphertext).

The storage key used as AES-GCM additional data is ``/registry/<bucket>/<namespace>/<name>``
(cluster-scoped: ``/registry/<bucket>/<name>``), so a ciphertext copied to another object's row
does not decrypt. kube-apiserver binds to its etcd key the same way; our bucket names differ
from its etcd paths for grouped resources, so stored values are not portable between the two
(they never were: the store formats differ).
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import yaml
from cryptography.hazmat.primitives import padding
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from nacl.exceptions import CryptoError
from nacl.secret import SecretBox

from suanli.apimachinery.randpool import random_bytes

__all__ = [
    "API_VERSION",
    "KIND",
    "DecryptError",
    "EncryptionConfig",
    "EncryptionConfigError",
    "PrefixTransformers",
    "load_encryption_config",
    "parse_encryption_config",
    "storage_key",
]

API_VERSION = "apiserver.config.k8s.io/v1"
KIND = "EncryptionConfiguration"
ENCRYPTED_PREFIX = b"k8s:enc:"
AES_KEY_SIZES = (16, 24, 32)
SECRETBOX_KEY_SIZES = (32,)
_PROVIDERS = ("kms", "aesgcm", "aescbc", "secretbox", "identity")
_NON_REST = frozenset({"apiserveripinfo", "serviceipallocations", "servicenodeportallocations"})


class EncryptionConfigError(ValueError):
    """The configuration file is unreadable or invalid; ``errors`` lists ``<field path>: <message>``."""

    def __init__(self, path: str, errors: list[str]) -> None:
        self.errors = errors
        super().__init__(f"invalid encryption configuration {path}: " + "; ".join(errors))


class DecryptError(ValueError):
    """A stored value could not be read by any configured transformer."""


def storage_key(bucket: str, namespace: str, name: str) -> bytes:
    """The authenticated-data key of one object (see the module docstring).

    >>> storage_key("secrets", "default", "s1"), storage_key("apps/deployments", "", "x")
    (b'/registry/secrets/default/s1', b'/registry/apps/deployments/x')
    """
    return f"/registry/{bucket}/{namespace}/{name}".encode() if namespace else f"/registry/{bucket}/{name}".encode()


class _Transformer(Protocol):
    def encrypt(self, data: bytes, aad: bytes) -> bytes: ...

    def decrypt(self, data: bytes, aad: bytes) -> bytes: ...


class _Identity:
    def encrypt(self, data: bytes, aad: bytes) -> bytes:
        return data

    def decrypt(self, data: bytes, aad: bytes) -> bytes:
        if data.startswith(ENCRYPTED_PREFIX):
            raise DecryptError("identity transformer tried to read encrypted data")
        return data


class _AesGcm:
    def __init__(self, key: bytes) -> None:
        self._aead = AESGCM(key)

    def encrypt(self, data: bytes, aad: bytes) -> bytes:
        nonce = random_bytes(12)
        return nonce + self._aead.encrypt(nonce, data, aad)

    def decrypt(self, data: bytes, aad: bytes) -> bytes:
        if len(data) < 12 + 16:
            raise DecryptError("the stored data was shorter than the required size")
        try:
            return self._aead.decrypt(data[:12], data[12:], aad)
        except Exception as exc:  # cryptography's InvalidTag
            raise DecryptError("cipher: message authentication failed") from exc


class _AesCbc:
    def __init__(self, key: bytes) -> None:
        self._alg = algorithms.AES(key)

    def encrypt(self, data: bytes, aad: bytes) -> bytes:
        iv = random_bytes(16)
        padder = padding.PKCS7(128).padder()
        padded = padder.update(data) + padder.finalize()
        enc = Cipher(self._alg, modes.CBC(iv)).encryptor()
        return iv + enc.update(padded) + enc.finalize()

    def decrypt(self, data: bytes, aad: bytes) -> bytes:
        if len(data) < 32 or len(data) % 16:
            raise DecryptError("the stored data is not a multiple of the block size")
        dec = Cipher(self._alg, modes.CBC(data[:16])).decryptor()
        padded = dec.update(data[16:]) + dec.finalize()
        unpadder = padding.PKCS7(128).unpadder()
        try:
            return unpadder.update(padded) + unpadder.finalize()
        except ValueError as exc:
            raise DecryptError("invalid padding on input") from exc


class _Secretbox:
    def __init__(self, key: bytes) -> None:
        self._box = SecretBox(key)

    def encrypt(self, data: bytes, aad: bytes) -> bytes:
        return bytes(self._box.encrypt(data, random_bytes(SecretBox.NONCE_SIZE)))

    def decrypt(self, data: bytes, aad: bytes) -> bytes:
        if len(data) < SecretBox.NONCE_SIZE + SecretBox.MACBYTES:
            raise DecryptError("the stored data was shorter than the required size")
        try:
            return self._box.decrypt(data)
        except CryptoError as exc:
            raise DecryptError("output array was not large enough for encryption") from exc


@dataclass(frozen=True)
class PrefixTransformers:
    """One ``resources[]`` entry: ``(prefix, transformer)`` pairs in file order; the first writes."""

    transformers: tuple[tuple[bytes, _Transformer], ...]

    @property
    def write_prefix(self) -> bytes:
        return self.transformers[0][0]

    def to_storage(self, data: bytes, aad: bytes) -> bytes:
        """``data`` as stored: the first transformer's prefix and its output."""
        prefix, t = self.transformers[0]
        return prefix + t.encrypt(data, aad)

    def from_storage(self, data: bytes, aad: bytes) -> tuple[bytes, bool]:
        """``(plaintext, stale)``; ``stale`` when a transformer other than the first read it."""
        errors: list[str] = []
        for i, (prefix, t) in enumerate(self.transformers):
            if not data.startswith(prefix):
                continue
            try:
                return t.decrypt(data[len(prefix):], aad), i != 0
            except DecryptError as exc:
                if prefix:  # a keyed transformer that matched its prefix is the answer, right or wrong
                    raise
                errors.append(str(exc))  # identity refusing ciphertext: try the keys after it
        raise DecryptError(errors[0] if errors else "no matching prefix found")


@dataclass(frozen=True)
class EncryptionConfig:
    """Resource patterns (``(group, resource)``, ``*`` wildcards) to transformers, first match wins."""

    entries: tuple[tuple[frozenset[tuple[str, str]], PrefixTransformers], ...]
    _cache: dict[str, PrefixTransformers | None] = field(default_factory=dict, compare=False, repr=False)

    def for_bucket(self, bucket: str) -> PrefixTransformers | None:
        """The transformers for ``bucket`` or ``None`` when its objects are stored as plain bytes."""
        try:
            return self._cache[bucket]
        except KeyError:
            pass
        group, _, resource = bucket.rpartition("/")
        found: PrefixTransformers | None = None
        for patterns, transformers in self.entries:
            if ((group, resource) in patterns or (group, "*") in patterns or ("*", "*") in patterns):
                found = transformers
                break
        if found is not None and found.write_prefix == b"" and len(found.transformers) == 1:
            found = None  # identity only: nothing to do either way
        self._cache[bucket] = found
        return found

    def encrypts(self, bucket: str) -> bool:
        """True when new writes of ``bucket`` are encrypted (the first provider is not identity)."""
        t = self.for_bucket(bucket)
        return t is not None and t.write_prefix != b""


def _group_resource(text: str) -> tuple[str, str]:
    """kube's ``schema.ParseGroupResource``: ``"deployments.apps"`` -> ``("apps", "deployments")``."""
    resource, _, group = text.partition(".")
    return group, resource


def _check_resources(resources: list[Any], path: str, errors: list[str]) -> None:
    parsed = [_group_resource(str(r)) for r in resources]
    dup = overlap = False
    for i, r1 in enumerate(parsed):
        for j, r2 in enumerate(parsed):
            if i == j:
                continue
            if r1 == r2 and not dup:
                dup = True
                continue
            if overlap:
                continue
            if r1 == ("*", "*"):
                overlap = True
                continue
            if r1[0] == r2[0] and "*" in (r1[1], r2[1]):
                overlap = True
    if dup:
        errors.append(f"{path}: Invalid value: {resources!r}: the same resource cannot be specified multiple times")
    if overlap:
        errors.append(f"{path}: Invalid value: {resources!r}: using overlapping resources such as 'secrets' and "
                      "'*.' in the same resource list is not allowed as they will be masked")
    for j, res in enumerate(resources):
        p = f"{path}[{j}]"
        if not isinstance(res, str):
            errors.append(f"{p}: Invalid value: {res!r}: must be a string")
            continue
        group, resource = _group_resource(res)
        message = (
            "resource name should not contain capital letters" if res.lower() != res
            else "use '*.' to encrypt all the resources from core API group or *.* to encrypt all resources"
            if res == "*"
            else "resources which do not have REST API/s cannot be encrypted" if res in _NON_REST
            else "'*.events.k8s.io' objects are stored using the 'events' API group in etcd. "
                 "Use 'events' instead in the config file" if group == "events.k8s.io"
            else "'extensions' group has been removed and cannot be used for encryption" if group == "extensions"
            else "encrypting the same resource across groups is not supported" if group == "*" and resource != "*"
            else None
        )
        if message:
            errors.append(f"{p}: Invalid value: {res!r}: {message}")


def _keys(cfg: Any, path: str, sizes: tuple[int, ...], errors: list[str]) -> list[tuple[str, bytes]]:
    keys = cfg.get("keys") if isinstance(cfg, dict) else None
    if not keys or not isinstance(keys, list):
        errors.append(f"{path}: Required value: at least one keys is required")
        return []
    out: list[tuple[str, bytes]] = []
    for i, key in enumerate(keys):
        p = f"{path}[{i}]"
        key = key if isinstance(key, dict) else {}
        name, secret = key.get("name") or "", key.get("secret") or ""
        if not name:
            errors.append(f"{p}.name: Required value: name is a mandatory field for a key")
        if not secret:
            errors.append(f"{p}.secret: Required value: secret is a mandatory field for a key")
            continue
        try:
            raw = base64.b64decode(str(secret), validate=True)
        except (binascii.Error, ValueError):
            errors.append(f'{p}.secret: Invalid value: "REDACTED": secrets must be base64 encoded')
            continue
        if len(raw) not in sizes:
            errors.append(f'{p}.secret: Invalid value: "REDACTED": secret is not of the expected length, '
                          f"got {len(raw)}, expected one of [{' '.join(map(str, sizes))}]")
            continue
        out.append((str(name), raw))
    return out


def _provider(provider: Any, path: str, errors: list[str]) -> list[tuple[bytes, _Transformer]]:
    present = [k for k in _PROVIDERS if isinstance(provider, dict) and provider.get(k) is not None]
    if not present:
        errors.append(f"{path}: Invalid value: {provider!r}: provider does not contain any of the expected "
                      "providers: KMS, AESGCM, AESCBC, Secretbox, Identity")
        return []
    if len(present) > 1:
        errors.append(f"{path}: Invalid value: {sorted(present)!r}: more than one provider specified in a single "
                      "element, should split into different list elements")
        return []
    kind = present[0]
    cfg = provider[kind]
    if kind == "identity":
        return [(b"", _Identity())]
    if kind == "kms":
        errors.append(f"{path}.kms: Unsupported value: suanli has no KMS plugin client; "
                      "supported providers: aesgcm, aescbc, secretbox, identity")
        return []
    keys = _keys(cfg, f"{path}.{kind}.keys", SECRETBOX_KEY_SIZES if kind == "secretbox" else AES_KEY_SIZES, errors)
    out: list[tuple[bytes, _Transformer]] = []
    for name, secret in keys:
        t: _Transformer = _AesGcm(secret) if kind == "aesgcm" else _AesCbc(secret) if kind == "aescbc" \
            else _Secretbox(secret)
        out.append((f"k8s:enc:{kind}:v1:{name}:".encode(), t))
    return out


def parse_encryption_config(doc: Any, source: str = "<config>") -> EncryptionConfig:
    """Validate a decoded ``EncryptionConfiguration`` document and build its transformers."""
    errors: list[str] = []
    if not isinstance(doc, dict):
        raise EncryptionConfigError(source, ["expected an EncryptionConfiguration object"])
    if doc.get("kind") != KIND or doc.get("apiVersion") != API_VERSION:
        raise EncryptionConfigError(source, [f"apiVersion/kind: expected {API_VERSION} {KIND}, got "
                                             f"{doc.get('apiVersion')!r} {doc.get('kind')!r}"])
    resources = doc.get("resources")
    if not resources or not isinstance(resources, list):
        raise EncryptionConfigError(source, ["resources: Required value: at least one resources is required"])
    entries: list[tuple[frozenset[tuple[str, str]], PrefixTransformers]] = []
    for i, conf in enumerate(resources):
        conf = conf if isinstance(conf, dict) else {}
        rpath, ppath = f"resources[{i}].resources", f"resources[{i}].providers"
        names = conf.get("resources") or []
        providers = conf.get("providers") or []
        if not names or not isinstance(names, list):
            errors.append(f"{rpath}: Required value: at least one {rpath} is required")
            names = []
        _check_resources(names, rpath, errors)
        if not providers or not isinstance(providers, list):
            errors.append(f"{ppath}: Required value: at least one {ppath} is required")
            providers = []
        chain: list[tuple[bytes, _Transformer]] = []
        for j, provider in enumerate(providers):
            chain.extend(_provider(provider, f"{ppath}[{j}]", errors))
        if chain:
            entries.append((frozenset(_group_resource(str(n)) for n in names), PrefixTransformers(tuple(chain))))
    if errors:
        raise EncryptionConfigError(source, errors)
    return EncryptionConfig(tuple(entries))


def load_encryption_config(path: Path | str) -> EncryptionConfig:
    """Read and validate ``path`` (see :func:`parse_encryption_config`)."""
    try:
        doc = yaml.safe_load(Path(path).read_text())
    except (OSError, yaml.YAMLError) as exc:
        raise EncryptionConfigError(str(path), [str(exc)]) from exc
    return parse_encryption_config(doc, str(path))


def encrypted_buckets(config: EncryptionConfig, buckets: Iterable[str]) -> list[str]:
    """The subset of ``buckets`` whose new writes are encrypted (for start-up messages)."""
    return [b for b in buckets if config.encrypts(b)]
