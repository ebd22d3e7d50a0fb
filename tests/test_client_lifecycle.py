"""One ``Qwen`` over its life: several event loops, many calls at once, cancellation, closing.

Against the fake server in a subprocess (its sockets are not ours), counting this process's
open file descriptors: every connection the client opens is one, so a pool that is not
released shows up as descriptors that stay open.
"""

from __future__ import annotations

import asyncio
import json
import os
import threading
import time
from collections.abc import Callable
from typing import Any

import pytest

from qwen_cli.client import Qwen
from tests.conftest import FAKE_KEY
from tests.fakeserver import FakeServerProcess, chat_completion, chat_stream_events

SLACK = 1  # each check below would leak at least 3 connections if a pool were kept
HANG = 20.0  # seconds the server holds an answer a test cancels (stopped with the module's server)


def open_fds() -> int:
    return len(os.listdir("/proc/self/fd"))


def ask(text: str) -> list[dict[str, str]]:
    return [{"role": "user", "content": text}]


def settles(check: Callable[[], bool], timeout: float = 10.0) -> bool:
    """Whether ``check()`` comes true within ``timeout`` (a closed socket is gone a moment later)."""
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.01)
    return True


async def asettles(check: Callable[[], bool], timeout: float = 10.0) -> bool:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            return False
        await asyncio.sleep(0.01)
    return True


async def logged(srv: FakeServerProcess, n: int) -> None:
    """Wait until the server has received ``n`` requests."""
    assert await asettles(lambda: len(srv.requests()) >= n), srv.requests()


def client(srv: FakeServerProcess, **kw: Any) -> Qwen:
    return Qwen(FAKE_KEY, base_url=srv.base_url, **kw)


def test_one_client_two_loops_and_200_calls_at_once(srv: FakeServerProcess) -> None:
    before = open_fds()
    c = client(srv)
    for word in ("一", "two"):  # the second asyncio.run used to fail: "Event loop is closed"
        assert asyncio.run(c.chat.acreate(ask(word))).content == f"echo: {word}"
        assert settles(lambda: open_fds() <= before + SLACK)  # the loop's pool ended with it
    srv.reset()
    held = 2.0  # every answer waits this long: a request sent after another was answered is late
    srv.enqueue(
        {"match": "/chat/completions", "repeat": 200, "delay_before": held, "json": chat_completion("ok")}
    )

    async def many() -> list[str]:
        answers = await asyncio.gather(*(c.chat.acreate(ask(f"q{i}")) for i in range(200)))
        return [a.content for a in answers]

    assert asyncio.run(many()) == ["ok"] * 200
    log = srv.requests()
    assert sorted(r["json"]["messages"][0]["content"] for r in log) == sorted(f"q{i}" for i in range(200))
    times = [r["time"] for r in log]
    assert max(times) - min(times) < held  # all 200 were in flight together, none queued behind
    assert c.chat.create(ask("sync")).content == "echo: sync"
    c.close()
    assert settles(lambda: open_fds() <= before + SLACK)
    assert asyncio.run(c.chat.acreate(ask("again"))).content == "echo: again"  # closed, not broken


def test_threads_with_their_own_loops_share_one_client(srv: FakeServerProcess) -> None:
    before = open_fds()
    c = client(srv)
    got: list[str] = []

    def worker(i: int) -> None:
        got.append(asyncio.run(c.chat.acreate(ask(f"t{i}"))).content)

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert sorted(got) == [f"echo: t{i}" for i in range(4)]
    c.close()
    assert settles(lambda: open_fds() <= before + SLACK)


def test_a_cancelled_call_releases_its_connection(srv: FakeServerProcess) -> None:
    c = client(srv)

    async def run() -> None:
        warm = await asyncio.gather(*(c.chat.acreate(ask(f"w{i}")) for i in range(3)))
        assert [a.content for a in warm] == [f"echo: w{i}" for i in range(3)]
        idle = open_fds()  # the loop's pool keeps 3 connections alive
        srv.enqueue({"match": "/chat/completions", "delay_before": HANG, "json": chat_completion("late")})
        task = asyncio.create_task(c.chat.acreate(ask("hang")))
        await logged(srv, 4)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        # Its connection is closed, not handed back to the pool with an answer still due on it.
        assert await asettles(lambda: open_fds() == idle - 1)
        assert (await c.chat.acreate(ask("next"))).content == "echo: next"
        await c.aclose()

    before = open_fds()
    asyncio.run(run())
    assert open_fds() <= before + SLACK


