"""One hashing rule for everything that is identified by its content: run ids, caches, seeds.

Canonical JSON (sorted keys, no spaces) hashed with SHA-256, so the same configuration gives the
same digest on every machine and in every process.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any


def canonical_json(value: Any, compact: bool = True) -> str:
    """``value`` as JSON with sorted keys, without whitespace (``compact``) or with ``json``'s default
    ", " and ": "; non-JSON values as their ``str``."""
    return json.dumps(value, sort_keys=True, separators=(",", ":") if compact else None, default=str)


def sha256(value: Any, compact: bool = True) -> bytes:
    """The SHA-256 of ``value``'s canonical JSON."""
    return hashlib.sha256(canonical_json(value, compact).encode()).digest()


def digest(value: Any, length: int = 16) -> str:
    """The first ``length`` hex digits of the SHA-256 of ``value``'s canonical JSON."""
    return sha256(value).hex()[:length]
