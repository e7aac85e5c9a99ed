"""`suanli up` refuses a bad --encryption-provider-config or --audit-policy-file before starting."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

BAD_ENCRYPTION = """apiVersion: apiserver.config.k8s.io/v1
kind: EncryptionConfiguration
resources:
- resources: [secrets]
  providers:
  - aesgcm:
      keys:
      - name: k
        secret: c2hvcnQ=
"""
BAD_POLICY = """apiVersion: audit.k8s.io/v1
kind: Policy
rules:
- level: Verbose
"""


@pytest.mark.parametrize(("flag", "text", "extra", "message"), [
    ("--encryption-provider-config", BAD_ENCRYPTION, [],
     'resources[0].providers[0].aesgcm.keys[0].secret: Invalid value: "REDACTED": secret is not of the expected '
     "length, got 5"),
    ("--audit-policy-file", BAD_POLICY, ["--audit-log-path", "-"], 'rules[0].level: Unsupported value: "Verbose"'),
], ids=["short-aes-key", "unknown-audit-level"])
def test_invalid_file_exits_2_naming_the_field(tmp_path: Path, flag: str, text: str, extra: list[str],
                                               message: str) -> None:
    (tmp_path / "f.yaml").write_text(text)
    proc = subprocess.run([sys.executable, "-m", "suanli.cli.main", "up", "--port", "0", "--data-dir",
                           str(tmp_path / "data"), "--kubeconfig", str(tmp_path / "kc"), flag,
                           str(tmp_path / "f.yaml"), *extra], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2
    assert message in proc.stderr
    assert not (tmp_path / "data" / "store.db").exists()  # nothing started