def test_a_cancelled_stream_releases_its_connection(srv: FakeServerProcess) -> None:
    c = client(srv)
    events = chat_stream_events(["first", "never"])
    at_once = "".join(f"data: {json.dumps(e)}\n\n" for e in events[:2])  # then a long pause
    spec = {"match": "/chat/completions", "sse": [at_once, *events[2:]], "delay": HANG}

    async def run() -> None:
        await c.chat.acreate(ask("warm"))
        idle = open_fds()  # one connection kept alive
        first = asyncio.Event()

        async def read() -> None:
            async with await c.chat.acreate(ask("s"), stream=True) as s:
                async for ch in s:
                    if ch.delta.content:
                        first.set()

        srv.enqueue(spec)
        task = asyncio.create_task(read())
        await asyncio.wait_for(first.wait(), 10)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        assert await asettles(lambda: open_fds() == idle - 1)
        await c.aclose()

    asyncio.run(run())


def _fill_sync_pool(c: Qwen) -> None:
    """Leave three idle connections in the sync pool (three answers open at once, read whole)."""
    responses = [c.send(c.provider.models_request(), stream=True) for _ in range(3)]
    for r in responses:
        assert r.read().startswith(b"{") and r.status_code == 200
        r.close()


async def _fill_async_pool(c: Qwen) -> None:
    answers = await asyncio.gather(*(c.chat.acreate(ask(f"a{i}")) for i in range(3)))
    assert [a.content for a in answers] == [f"echo: a{i}" for i in range(3)]


def _sync_and_async(c: Qwen, loop: asyncio.AbstractEventLoop) -> None:
    _fill_sync_pool(c)
    loop.run_until_complete(_fill_async_pool(c))


@pytest.mark.parametrize("how", ["close", "with"])
def test_close_and_with_release_both_pools(srv: FakeServerProcess, how: str) -> None:
    loop = asyncio.new_event_loop()  # a loop that stays open after the calls: close() must release it
    try:
        before = open_fds()
        if how == "close":
            c = client(srv)
            _sync_and_async(c, loop)
            assert open_fds() >= before + 6
            c.close()
        else:
            with client(srv) as c:
                _sync_and_async(c, loop)
                assert open_fds() >= before + 6
        assert settles(lambda: open_fds() <= before + SLACK)
    finally:
        loop.close()


@pytest.mark.parametrize("how", ["aclose", "async with"])
def test_aclose_and_async_with_release_both_pools(srv: FakeServerProcess, how: str) -> None:
    async def use(c: Qwen) -> None:
        await _fill_async_pool(c)
        await asyncio.to_thread(_fill_sync_pool, c)

    async def run() -> None:
        before = open_fds()
        if how == "aclose":
            c = client(srv)
            await use(c)
            assert open_fds() >= before + 6
            await c.aclose()
        else:
            async with client(srv) as c:
                await use(c)
                assert open_fds() >= before + 6
        # Released before the loop ends, not by its end.
        assert await asettles(lambda: open_fds() <= before + SLACK)

    asyncio.run(run())


def test_sync_close_inside_a_running_loop_leaves_its_pool_to_the_loop_end(srv: FakeServerProcess) -> None:
    before = open_fds()

    async def run() -> int:
        with client(srv) as c:
            await _fill_async_pool(c)
        return open_fds()  # close() cannot await in here: the loop's 3 connections stay open

    assert asyncio.run(run()) >= before + 3
    assert settles(lambda: open_fds() <= before + SLACK)  # ...until the loop ends


def test_pools_handed_in_are_the_callers(srv: FakeServerProcess) -> None:
    import httpx

    sync, calls = httpx.Client(), []

    async def run() -> None:
        mine = httpx.AsyncClient(event_hooks={"request": [lambda r: _note(calls, r)]})
        c = Qwen(FAKE_KEY, base_url=srv.base_url, http_client=sync, async_http_client=mine)
        assert (await c.chat.acreate(ask("a"))).content == "echo: a"
        await c.aclose()
        assert calls == ["POST"] and not mine.is_closed  # used as given, and left open
        await mine.aclose()

    asyncio.run(run())
    assert not sync.is_closed
    sync.close()


async def _note(calls: list[str], request: Any) -> None:
    calls.append(request.method)


def test_a_lane_has_its_own_pools_and_the_same_server(srv: FakeServerProcess) -> None:
    c = client(srv, max_retries=1, timeout=7.0)
    assert c.chat.create(ask("main")).content == "echo: main"
    lane = c.lane()
    assert (lane.base_url, lane.api_key, lane.max_retries, lane.timeout) == (c.base_url, FAKE_KEY, 1, 7.0)
    assert lane._pools is not c._pools and lane.chat is not c.chat and lane.chat._client is lane

    async def both() -> list[str]:
        answers = await asyncio.gather(lane.chat.acreate(ask("a")), c.chat.acreate(ask("b")))
        pools = (await lane._pools.ahttp(), await c._pools.ahttp())
        assert pools[0] is not pools[1]  # one pool each: a lane's requests never queue behind c's
        await lane.aclose()
        return [a.content for a in answers]

    assert asyncio.run(both()) == ["echo: a", "echo: b"]
    assert c.chat.create(ask("still")).content == "echo: still"  # closing the lane left c alone
    c.close()
