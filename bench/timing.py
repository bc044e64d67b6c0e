"""Timing shared by the benchmarks: the best of a few runs, the usual guard against noise;
and the peak memory of one run."""

from __future__ import annotations

import time
import tracemalloc
from collections.abc import Callable, Sequence
from typing import TypeVar

Item = TypeVar("Item")


def best_of(repeats: int, work: Callable[[], object]) -> float:
    """Seconds taken by the fastest of ``repeats`` calls of ``work``."""
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        work()
        times.append(time.perf_counter() - start)
    return min(times)


def best_per_item(
    repeats: int, work: Callable[[Sequence[Item]], object], items: Sequence[Item],
    chunk: int = 1_000,
) -> float:
    """Seconds per item of ``work`` over ``items``: the best of ``repeats`` runs of each chunk
    of ``chunk`` items, added up. Short chunks keep a busy machine's pauses out of the best
    run, so per-call figures of two loops compare fairly."""
    total = 0.0
    for start in range(0, len(items), chunk):
        part = items[start : start + chunk]
        total += best_of(repeats, lambda part=part: work(part))  # type: ignore[misc]
    return total / max(len(items), 1)


def best_of_each(repeats: int, *works: Callable[[], object]) -> list[float]:
    """Seconds taken by the fastest call of each of ``works``, the calls taken in turn (one of
    each per round), so that a busy spell of the machine weighs on all of them alike."""
    best = [float("inf")] * len(works)
    for _ in range(repeats):
        for i, work in enumerate(works):
            start = time.perf_counter()
            work()
            best[i] = min(best[i], time.perf_counter() - start)
    return best


def peak_memory(work: Callable[[], object]) -> float:
    """Peak traced memory (bytes) while ``work`` runs, beyond what was held before (numpy
    reports its buffers to tracemalloc)."""
    tracemalloc.start()
    tracemalloc.reset_peak()
    work()
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    return float(peak)
