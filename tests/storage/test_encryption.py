"""Encryption at rest: kube-apiserver's EncryptionConfiguration validation, stored formats and the store seam.

The validation table is upstream's (k8s.io/apiserver pkg/apis/apiserver/validation
validation_encryption_test.go cases, messages as kube-apiserver prints them).
"""

from __future__ import annotations

import base64
import os
import sqlite3
from pathlib import Path
from typing import Any

import orjson
import pytest
from cryptography.hazmat.primitives import padding
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from nacl.secret import SecretBox

from suanli.storage import Store, StoreError
from suanli.storage.encryption import (
    DecryptError,
    EncryptionConfigError,
    load_encryption_config,
    parse_encryption_config,
    storage_key,
)

K16 = base64.b64encode(b"a" * 16).decode()
K32 = base64.b64encode(b"b" * 32).decode()
K32B = base64.b64encode(b"c" * 32).decode()


def cfg(resources: list[Any]) -> dict[str, Any]:
    return {"apiVersion": "apiserver.config.k8s.io/v1", "kind": "EncryptionConfiguration", "resources": resources}


def entry(names: list[str], *providers: dict[str, Any]) -> dict[str, Any]:
    return {"resources": names, "providers": list(providers)}


def aes(kind: str, *keys: tuple[str, str]) -> dict[str, Any]:
    return {kind: {"keys": [{"name": n, "secret": s} for n, s in keys]}}


IDENTITY: dict[str, Any] = {"identity": {}}

INVALID = [
    pytest.param(cfg([]), "resources: Required value: at least one resources is required", id="no-resources"),
    pytest.param(cfg([entry([], IDENTITY)]), "resources[0].resources: Required value", id="empty-resource-list"),
    pytest.param(cfg([entry(["secrets"])]), "resources[0].providers: Required value", id="no-providers"),
    pytest.param(cfg([entry(["secrets"], {})]),
                 "provider does not contain any of the expected providers", id="empty-provider"),
    pytest.param(cfg([entry(["secrets"], {"identity": {}, **aes("aesgcm", ("k", K16))})]),
                 "more than one provider specified in a single element", id="two-providers-in-one-element"),
    pytest.param(cfg([entry(["secrets"], {"aesgcm": {"keys": []}})]),
                 "resources[0].providers[0].aesgcm.keys: Required value: at least one keys is required",
                 id="aesgcm-without-keys"),
    pytest.param(cfg([entry(["secrets"], aes("aescbc", ("", K32)))]),
                 "resources[0].providers[0].aescbc.keys[0].name: Required value: name is a mandatory field for a key",
                 id="key-without-name"),
    pytest.param(cfg([entry(["secrets"], aes("aescbc", ("k", "")))]),
                 "keys[0].secret: Required value: secret is a mandatory field for a key", id="key-without-secret"),
    pytest.param(cfg([entry(["secrets"], aes("aescbc", ("k", "not base64!")))]),
                 'keys[0].secret: Invalid value: "REDACTED": secrets must be base64 encoded', id="secret-not-base64"),
    pytest.param(cfg([entry(["secrets"], aes("aesgcm", ("k", base64.b64encode(b"x" * 7).decode())))]),
                 "secret is not of the expected length, got 7, expected one of [16 24 32]", id="aes-key-7-bytes"),
    pytest.param(cfg([entry(["secrets"], aes("secretbox", ("k", K16)))]),
                 "secret is not of the expected length, got 16, expected one of [32]", id="secretbox-key-16-bytes"),
    pytest.param(cfg([entry(["Secrets"], IDENTITY)]), "resource name should not contain capital letters",
                 id="capital-letters"),
    pytest.param(cfg([entry(["*"], IDENTITY)]), "use '*.' to encrypt all the resources from core API group",
                 id="bare-star"),
    pytest.param(cfg([entry(["serviceipallocations"], IDENTITY)]),
                 "resources which do not have REST API/s cannot be encrypted", id="non-rest-resource"),
    pytest.param(cfg([entry(["*.events.k8s.io"], IDENTITY)]), "Use 'events' instead in the config file",
                 id="events-k8s-io-group"),
    pytest.param(cfg([entry(["*.extensions"], IDENTITY)]), "'extensions' group has been removed", id="extensions"),
    pytest.param(cfg([entry(["secrets.*"], IDENTITY)]),
                 "encrypting the same resource across groups is not supported", id="resource-across-groups"),
    pytest.param(cfg([entry(["secrets", "secrets"], IDENTITY)]),
                 "the same resource cannot be specified multiple times", id="duplicate-resource"),
    pytest.param(cfg([entry(["secrets", "*."], IDENTITY)]),
                 "using overlapping resources such as 'secrets' and '*.'", id="overlap-core-star"),
    pytest.param(cfg([entry(["*.*", "configmaps"], IDENTITY)]),
                 "using overlapping resources such as 'secrets' and '*.'", id="overlap-star-star"),
    pytest.param(cfg([entry(["secrets"], {"kms": {"name": "x", "endpoint": "unix:///kms.sock"}})]),
                 "resources[0].providers[0].kms: Unsupported value", id="kms-unsupported"),
    pytest.param({"apiVersion": "v1", "kind": "EncryptionConfig", "resources": []},
                 "expected apiserver.config.k8s.io/v1", id="wrong-kind"),
]


