"""What a ``Qwen`` client offers: ``chat``, ``completion`` and ``models``.

Each resource builds its request through the client's provider and sends it
with the client's sync or async sender; the two halves sit side by side.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING, Any, Literal, overload

from qwen_cli.providers.base import request_id_from
from qwen_cli.streaming import AsyncChatStream, ChatStream, StreamCore, headers_of, json_or_text
from qwen_cli.types import (
    ChatCompletion,
    ChatParams,
    ChatRequest,
    Completion,
    CompletionChoice,
    Message,
    ModelInfo,
)

if TYPE_CHECKING:
    import httpx

    from qwen_cli.client import Qwen
    from qwen_cli.tools.describe import ToolLike
    from qwen_cli.tools.loop import ToolRun

MessageLike = Message | dict[str, Any]
ModelList = list[ModelInfo]


def as_messages(messages: Iterable[MessageLike]) -> list[Message]:
    return [m if isinstance(m, Message) else Message.model_validate(m) for m in messages]


class Chat:
    """``client.chat.create(...)`` and ``await client.chat.acreate(...)``.

    ``tools=`` takes tool definitions (dicts) and plain Python functions (described from their
    signature and docstring); ``run``/``arun`` also execute the functions the model calls.
    """

    def __init__(self, client: Qwen) -> None:
        self._client = client

    def request(
        self,
        messages: Sequence[MessageLike],
        *,
        model: str | None = None,
        stream: bool = False,
        extra_headers: dict[str, str] | None = None,
        **params: Any,
    ) -> ChatRequest:
        """The request for ``messages``; ``model`` defaults to the provider's own default."""
        if params.get("tools"):
            from qwen_cli.tools.describe import definitions

            params["tools"] = definitions(params["tools"])
        return ChatRequest(
            model=model or self._client.provider.default_model,
            messages=as_messages(messages),
            stream=stream,
            params=ChatParams(**params),
            headers=extra_headers or {},
        )

    @overload
    def create(self, messages: Sequence[MessageLike], *, stream: Literal[True], **kw: Any) -> ChatStream: ...
    @overload
    def create(
        self, messages: Sequence[MessageLike], *, stream: Literal[False] = ..., **kw: Any
    ) -> ChatCompletion: ...
    @overload
    def create(
        self, messages: Sequence[MessageLike], *, stream: bool, **kw: Any
    ) -> ChatCompletion | ChatStream: ...
    def create(
        self, messages: Sequence[MessageLike], *, stream: bool = False, **kw: Any
    ) -> ChatCompletion | ChatStream:
        return self.send(self.request(messages, stream=stream, **kw))

    def run(self, messages: Sequence[MessageLike], *, tools: Sequence[ToolLike], **kw: Any) -> ToolRun:
        """Ask, run the functions the model calls, send their results, until it answers
        (at most ``max_rounds`` rounds of calls; ``tool_timeout=`` seconds per call)."""
        from qwen_cli.tools import loop

        return loop.run(self, messages, tools=tools, **kw)

    async def arun(self, messages: Sequence[MessageLike], *, tools: Sequence[ToolLike], **kw: Any) -> ToolRun:
        """:meth:`run` for an event loop (the calls of one round run concurrently)."""
        from qwen_cli.tools import loop

        return await loop.arun(self, messages, tools=tools, **kw)

    def send(self, req: ChatRequest) -> ChatCompletion | ChatStream:
        return self.stream(req) if req.stream else self.complete(req)

    def stream(self, req: ChatRequest) -> ChatStream:
        """Open a streamed answer (``req.stream`` must be true); ``.result`` fills as it is read."""
        c = self._client
        started = time.monotonic()
        response = c.send(c.provider.chat_request(req), stream=True)
        return ChatStream(response, _core(c, req, response, started))

    def complete(self, req: ChatRequest) -> ChatCompletion:
        """A whole answer at once (``req.stream`` must be false); ``.result`` is the one result."""
        c = self._client
        if c.provider.always_streams:  # the wire streams anyway: accumulate it
            with self.stream(req.model_copy(update={"stream": True})) as s:
                return s.until_done()
        started = time.monotonic()
        response = c.send(c.provider.chat_request(req))
        return _whole(c.provider.parse_completion(json_or_text(response)), response, req, started)

    @overload
    async def acreate(
        self, messages: Sequence[MessageLike], *, stream: Literal[True], **kw: Any
    ) -> AsyncChatStream: ...
    @overload
    async def acreate(
        self, messages: Sequence[MessageLike], *, stream: Literal[False] = ..., **kw: Any
    ) -> ChatCompletion: ...
    @overload
    async def acreate(
        self, messages: Sequence[MessageLike], *, stream: bool, **kw: Any
    ) -> ChatCompletion | AsyncChatStream: ...
    async def acreate(
        self, messages: Sequence[MessageLike], *, stream: bool = False, **kw: Any
    ) -> ChatCompletion | AsyncChatStream:
        return await self.asend(self.request(messages, stream=stream, **kw))

    async def asend(self, req: ChatRequest) -> ChatCompletion | AsyncChatStream:
        return await self.astream(req) if req.stream else await self.acomplete(req)

    async def astream(self, req: ChatRequest) -> AsyncChatStream:
        c = self._client
        started = time.monotonic()
        response = await c.asend(c.provider.chat_request(req), stream=True)
        return AsyncChatStream(response, _core(c, req, response, started))

    async def acomplete(self, req: ChatRequest) -> ChatCompletion:
        c = self._client
        if c.provider.always_streams:
            async with await self.astream(req.model_copy(update={"stream": True})) as s:
                return await s.until_done()
        started = time.monotonic()
        response = await c.asend(c.provider.chat_request(req))
        return _whole(c.provider.parse_completion(json_or_text(response)), response, req, started)


