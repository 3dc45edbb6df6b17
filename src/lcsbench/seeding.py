"""The one place every random seed is derived: config seed + wildcard tokens."""

from __future__ import annotations

import hashlib


def derive_seed(base: int, *tokens: object) -> int:
    """A 32-bit seed determined by ``base`` and the string form of ``tokens``.

    The same config and wildcards give the same seed on every machine and Python version
    (no use of ``hash()``, which is salted per process).
    """
    text = "/".join([str(int(base)), *map(str, tokens)])
    return int.from_bytes(hashlib.sha256(text.encode()).digest()[:4], "little")