@pytest.mark.parametrize(("doc", "message"), INVALID)
def test_invalid_configurations_are_rejected_naming_the_field(doc: dict[str, Any], message: str) -> None:
    with pytest.raises(EncryptionConfigError) as err:
        parse_encryption_config(doc)
    assert message in str(err.value)


VALID_MATCHES = [
    pytest.param(["secrets"], "secrets", True, id="secrets-names-core-secrets"),
    pytest.param(["secrets"], "configmaps", False, id="secrets-leaves-configmaps"),
    pytest.param(["deployments.apps"], "apps/deployments", True, id="resource-dot-group"),
    pytest.param(["deployments.apps"], "deployments", False, id="grouped-name-not-core"),
    pytest.param(["*.apps"], "apps/statefulsets", True, id="star-group"),
    pytest.param(["*.apps"], "secrets", False, id="star-group-not-core"),
    pytest.param(["*."], "configmaps", True, id="star-dot-core-group"),
    pytest.param(["*."], "apps/deployments", False, id="star-dot-not-other-groups"),
    pytest.param(["*.*"], "batch.volcano.sh/jobs", True, id="star-star-everything"),
]


@pytest.mark.parametrize(("names", "bucket", "encrypted"), VALID_MATCHES)
def test_resource_patterns_select_buckets(names: list[str], bucket: str, encrypted: bool) -> None:
    config = parse_encryption_config(cfg([entry(names, aes("aesgcm", ("k1", K32)))]))
    assert config.encrypts(bucket) is encrypted


def test_first_matching_entry_wins() -> None:
    config = parse_encryption_config(cfg([entry(["events"], IDENTITY), entry(["*.*"], aes("aesgcm", ("k", K32)))]))
    assert not config.encrypts("events")
    assert config.encrypts("secrets")


AAD = storage_key("secrets", "default", "s1")


def test_aesgcm_layout_is_prefix_nonce_then_sealed_with_the_storage_key_as_additional_data() -> None:
    t = parse_encryption_config(cfg([entry(["secrets"], aes("aesgcm", ("key1", K32)))])).for_bucket("secrets")
    assert t is not None
    stored = t.to_storage(b"plain", AAD)
    prefix = b"k8s:enc:aesgcm:v1:key1:"
    assert stored.startswith(prefix)
    body = stored[len(prefix):]
    assert AESGCM(b"b" * 32).decrypt(body[:12], body[12:], AAD) == b"plain"  # independent decryption
    assert t.from_storage(stored, AAD) == (b"plain", False)
    with pytest.raises(DecryptError):  # bound to its object: another key path does not open it
        t.from_storage(stored, storage_key("secrets", "default", "other"))


