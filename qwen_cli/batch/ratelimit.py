"""Pacing under a model's rate limits, and adapting to 429s.

Two token buckets, requests per minute and tokens per minute, each holding one second's worth
(DashScope also enforces the limits per second: RPM/60, TPM/60 [DOC rate-limit, via
dashscope-more.md]). A request waits for both; the tokens it is charged are its estimated input,
corrected by what the server reports (:meth:`Pacer.settle`).

On a 429 every sender pauses (``Retry-After`` when the server sends one, else 1 s doubling up
to a minute) and the number of requests in flight is halved; each success then adds back one
slot per window (additive increase), up to ``--concurrency``: the run slows down where the
account's limits are and speeds up again once they allow.

Limits per model: DashScope publishes them per account and model ("Rate limits" page); those
below are the defaults of a new Beijing account as that page listed them [DOC rate-limit, not
re-checked from this project: treat as INF]. A model not listed gets the conservative
:data:`DEFAULT_LIMITS`. Servers other than DashScope get no pacing unless ``--rpm``/``--tpm``.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable

from qwen_cli.structs import struct

# (requests per minute, tokens per minute)
MODEL_LIMITS: dict[str, tuple[int, int]] = {
    "qwen-max": (600, 1_000_000),
    "qwen3-max": (600, 1_000_000),
    "qwen-plus": (15_000, 1_200_000),
    "qwen-turbo": (1_200, 5_000_000),
    "qwen-flash": (15_000, 5_000_000),
}
DEFAULT_LIMITS = (600, 1_000_000)
FIRST_PAUSE = 1.0
MAX_PAUSE = 60.0  # the longest Retry-After honoured
# Without a Retry-After (DashScope sends none) the pause doubles from FIRST_PAUSE up to this:
# a per-minute limit frees some room every few seconds, and a longer guess only idles the run.
MAX_GUESSED_PAUSE = 8.0


@struct(frozen=True)
class Limits:
    rpm: float | None = None
    tpm: float | None = None
    source: str = ""  # "--rpm/--tpm", "catalogue", "default", "none"

    @property
    def paced(self) -> bool:
        return bool(self.rpm or self.tpm)


def limits_for(model: str, *, dashscope: bool, rpm: float | None, tpm: float | None) -> Limits:
    """The limits to pace ``model`` at: the options first, then DashScope's defaults."""
    if rpm or tpm:
        base = limits_for(model, dashscope=dashscope, rpm=None, tpm=None)
        return Limits(rpm or base.rpm, tpm or base.tpm, "--rpm/--tpm")
    if not dashscope:
        return Limits(source="none")
    key = model.lower().rsplit("/", 1)[-1]
    for name in (key, key.removesuffix("-latest")):
        if name in MODEL_LIMITS:
            r, t = MODEL_LIMITS[name]
            return Limits(r, t, "catalogue")
    return Limits(*DEFAULT_LIMITS, source="default")


class _Bucket:
    def __init__(self, per_minute: float, clock: Callable[[], float]) -> None:
        self.rate = per_minute / 60.0  # per second
        self.capacity = max(self.rate, 1.0)
        self.level = self.capacity
        self.clock = clock
        self.at = clock()

    def _refill(self) -> None:
        now = self.clock()
        self.level = min(self.capacity, self.level + (now - self.at) * self.rate)
        self.at = now

    def wait_for(self, amount: float) -> float:
        """Seconds until ``amount`` is available (0: take it now)."""
        self._refill()
        need = min(amount, self.capacity)  # a request bigger than a second's worth waits for a full bucket
        return 0.0 if self.level >= need else (need - self.level) / self.rate

    def take(self, amount: float) -> None:
        self._refill()
        self.level -= amount


class Pacer:
    """Admission for each request: rate buckets, a pause after a 429, a shrinking window."""

    def __init__(
        self,
        limits: Limits,
        concurrency: int,
        *,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.limits = limits
        self.clock = clock
        self.requests = _Bucket(limits.rpm, clock) if limits.rpm else None
        self.tokens = _Bucket(limits.tpm, clock) if limits.tpm else None
        self.concurrency = concurrency
        self.window = float(concurrency)  # how many may be in flight now
        self.in_flight = 0
        self.paused_until = 0.0
        self.pause = FIRST_PAUSE
        self.rate_limited = 0  # 429s seen
        self._lock = asyncio.Lock()
        self._freed = asyncio.Event()

    async def acquire(self, tokens: int) -> None:
        """Wait until a request of ``tokens`` estimated tokens may go, then count it in flight."""
        async with self._lock:  # one waiter at a time: first come, first served
            while True:
                now = self.clock()
                delay = self.paused_until - now
                if self.requests is not None:
                    delay = max(delay, self.requests.wait_for(1))
                if self.tokens is not None:
                    delay = max(delay, self.tokens.wait_for(tokens))
                if delay > 0:
                    await asyncio.sleep(delay)
                    continue
                if self.in_flight >= max(1, int(self.window)):
                    self._freed.clear()
                    await self._freed.wait()
                    continue
                break
            if self.requests is not None:
                self.requests.take(1)
            if self.tokens is not None:
                self.tokens.take(tokens)
            self.in_flight += 1

    def release(self) -> None:
        self.in_flight -= 1
        self._freed.set()

    def settle(self, estimated: int, actual: int) -> None:
        """Charge the tokens the server counted instead of the estimate."""
        if self.tokens is not None and actual > estimated:
            self.tokens.take(actual - estimated)

    def succeeded(self) -> None:
        if self.window < self.concurrency:
            self.window = min(float(self.concurrency), self.window + 1.0 / max(self.window, 1.0))
        self.pause = FIRST_PAUSE

    def rate_limited_by(self, retry_after: float | None) -> float:
        """A 429: pause everyone, halve the window; returns the pause in seconds."""
        self.rate_limited += 1
        now = self.clock()
        pause = retry_after if retry_after is not None else self.pause
        pause = min(max(pause, 0.0), MAX_PAUSE)
        if now >= self.paused_until:  # the requests already in flight when it hit count once
            self.window = max(1.0, self.window / 2)
            self.pause = min(self.pause * 2, MAX_GUESSED_PAUSE)
        self.paused_until = max(self.paused_until, now + pause)
        return pause