def _rid(response: httpx.Response) -> str | None:
    return request_id_from(headers_of(response))


def _core(c: Qwen, req: ChatRequest, response: httpx.Response, started: float) -> StreamCore:
    return StreamCore(c.provider, _rid(response), model=req.model, started=started)


def _whole(c: ChatCompletion, response: httpx.Response, req: ChatRequest, started: float) -> ChatCompletion:
    """A whole response with what only the HTTP exchange knows: request id and timing."""
    rid = _rid(response)
    if rid and not c.request_id:
        c.request_id = rid
    r = c.result
    r.model = r.model or req.model
    r.elapsed = time.monotonic() - started
    return c


def _as_completion(c: ChatCompletion) -> Completion:
    return Completion(
        id=c.id,
        model=c.model,
        choices=[CompletionChoice(text=c.content, finish_reason=c.finish_reason)],
        usage=c.usage,
        request_id=c.request_id,
    )


class Completions:
    """``client.completion.create(prompt=...)``: one prompt, ``choices[0].text`` back.

    With ``stream=True`` it returns the same chunk stream as chat
    (``chunk.choices[0].delta.content``).
    """

    def __init__(self, client: Qwen) -> None:
        self._client = client

    @staticmethod
    def _messages(prompt: str, system: str | None) -> list[MessageLike]:
        msgs: list[MessageLike] = [{"role": "system", "content": system}] if system else []
        return [*msgs, {"role": "user", "content": prompt}]

    def create(
        self, *, prompt: str, system: str | None = None, stream: bool = False, **kw: Any
    ) -> Completion | ChatStream:
        chat = self._client.chat
        req = chat.request(self._messages(prompt, system), stream=stream, **kw)
        return chat.stream(req) if stream else _as_completion(chat.complete(req))

    async def acreate(
        self, *, prompt: str, system: str | None = None, stream: bool = False, **kw: Any
    ) -> Completion | AsyncChatStream:
        chat = self._client.chat
        req = chat.request(self._messages(prompt, system), stream=stream, **kw)
        return await chat.astream(req) if stream else _as_completion(await chat.acomplete(req))


class Models:
    """``client.models.list()``: the models the key can use.

    A provider without a model-list call answers from its catalogue, without a request;
    ``client.provider.catalog_note`` then says so.
    """

    def __init__(self, client: Qwen) -> None:
        self._client = client

    def list(self) -> ModelList:
        c = self._client
        known = c.provider.catalog()
        if known is not None:
            return known
        return c.provider.parse_models(c.request_json(c.provider.models_request()))

    async def alist(self) -> ModelList:
        c = self._client
        known = c.provider.catalog()
        if known is not None:
            return known
        return c.provider.parse_models(await c.arequest_json(c.provider.models_request()))