def test_aescbc_layout_is_prefix_iv_then_pkcs7_ciphertext() -> None:
    t = parse_encryption_config(cfg([entry(["secrets"], aes("aescbc", ("key1", K32)))])).for_bucket("secrets")
    assert t is not None
    stored = t.to_storage(b"sixteen byte msg", AAD)
    prefix = b"k8s:enc:aescbc:v1:key1:"
    assert stored.startswith(prefix)
    body = stored[len(prefix):]
    assert len(body) == 16 + 32  # IV + a full padding block after 16 bytes of data
    dec = Cipher(algorithms.AES(b"b" * 32), modes.CBC(body[:16])).decryptor()
    unpad = padding.PKCS7(128).unpadder()
    assert unpad.update(dec.update(body[16:]) + dec.finalize()) + unpad.finalize() == b"sixteen byte msg"


def test_secretbox_layout_is_prefix_nonce_then_nacl_box() -> None:
    t = parse_encryption_config(cfg([entry(["secrets"], aes("secretbox", ("key1", K32)))])).for_bucket("secrets")
    assert t is not None
    stored = t.to_storage(b"plain", AAD)
    prefix = b"k8s:enc:secretbox:v1:key1:"
    body = stored[len(prefix):]
    assert stored.startswith(prefix) and len(body) == 24 + 16 + 5
    assert SecretBox(b"b" * 32).decrypt(body[24:], body[:24]) == b"plain"


def test_rotation_reads_with_every_key_and_reports_stale() -> None:
    old = parse_encryption_config(cfg([entry(["secrets"], aes("aescbc", ("key1", K32))), ])).for_bucket("secrets")
    both = parse_encryption_config(cfg([entry(["secrets"], aes("aescbc", ("key2", K32B), ("key1", K32)))]))
    t = both.for_bucket("secrets")
    assert old is not None and t is not None
    by_old = old.to_storage(b"v", AAD)
    assert t.from_storage(by_old, AAD) == (b"v", True)
    assert t.to_storage(b"v", AAD).startswith(b"k8s:enc:aescbc:v1:key2:")


def test_identity_first_writes_plain_and_still_reads_encrypted_values() -> None:
    enc = parse_encryption_config(cfg([entry(["secrets"], aes("aesgcm", ("k", K32)))])).for_bucket("secrets")
    dec = parse_encryption_config(cfg([entry(["secrets"], IDENTITY, aes("aesgcm", ("k", K32)))])).for_bucket("secrets")
    assert enc is not None and dec is not None
    assert dec.to_storage(b"{}", AAD) == b"{}"
    assert dec.from_storage(enc.to_storage(b"{}", AAD), AAD) == (b"{}", True)
    assert dec.from_storage(b"{}", AAD) == (b"{}", False)


@pytest.mark.parametrize(("providers", "stored", "message"), [
    pytest.param([aes("aesgcm", ("k", K32))], b'{"plain":1}', "no matching prefix found", id="plain-without-identity"),
    pytest.param([IDENTITY], b"k8s:enc:aesgcm:v1:k:xxxx", "identity transformer tried to read encrypted data",
                 id="identity-on-ciphertext"),
    pytest.param([aes("aesgcm", ("k", K32))], b"k8s:enc:aesgcm:v1:k:" + os.urandom(40), "authentication failed",
                 id="tampered-gcm"),
])
def test_unreadable_values_raise(providers: list[dict[str, Any]], stored: bytes, message: str) -> None:
    # identity alone keeps the bucket plain (``for_bucket`` None); read through the chain directly
    config = parse_encryption_config(cfg([entry(["secrets"], *providers)]))
    t = config.for_bucket("secrets") or config.entries[0][1]
    with pytest.raises(DecryptError, match=message):
        t.from_storage(stored, AAD)


def write_config(path: Path, *providers: dict[str, Any]) -> Path:
    path.write_bytes(orjson.dumps(cfg([entry(["secrets"], *providers)])))
    return path


def secret(name: str, value: bytes) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": name, "namespace": "default"},
            "data": {"k": base64.b64encode(value).decode()}}


def db_bytes(data_dir: Path) -> bytes:
    return b"".join(p.read_bytes() for p in sorted(data_dir.glob("store.db*")))


