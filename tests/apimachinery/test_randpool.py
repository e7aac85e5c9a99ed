"""random_bytes: each byte of the OS CSPRNG handed out once, across blocks and forks."""

from __future__ import annotations

import os

from suanli.apimachinery.randpool import random_bytes


def test_lengths_and_no_repeats_across_block_boundaries() -> None:
    chunks = [random_bytes(12) for _ in range(2000)]  # ~6 blocks of 4 KiB
    assert all(len(c) == 12 for c in chunks)
    assert len(set(chunks)) == len(chunks)
    assert len(random_bytes(10_000)) == 10_000  # larger than a block: straight from the OS


def test_a_forked_child_does_not_reuse_the_parents_block() -> None:
    random_bytes(1)  # the parent has a partly used block
    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:  # child
        os.write(w, random_bytes(16))
        os._exit(0)
    os.close(w)
    child = os.read(r, 16)
    os.close(r)
    os.waitpid(pid, 0)
    assert len(child) == 16 and child != random_bytes(16)
