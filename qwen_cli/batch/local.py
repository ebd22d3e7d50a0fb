"""The local engine: every request of a batch sent on the async client, resumable, never paid twice.

:func:`run` decides what to send (requests answered before, in the run's state, are skipped;
failures too unless ``retry_failed``; an identical request answered before, in the cache, costs
nothing), then sends the rest from ``concurrency`` workers paced by a
:class:`~qwen_cli.batch.ratelimit.Pacer`. Each result is committed to the state, then appended
to the output as one JSON line::

    {"custom_id": "7", "answer": "...", "finish_reason": "stop", "model": "qwen-plus",
     "usage": {"prompt_tokens": 12, "completion_tokens": 30, "total_tokens": 42},
     "error": null, "cached": false}

with ``"answer": null`` and ``"error": {"status": 400, "code": "...", "message": "..."}`` for a
request that failed. A 429 pauses and shrinks the pacer's window and the request goes again
(up to :data:`MAX_RATE_LIMITED` times); connection errors and 5xx go again up to the client's
``max_retries``; other errors fail the request alone; an authentication error stops the run
(every other request would fail the same way). With ``ordered`` the output is rewritten in
input order at the end.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from qwen_cli.batch.state import DONE, FAILED, RunState, body_hash
from qwen_cli.errors import (
    APIConnectionError,
    AuthenticationError,
    QwenAPIError,
    RateLimitError,
    ServerError,
    UsageError,
)
from qwen_cli.structs import field, struct

if TYPE_CHECKING:
    from qwen_cli.batch.cache import ResponseCache
    from qwen_cli.batch.inputs import BatchItem
    from qwen_cli.batch.ratelimit import Pacer
    from qwen_cli.batch.structured import Outcome
    from qwen_cli.client import Qwen
    from qwen_cli.schema import Shape
    from qwen_cli.types import AnswerResult, ChatRequest

MAX_RATE_LIMITED = 10  # 429s one request may meet before it is recorded as failed
_SKIP_KEYS = frozenset({"model", "messages", "stream", "stream_options"})


@struct
class Counts:
    """How the run is going; the command line draws it."""

    total: int = 0  # requests in the input
    to_send: int = 0  # of those, not answered before
    done: int = 0
    failed: int = 0
    cached: int = 0
    skipped: int = 0  # answered (or failed) in an earlier run of the same output
    prompt_tokens: int = 0
    completion_tokens: int = 0
    cost: float = 0.0
    currency: str = ""  # "¥" or "$"; "" when the server is not priced
    rate_limited: int = 0
    retried: int = 0
    started: float = field(default_factory=time.monotonic)
    paused_until: float = 0.0  # time.monotonic() until which a 429 holds every sender back

    @property
    def finished(self) -> int:
        return self.done + self.failed + self.cached

    @property
    def elapsed(self) -> float:
        return time.monotonic() - self.started


@struct(frozen=True)
class Job:
    """What to run and how."""

    items: Sequence[BatchItem]
    output: Path
    state_path: Path
    concurrency: int = 8
    ordered: bool = False
    append: bool = False  # resume into an existing output
    force: bool = False  # start over, replacing it
    retry_failed: bool = False
    retries: int = 2  # connection errors and 5xx: tries after the first
    server: str = ""  # the base URL: part of the cache key
    price_region: str | None = None
    shape: Shape | None = None  # --schema: each answer checked, repaired once (batch/structured.py)


def open_state(job: Job) -> tuple[RunState, bool]:
    """The run's state, and whether this run resumes one; refuses to overwrite an output."""
    state = RunState(job.state_path)
    if job.force or not job.output.exists() or job.output.stat().st_size == 0:
        state.reset(str(job.output))
        job.output.write_bytes(b"")  # a new run: the output starts empty
        return state, False
    answered = state.count()
    if job.append or job.retry_failed or 0 < answered < len(job.items):
        return state, True  # the same command after an interruption resumes, as --append does
    state.close()
    if answered >= len(job.items):
        raise UsageError(
            f"{job.output} exists and has a result for all {len(job.items)} requests",
            hint="--retry-failed to send the failed ones again, --force to run them all again "
            "(the cache answers identical requests for nothing)",
        )
    raise UsageError(
        f"{job.output} exists",
        hint="--append to add to it (a resumed run sends only what has no answer), --force to replace it",
    )


def to_request(client: Qwen, body: dict[str, Any], stream_only: bool) -> ChatRequest:
    """A compatible-mode body as the client's request: known fields typed, the rest passed through."""
    from qwen_cli.types import ChatParams, ChatRequest, Message

    known = set(ChatParams.model_fields) - {"extra", "json_mode"}
    params = {k: v for k, v in body.items() if k in known}
    extra = {k: v for k, v in body.items() if k not in known and k not in _SKIP_KEYS}
    return ChatRequest(
        model=str(body.get("model") or client.provider.default_model),
        messages=[Message.model_validate(m) for m in body.get("messages") or []],
        stream=stream_only,
        params=ChatParams(**params, extra=extra),
    )