async def test_store_encrypts_named_buckets_in_the_log_and_restores_them(tmp_path: Path) -> None:
    config = load_encryption_config(write_config(tmp_path / "enc.yaml", aes("aesgcm", ("key1", K32))))
    store = Store(tmp_path / "data", encryption=config)
    await store.start()
    await store.create("secrets", secret("s1", b"TOPSECRET-VALUE"))
    await store.create("configmaps", {"metadata": {"name": "c1", "namespace": "default"}, "data": {"k": "PLAINCM"}})
    got = store.get("secrets", "default", "s1")
    assert got is not None and b"VE9QU0VDUkVU" in got.raw  # memory and LIST bytes stay plaintext JSON
    raw = db_bytes(tmp_path / "data")
    assert b"PLAINCM" in raw and b"VE9QU0VDUkVU" not in raw and b"k8s:enc:aesgcm:v1:key1:" in raw
    await store.stop()
    with sqlite3.connect(tmp_path / "data" / "store.db") as conn:
        values = [v for (v,) in conn.execute("SELECT value FROM log WHERE bucket = 'secrets'")]
    assert values and all(v.startswith(b"k8s:enc:aesgcm:v1:key1:") for v in values)
    again = Store(tmp_path / "data", encryption=config)
    await again.start()
    so = again.get("secrets", "default", "s1")
    assert so is not None and so.obj["data"]["k"] == base64.b64encode(b"TOPSECRET-VALUE").decode()
    await again.stop()


async def test_removing_the_old_key_after_a_rewrite_drops_only_history(tmp_path: Path) -> None:
    data = tmp_path / "data"
    k1 = load_encryption_config(write_config(tmp_path / "1.yaml", aes("aescbc", ("key1", K32))))
    k21 = load_encryption_config(write_config(tmp_path / "21.yaml", aes("aescbc", ("key2", K32B), ("key1", K32))))
    k2 = load_encryption_config(write_config(tmp_path / "2.yaml", aes("aescbc", ("key2", K32B))))
    store = Store(data, encryption=k1)
    await store.start()
    so = await store.create("secrets", secret("s1", b"v1"))
    await store.stop()
    store = Store(data, encryption=k21)
    await store.start()
    obj = dict(so.obj)
    await store.update("secrets", {**obj, "metadata": dict(obj["metadata"])})  # the rewrite
    await store.stop()
    store = Store(data, encryption=k2)
    await store.start()
    got = store.get("secrets", "default", "s1")
    assert got is not None and got.obj["data"]["k"] == base64.b64encode(b"v1").decode()
    await store.stop()


async def test_a_live_object_no_key_reads_stops_the_start(tmp_path: Path) -> None:
    data = tmp_path / "data"
    store = Store(data, encryption=load_encryption_config(write_config(tmp_path / "1.yaml", aes("aesgcm", ("a", K32)))))
    await store.start()
    await store.create("secrets", secret("s1", b"v1"))
    await store.stop()
    other = Store(data, encryption=load_encryption_config(write_config(tmp_path / "2.yaml",
                                                                       aes("aesgcm", ("b", K32B)))))
    with pytest.raises(StoreError, match="secrets default/s1"):
        await other.start()


async def test_objects_read_with_an_old_key_are_stale_until_rewritten(tmp_path: Path) -> None:
    data = tmp_path / "data"
    k1 = load_encryption_config(write_config(tmp_path / "1.yaml", aes("aesgcm", ("key1", K32))))
    k21 = load_encryption_config(write_config(tmp_path / "21.yaml", aes("aesgcm", ("key2", K32B), ("key1", K32))))
    store = Store(data, encryption=k1)
    await store.start()
    so = await store.create("secrets", secret("s1", b"v"))
    await store.create("secrets", secret("s2", b"v"))
    assert not store.stale("secrets", "default", "s1")
    await store.stop()
    store = Store(data, encryption=k21)
    await store.start()
    assert store.stale("secrets", "default", "s1") and store.stale("secrets", "default", "s2")
    await store.update("secrets", {**so.obj, "metadata": dict(so.obj["metadata"])})
    assert not store.stale("secrets", "default", "s1") and store.stale("secrets", "default", "s2")
    await store.stop()
