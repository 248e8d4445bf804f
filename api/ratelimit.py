"""Per-key token buckets: a sustained rate of events per second with a burst allowance."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass


@dataclass
class _Bucket:
    tokens: float
    updated: float


class RateLimiter:
    """``take(key, n)`` spends ``n`` tokens or says how long to wait. Not thread-safe (one loop)."""

    def __init__(
        self, rate: float, burst: int, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.rate = rate
        self.burst = float(burst)
        self._clock = clock
        self._buckets: dict[str, _Bucket] = {}

    def take(self, key: str, n: int = 1) -> float | None:
        """Spend ``n`` tokens; None if allowed, else the seconds until they would be available."""
        now = self._clock()
        bucket = self._buckets.get(key)
        if bucket is None:
            bucket = self._buckets[key] = _Bucket(self.burst, now)
        bucket.tokens = min(self.burst, bucket.tokens + (now - bucket.updated) * self.rate)
        bucket.updated = now
        if n <= bucket.tokens:
            bucket.tokens -= n
            return None
        if n > self.burst:  # could never pass: wait for a full bucket, the client must split
            return (self.burst - bucket.tokens) / self.rate
        return (n - bucket.tokens) / self.rate
