"""A benchmark's samples on several workers (:mod:`scale`): each sample is scored once, by one
worker (contiguous shards, no padding duplicates as DistributedSampler adds), and the per-sample
scores are put back in the samples' order, so the averages and the JSON are the one-process run's."""
from __future__ import annotations

import math
from typing import Any, Hashable, List, Sequence

from tqdm import tqdm

from evaluation.benchmark_sets import Sample
from evaluation.protocol import Protocol
from evaluation.runner import score_benchmark
from evaluation.scoring import BenchmarkResult, SampleScore
from scale import Pool, WorkerContext

__all__ = ["SHARDS_PER_WORKER", "shards", "score_on_workers"]

SHARDS_PER_WORKER = 4  # shards each worker takes on average: a slow shard holds the others up less


def shards(count: int, workers: int) -> List[range]:
    """``range(count)`` cut into consecutive pieces, about :data:`SHARDS_PER_WORKER` per worker."""
    size = max(1, math.ceil(count / (workers * SHARDS_PER_WORKER)))
    return [range(start, min(start + size, count)) for start in range(0, count, size)]


def _score_shard(context: WorkerContext, key: Hashable, samples: Sequence[Sample], protocol: Protocol) -> List[SampleScore]:
    result = score_benchmark(context.model(key), samples, protocol, context.device, progress=False)
    return result.samples


def score_on_workers(pool: Pool, key: Hashable, samples: Sequence[Sample], protocol: Protocol, *,
                     description: str = "evaluating", progress: bool = True) -> BenchmarkResult:
    """:func:`evaluation.runner.score_benchmark` with the model the pool's factory builds for
    ``key``, the samples spread over the pool's workers."""
    pieces = shards(len(samples), pool.size)
    calls: List[Any] = [(_score_shard, (key, [samples[i] for i in piece], protocol))
                        for piece in pieces]
    scored: List[List[SampleScore]] = [[] for _ in pieces]
    with tqdm(total=len(samples), desc=description, unit="sample", disable=not progress, dynamic_ncols=True) as bar:
        for done in pool.run(calls):
            scored[done.index] = done.result
            bar.update(len(done.result))
    return BenchmarkResult(with_ie=protocol.with_ie, samples=[score for piece in scored for score in piece])
