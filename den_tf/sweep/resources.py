"""What a sweep's local runs may take of this machine: how many at once (`default_workers`:
as many as the cores and the memory hold) and the cores it may use (`cpu_count`).
"""

from __future__ import annotations

import os
from typing import Optional

from den_tf.preflight import available_memory

# Memory one run may take: peak RSS of the full default run is 1.4-1.7 GiB (README, Speed).
PER_RUN_MEMORY = 2 * 1024 ** 3


def cpu_count() -> int:
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:
        return max(1, os.cpu_count() or 1)


def default_workers(threads_per_run: int = 1, cores: Optional[int] = None,
                    memory: Optional[int] = None) -> int:
    """As many runs as the cores (threads_per_run each) and the memory (PER_RUN_MEMORY
    each) hold, at least 1."""
    cores = cpu_count() if cores is None else cores
    memory = available_memory() if memory is None else memory
    n = cores // max(1, threads_per_run)
    if memory is not None:
        n = min(n, memory // PER_RUN_MEMORY)
    return max(1, int(n))