def error_line(custom_id: str, err: QwenAPIError | str) -> dict[str, Any]:
    if isinstance(err, str):
        error: dict[str, Any] = {"status": None, "code": "invalid_request", "message": err}
    else:
        error = {"status": err.status_code, "code": err.code, "message": err.message}
    return {"custom_id": custom_id, "answer": None, "usage": None, "error": error, "cached": False}


class Runner:
    def __init__(
        self,
        client: Qwen,
        job: Job,
        state: RunState,
        pacer: Pacer,
        cache: ResponseCache | None,
        counts: Counts,
        on_progress: Callable[[Counts], None],
    ) -> None:
        from qwen_cli import catalog

        self.client = client
        self.job = job
        self.state = state
        self.pacer = pacer
        self.cache = cache
        self.counts = counts
        self.on_progress = on_progress
        self.catalog = catalog
        self.out = job.output.open("ab")
        self.fatal: QwenAPIError | None = None

    def close(self) -> None:
        self.out.close()

    def _write(self, cid: str, digest: str, status: str, attempts: int, line: dict[str, Any]) -> None:
        text = json.dumps(line, ensure_ascii=False)
        self.state.record(cid, digest, status, attempts, text)  # committed first: never paid twice
        self.out.write(text.encode("utf-8") + b"\n")
        self.out.flush()

    def _price(self, model: str, usage: Any) -> float:
        if self.job.price_region is None or usage is None:
            return 0.0
        got = self.catalog.price_usage(model, usage, self.job.price_region)
        if got is None:
            return 0.0
        self.counts.currency = got.symbol
        return got.amount

    async def worker(self, queue: asyncio.Queue[tuple[BatchItem, str] | None], client: Qwen) -> None:
        while True:
            entry = await queue.get()
            if entry is None or self.fatal is not None:
                return
            await self.one(*entry, client=client)
            self.on_progress(self.counts)

    async def one(self, item: BatchItem, digest: str, *, client: Qwen | None = None) -> None:
        """Answer one request on ``client`` (a worker's own lane; default: the run's client)."""
        client = client or self.client
        from qwen_cli.conversation import estimate_tokens
        from qwen_cli.types import Usage

        c = self.counts
        key = None
        if self.cache is not None:
            from qwen_cli.batch.cache import cache_key

            key = cache_key(self.job.server, item.body)
            hit = self.cache.get(key)
            if hit is not None:
                self._write(
                    item.custom_id, digest, DONE, 0, {"custom_id": item.custom_id, **hit, "cached": True}
                )
                c.cached += 1
                return
        spec = self.catalog.lookup(str(item.body.get("model") or ""))
        try:
            req = to_request(client, item.body, spec.stream_only)
        except ValueError as exc:  # the wire types' ValidationError: a body the client cannot send
            first = str(exc).splitlines()[:3]
            self._write(item.custom_id, digest, FAILED, 0, error_line(item.custom_id, " ".join(first)))
            c.failed += 1
            return
        estimate = sum(estimate_tokens(m.text) + 4 for m in req.messages)
        attempts = 0
        while True:
            attempts += 1
            await self.pacer.acquire(estimate)
            try:
                if req.stream:
                    async with await client.chat.astream(req) as s:
                        completion = await s.until_done()
                else:
                    completion = await client.chat.acomplete(req)
            except RateLimitError as err:
                self.pacer.release()
                c.rate_limited += 1
                if attempts < MAX_RATE_LIMITED:
                    self.pacer.rate_limited_by(err.retry_after)
                    c.paused_until = self.pacer.paused_until
                    c.retried += 1
                    continue
                failure: QwenAPIError = err
            except AuthenticationError as err:
                self.pacer.release()
                self.fatal = err
                return
            except (APIConnectionError, ServerError) as err:
                self.pacer.release()
                if attempts <= self.job.retries:
                    c.retried += 1
                    await asyncio.sleep(client.jitter(min(0.5 * 2 ** (attempts - 1), 8.0)))
                    continue
                failure = err
            except QwenAPIError as err:
                self.pacer.release()
                failure = err
            else:
                self.pacer.release()
                self.pacer.succeeded()
                r = completion.result
                usage = r.usage or Usage()
                self.pacer.settle(estimate, usage.total_tokens)
                answer: dict[str, Any] = {"answer": r.content}
                shaped = None
                if self.job.shape is not None:  # checked, repaired once (batch/structured.py)
                    shaped = await self.structured(client, req, r, estimate)
                    answer, usage = shaped.fields, shaped.usage
                if r.reasoning:
                    answer["reasoning"] = r.reasoning
                if r.tool_calls:
                    answer["tool_calls"] = [t.model_dump() for t in r.tool_calls]
                answer.update(
                    finish_reason=r.finish_reason,
                    model=r.model or req.model,
                    usage=usage.model_dump(exclude_none=True),
                    error=None,
                )
                if shaped is not None and shaped.error is not None:
                    answer["error"] = shaped.error
                    self._write(
                        item.custom_id,
                        digest,
                        FAILED,
                        attempts,
                        {"custom_id": item.custom_id, **answer, "cached": False},
                    )
                    c.failed += 1
                    c.prompt_tokens += usage.prompt_tokens
                    c.completion_tokens += usage.completion_tokens
                    c.cost += self._price(answer["model"], usage)
                    return
                self._write(
                    item.custom_id,
                    digest,
                    DONE,
                    attempts,
                    {"custom_id": item.custom_id, **answer, "cached": False},
                )
                if self.cache is not None and key is not None:
                    self.cache.put(key, answer)
                c.done += 1
                c.prompt_tokens += usage.prompt_tokens
                c.completion_tokens += usage.completion_tokens
                c.cost += self._price(answer["model"], usage)
                return
            self._write(item.custom_id, digest, FAILED, attempts, error_line(item.custom_id, failure))
            c.failed += 1
            return

    async def structured(self, client: Qwen, req: ChatRequest, first: AnswerResult, estimate: int) -> Outcome:
        """``first`` checked against the job's schema; the one repair request is paced too."""
        from qwen_cli.batch.structured import settle
        from qwen_cli.types import Message

        async def repair(text: str) -> AnswerResult:
            more = [Message(role="assistant", content=first.content), Message(role="user", content=text)]
            again = req.model_copy(update={"messages": [*req.messages, *more]})
            await self.pacer.acquire(estimate + len(first.content) // 2)
            try:
                if again.stream:
                    async with await client.chat.astream(again) as s:
                        return (await s.until_done()).result
                return (await client.chat.acomplete(again)).result
            finally:
                self.pacer.release()

        assert self.job.shape is not None
        return await settle(self.job.shape, first, repair, req.model)


def run(
    client: Qwen,
    job: Job,
    pacer: Pacer,
    cache: ResponseCache | None,
    on_progress: Callable[[Counts], None] = lambda counts: None,
    *,
    counts: Counts | None = None,
) -> Counts:
    """Run ``job`` to the end (or until Ctrl-C: what completed is kept); returns the counts.

    Raises the authentication error that stopped a run, after keeping what was answered.
    """
    counts = counts if counts is not None else Counts()
    state, resumed = open_state(job)
    try:
        if resumed:
            _repair(job.output, state)
        known = state.known()
        todo: list[tuple[BatchItem, str]] = []
        for item in job.items:
            digest = body_hash(item.body)
            before = known.get(item.custom_id)
            if before is not None and before[0] == digest and (before[1] == DONE or not job.retry_failed):
                counts.skipped += 1
            else:
                todo.append((item, digest))
        counts.total = len(job.items)
        counts.to_send = len(todo)
        runner = Runner(client, job, state, pacer, cache, counts, on_progress)
        on_progress(counts)
        try:
            asyncio.run(_drive(runner, todo, job.concurrency))
        finally:
            runner.close()
            superseded = job.retry_failed and counts.skipped < counts.total
            if job.ordered or superseded:
                _rewrite(job, state)
        if runner.fatal is not None:
            raise runner.fatal
        return counts
    finally:
        state.close()


async def _drive(runner: Runner, todo: list[tuple[BatchItem, str]], concurrency: int) -> None:
    queue: asyncio.Queue[tuple[BatchItem, str] | None] = asyncio.Queue()
    for entry in todo:
        queue.put_nowait(entry)
    workers = max(1, min(concurrency, len(todo)))
    for _ in range(workers):
        queue.put_nowait(None)
    lanes = [runner.client.lane() for _ in range(workers)]  # a pool each: see Qwen.lane
    ticker = asyncio.ensure_future(_tick(runner))  # the display moves while a 429 holds all back
    try:
        await asyncio.gather(*(runner.worker(queue, lane) for lane in lanes))
    finally:
        ticker.cancel()
        for c in (*lanes, runner.client):
            with contextlib.suppress(Exception):
                await c.aclose()


async def _tick(runner: Runner, every: float = 0.5) -> None:
    while True:
        await asyncio.sleep(every)
        runner.on_progress(runner.counts)


def _repair(output: Path, state: RunState) -> None:
    """After a kill: end a cut last line, and append the results kept but not written."""
    missing = state.missing_from(output)
    with output.open("ab+") as f:
        f.seek(0, os.SEEK_END)
        if f.tell() > 0:
            f.seek(-1, os.SEEK_END)
            if f.read(1) != b"\n":
                f.write(b"\n")
        for line in missing:
            f.write(line.encode("utf-8") + b"\n")


def _rewrite(job: Job, state: RunState) -> None:
    """The output made again from the state: in input order (``ordered``), one line a request."""
    ids = [item.custom_id for item in job.items] if job.ordered else None
    tmp = job.output.with_name(job.output.name + ".tmp")
    with tmp.open("wb") as f:
        for _, line in state.lines(ids):
            f.write(line.encode("utf-8") + b"\n")
    tmp.replace(job.output)
