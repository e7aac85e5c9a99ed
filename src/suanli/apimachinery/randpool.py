"""Random bytes from the operating system's CSPRNG, fetched in blocks.

CONTRACT: :func:`random_bytes` returns ``n`` bytes of ``os.urandom`` output; every byte is handed
out once. Bytes are drawn 4 KiB at a time, so per-request callers on the event loop (AES nonces
and IVs, audit IDs) make one system call per few hundred requests instead of one each:
``os.urandom`` releases the GIL, and on a busy server re-taking it can wait for another thread
for milliseconds. A forked child starts with an empty block (it never reuses its parent's bytes).
Thread-safe.
"""

from __future__ import annotations

import os
import threading

__all__ = ["random_bytes"]

_BLOCK = 4096
_lock = threading.Lock()
_buf = b""
_pos = 0


def random_bytes(n: int) -> bytes:
    """``n`` fresh random bytes (see the module docstring)."""
    global _buf, _pos
    if n > _BLOCK:
        return os.urandom(n)
    with _lock:
        if _pos + n > len(_buf):
            _buf = os.urandom(_BLOCK)
            _pos = 0
        out = _buf[_pos:_pos + n]
        _pos += n
    return out


def _reset_after_fork() -> None:
    global _buf, _pos, _lock
    _buf, _pos, _lock = b"", 0, threading.Lock()


os.register_at_fork(after_in_child=_reset_after_fork)
