"""Independent random streams, one per (seed, entity, purpose).

Deriving every stream from the entity's id rather than from one fleet-wide generator keeps
each terminal's history unchanged when terminals are added or flags change the mix.
"""

from __future__ import annotations

import random


def stream(seed: int, entity: str, purpose: str) -> random.Random:
    """A generator seeded by ``seed``, ``entity`` (a terminal, store or merchant id) and
    ``purpose``. String seeds are hashed with SHA-512, so the stream is the same on every
    run and platform."""
    return random.Random(f"{seed}/{entity}/{purpose}")
