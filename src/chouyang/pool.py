"""The one worker-pool helper: run a function over jobs in worker processes, results in input order.

Forms rendering and scan reading both use it.  Each worker is set up once by
`initializer(*initargs)` (a renderer, a reader's secret and layouts) and keeps
that state in a module-level dict of the worker module; at most `2 * workers`
jobs are in flight, so memory stays flat however many jobs there are.  With one
worker everything runs in this process (the initializer too), which is also how
tests and small batches run.
"""

from __future__ import annotations

import os
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ProcessPoolExecutor


def default_workers() -> int:
    return min(4, os.cpu_count() or 1)


def map_in_workers(func: Callable, jobs: Iterable, initializer: Callable, initargs: tuple = (),
                   workers: int | None = None) -> Iterator:
    """Yield func(job) for every job, in the order of `jobs`."""
    workers = workers or default_workers()
    if workers == 1:
        initializer(*initargs)
        for job in jobs:
            yield func(job)
        return
    with ProcessPoolExecutor(workers, initializer=initializer, initargs=initargs) as pool:
        pending: deque = deque()
        for job in jobs:
            pending.append(pool.submit(func, job))
            if len(pending) >= 2 * workers:
                yield pending.popleft().result()
        while pending:
            yield pending.popleft().result()
