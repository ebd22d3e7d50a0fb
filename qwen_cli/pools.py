"""The connection pools of one ``Qwen`` client: one sync pool, one async pool per event loop.

An ``httpx.AsyncClient`` belongs to the event loop it first ran in: its connections are that
loop's transports, and once the loop is closed they can neither be used nor closed from
another loop (``RuntimeError: Event loop is closed``). So a client that is used from several
loops (one ``Qwen``, several ``asyncio.run`` calls) keeps one async pool per running loop, made
on first use in that loop.

Each async pool is released

* by ``aclose()`` awaited in its loop;
* by ``close()`` called outside any running loop, which runs the loop's part for idle loops;
* when its loop ends: a small async generator, started in the loop, is closed by the loop's
  ``shutdown_asyncgens()`` (which ``asyncio.run`` and ``asyncio.Runner`` call before closing
  the loop), and its ``finally`` closes the pool while the loop can still run it.

Pools handed in by the caller (``http_client=``, ``async_http_client=``) are used as given, in
whatever loop the caller uses them, and never closed here: the caller owns them.
"""

from __future__ import annotations

import functools
import sys
from collections.abc import AsyncGenerator, Callable
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import asyncio
    import ssl

    import httpx

# 200 calls at once on one client each get a connection at once, rather than queueing behind
# httpx's default of 100 until its pool timeout fires; the rest is kept for reuse.
MAX_CONNECTIONS = 256
MAX_KEEPALIVE = 64


def limits() -> httpx.Limits:
    import httpx

    return httpx.Limits(max_connections=MAX_CONNECTIONS, max_keepalive_connections=MAX_KEEPALIVE)


@functools.cache
def ssl_context() -> ssl.SSLContext:
    """One TLS context for every pool of the process (loading the CA bundle costs ~30 ms); it
    honours SSL_CERT_FILE and SSL_CERT_DIR as httpx's own default does."""
    import httpx

    return httpx.create_ssl_context()


async def _close_at_loop_end(
    owner: Pools, loop: asyncio.AbstractEventLoop, pool: httpx.AsyncClient
) -> AsyncGenerator[None, None]:
    """Suspended once in ``loop``; closing it (``aclose()`` or loop shutdown) closes ``pool``."""
    try:
        yield
    finally:
        entry = owner._apools.get(loop)
        if entry is not None and entry[0] is pool:
            del owner._apools[loop]
        await pool.aclose()


class Pools:
    """Made lazily; ``new_timeout()`` gives the timeouts for a pool about to be made."""

    def __init__(
        self,
        new_timeout: Callable[[], httpx.Timeout],
        http_client: httpx.Client | None = None,
        async_http_client: httpx.AsyncClient | None = None,
        *,
        new_transport: Callable[[], httpx.AsyncBaseTransport] | None = None,
    ) -> None:
        self._new_timeout = new_timeout
        self._new_transport = new_transport  # the async pools' transport (a lane's); None: httpx's
        self._given = http_client
        self._agiven = async_http_client
        self._http: httpx.Client | None = None
        # loop -> (its pool, the generator that closes the pool when the loop ends)
        self._apools: dict[
            asyncio.AbstractEventLoop, tuple[httpx.AsyncClient, AsyncGenerator[None, None]]
        ] = {}

    # ------------------------------------------------------------------ sync

    @property
    def http(self) -> httpx.Client:
        if self._given is not None:
            return self._given
        if self._http is None:
            import httpx

            self._http = httpx.Client(timeout=self._new_timeout(), limits=limits(), verify=ssl_context())
        return self._http

    def close(self) -> None:
        """Release the sync pool; outside a running loop, the pools of idle loops too.

        A running loop's pool is released by ``aclose()`` in it, or when the loop ends.
        """
        if self._http is not None:
            self._http.close()
            self._http = None
        self._forget_closed_loops()
        if _running_loop() is not None:  # an idle loop cannot be run from inside another
            return
        for loop, (_pool, closer) in list(self._apools.items()):
            if not loop.is_running():
                loop.run_until_complete(closer.aclose())

    # ------------------------------------------------------------------ async

    async def ahttp(self) -> httpx.AsyncClient:
        """The async pool of the running loop (made on first use there)."""
        if self._agiven is not None:
            return self._agiven
        import asyncio

        loop = asyncio.get_running_loop()
        entry = self._apools.get(loop)
        if entry is not None:
            return entry[0]
        import httpx

        self._forget_closed_loops()
        if self._new_transport is not None:
            from qwen_cli.lane import LaneClient

            pool: httpx.AsyncClient = LaneClient(timeout=self._new_timeout(), transport=self._new_transport())
        else:
            pool = httpx.AsyncClient(timeout=self._new_timeout(), limits=limits(), verify=ssl_context())
        closer = _close_at_loop_end(self, loop, pool)
        self._apools[loop] = (pool, closer)
        await closer.__anext__()  # runs to its `yield` at once, and registers it with the loop
        return pool

    async def aclose(self) -> None:
        """Release the running loop's pool and the sync pool."""
        if self._http is not None:
            self._http.close()
            self._http = None
        self._forget_closed_loops()
        import asyncio

        entry = self._apools.get(asyncio.get_running_loop())
        if entry is not None:
            await entry[1].aclose()

    def _forget_closed_loops(self) -> None:
        """Drop the pools of loops closed without ``shutdown_asyncgens()``: nothing runs there now."""
        for loop in [lp for lp in self._apools if lp.is_closed()]:
            self._apools.pop(loop, None)


def _running_loop() -> asyncio.AbstractEventLoop | None:
    # No loop runs where asyncio was never imported; a sync command need not pay for it.
    if "asyncio" not in sys.modules:
        return None
    import asyncio

    try:
        return asyncio.get_running_loop()
    except RuntimeError:
        return None
