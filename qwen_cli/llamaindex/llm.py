"""``QwenLlamaIndex``: a LlamaIndex ``FunctionCallingLLM`` on our own client."""

from __future__ import annotations

import functools
import inspect
import logging
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any, Literal, TypeVar, cast

from llama_index.core.base.llms.types import (
    ChatMessage,
    ChatResponse,
    ChatResponseAsyncGen,
    ChatResponseGen,
    CompletionResponse,
    CompletionResponseAsyncGen,
    CompletionResponseGen,
    LLMMetadata,
    MessageRole,
)
from llama_index.core.bridge.pydantic import Field, PrivateAttr
from llama_index.core.llms.callbacks import llm_chat_callback, llm_completion_callback
from llama_index.core.llms.function_calling import FunctionCallingLLM
from llama_index.core.llms.llm import ToolSelection

from qwen_cli import catalog, structs
from qwen_cli.client import Qwen
from qwen_cli.errors import QwenAPIError
from qwen_cli.llamaindex import convert
from qwen_cli.streaming import AsyncChatStream, ChatStream
from qwen_cli.types import ChatCompletionChunk, ChatRequest, dump_json_safe

if TYPE_CHECKING:
    from llama_index.core.tools.types import BaseTool

    from qwen_cli.types import ChatCompletion

log = logging.getLogger("qwen_cli")

# Request fields that go on the wire as given, after the model's adjustments (engine/request.py)
_WIRE = (
    "tools",
    "tool_choice",
    "parallel_tool_calls",
    "response_format",
    "search_options",
    "translation_options",
)
# Other names for the options of ``engine.request.Sampling``
_ALIASES = {"thinking": "think", "enable_thinking": "think", "enable_search": "search"}

_F = TypeVar("_F", bound=Callable[..., Any])


def _unmasked(exc: AttributeError) -> BaseException:
    """LlamaIndex's callback trace marks an exception by setting an attribute on it; ours are
    immutable, so that fails: the error to raise is ours, the context of that failure."""
    ctx = exc.__context__
    return ctx if isinstance(ctx, QwenAPIError) and "immutable" in str(exc) else exc


def _traced(kind: Literal["chat", "completion"]) -> Callable[[_F], _F]:
    """LlamaIndex's callbacks around a method (token counting, tracing), our errors kept."""

    def wrap(f: _F) -> _F:
        traced = (llm_chat_callback() if kind == "chat" else llm_completion_callback())(f)
        if inspect.iscoroutinefunction(f):

            @functools.wraps(traced)
            async def awrapper(*args: Any, **kwargs: Any) -> Any:
                try:
                    return await traced(*args, **kwargs)
                except AttributeError as exc:
                    raise _unmasked(exc) from None

            return cast(_F, awrapper)

        @functools.wraps(traced)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            try:
                return traced(*args, **kwargs)
            except AttributeError as exc:
                raise _unmasked(exc) from None

        return cast(_F, wrapper)

    return wrap


class QwenLlamaIndex(FunctionCallingLLM):
    """Qwen models for LlamaIndex: chat, completion, streaming and tool calling, sync and async.

    >>> from qwen_cli.llamaindex import QwenLlamaIndex
    >>> llm = QwenLlamaIndex(model="qwen-plus")      # settings as `qwen` resolves them
    >>> print(llm.complete("Say hi").text)

    Unset values come from the command line's settings (flags here, then the environment,
    ``.env``, ``config.toml`` and the credentials file of ``qwen auth login``). ``auth_token``
    and ``cookie`` (the qwen-api library's names) pick chat.qwen.ai; ``api_key``, ``region``,
    ``base_url`` and ``provider`` pick DashScope or any OpenAI-compatible server; ``client``
    uses a ready :class:`qwen_cli.Qwen`. Each answer's reasoning, usage, sources and request id
    are in the response's ``additional_kwargs``; its tool calls in the message's
    ``additional_kwargs["tool_calls"]``. Errors raise :class:`qwen_cli.errors.QwenAPIError`.
    """

    model: str = Field(description="The model to ask (e.g. qwen-plus).")
    temperature: float | None = Field(default=None, ge=0.0, lt=2.0, description="None: the model's default.")
    max_tokens: int | None = Field(default=None, gt=0, description="None: the model's output limit.")
    thinking: bool | None = Field(
        default=None, description="Think before answering (None: the model's default)."
    )
    additional_kwargs: dict[str, Any] = Field(
        default_factory=dict,
        description="Other request options: top_p, seed, stop, enable_search, thinking_budget... "
        "(any other name is sent as a request field as it is).",
    )
    provider: str = Field(default="", description="The provider the client speaks to.")
    base_url: str = Field(default="", description="The server asked.")

    _client: Qwen = PrivateAttr()

    def __init__(
        self,
        auth_token: str | None = None,
        cookie: str | None = None,
        model: str | None = None,
        temperature: float | None = None,
        max_tokens: int | None = None,
        *,
        api_key: str | None = None,
        region: str | None = None,
        base_url: str | None = None,
        provider: str | None = None,
        thinking: bool | None = None,
        timeout: float | None = None,
        max_retries: int | None = None,
        client: Qwen | None = None,
        **kwargs: Any,
    ) -> None:
        if client is None:
            flags = {
                "api_key": api_key,
                "web_token": auth_token,
                "cookie": cookie,
                "model": model,
                "region": region,
                "base_url": base_url,
                "provider": provider or _provider_taking(auth_token, cookie),
                "timeout": timeout,
                "max_retries": max_retries,
            }
            client, default_model = _client_from(flags)
        else:
            default_model = client.provider.default_model
        super().__init__(
            model=model or default_model,
            temperature=temperature,
            max_tokens=max_tokens,
            thinking=thinking,
            provider=client.provider.name,
            base_url=client.base_url,
            **kwargs,
        )
        self._client = client

    @classmethod
    def class_name(cls) -> str:
        return "QwenLlamaIndex"

    @property
    def client(self) -> Qwen:
        return self._client

    @property
    def metadata(self) -> LLMMetadata:
        """Limits and abilities from our catalogue (an unknown model: its safe defaults)."""
        spec = catalog.lookup(self.model)
        return LLMMetadata(
            context_window=spec.context,
            num_output=self.max_tokens or spec.max_output,
            is_chat_model=True,
            is_function_calling_model=spec.tools,
            model_name=self.model,
        )

    def close(self) -> None:
        self._client.close()

    async def aclose(self) -> None:
        await self._client.aclose()

    # ------------------------------------------------------------------ the request (shared)

    def _request(self, messages: Sequence[ChatMessage], stream: bool, kw: dict[str, Any]) -> ChatRequest:
        """The request for ``messages``: options of the call over the instance's, adjusted to
        what the model accepts by the same rule as the command line's."""
        from qwen_cli.engine.request import Sampling, build_request

        options: dict[str, Any] = {"temperature": self.temperature, "max_tokens": self.max_tokens}
        options["think"] = self.thinking
        for name, value in {**self.additional_kwargs, **kw}.items():
            options[_ALIASES.get(name, name)] = value
        # None: not set; streaming is the method's to say
        options = {k: v for k, v in options.items() if v is not None and k not in ("stream", "no_stream")}
        wire = {k: options.pop(k) for k in _WIRE if k in options}
        known = set(structs.field_names(Sampling))
        extra = dict(options.pop("extra", None) or {})
        extra.update({k: options.pop(k) for k in list(options) if k not in known})
        sampling = Sampling(**options, extra=extra, no_stream=not stream)
        req = build_request(self._client, catalog.lookup(self.model), convert.to_messages(messages), sampling)
        if wire:
            req = req.model_copy(update={"params": req.params.model_copy(update=wire)})
        return req

    def _whole(self, answer: ChatCompletion) -> ChatResponse:
        return convert.chat_response(answer.result, dump_json_safe(answer))

    @staticmethod
    def _piece(stream: ChatStream | AsyncChatStream, chunk: ChatCompletionChunk) -> ChatResponse:
        d = chunk.delta
        raw = dump_json_safe(chunk)
        return convert.chat_response(
            stream.result, raw, delta=d.content or "", thinking_delta=d.reasoning_content
        )

    # ------------------------------------------------------------------ sync

    @_traced("chat")
    def chat(self, messages: Sequence[ChatMessage], **kwargs: Any) -> ChatResponse:
        answer = self._client.chat.send(self._request(messages, False, kwargs))
        if isinstance(answer, ChatStream):  # a model that only streams
            with answer:
                return self._whole(answer.until_done())
        return self._whole(answer)

    @_traced("chat")
    def stream_chat(self, messages: Sequence[ChatMessage], **kwargs: Any) -> ChatResponseGen:
        req = self._request(messages, True, kwargs)

        def gen() -> ChatResponseGen:
            with self._client.chat.stream(req) as stream:
                for chunk in stream:  # a broken stream raises here, after what arrived
                    yield self._piece(stream, chunk)

        return gen()

    @_traced("completion")
    def complete(self, prompt: str, formatted: bool = False, **kwargs: Any) -> CompletionResponse:
        return convert.completion_response(self.chat(_prompt(prompt), **kwargs))

    @_traced("completion")
    def stream_complete(self, prompt: str, formatted: bool = False, **kwargs: Any) -> CompletionResponseGen:
        chats = self.stream_chat(_prompt(prompt), **kwargs)

        def gen() -> CompletionResponseGen:
            for c in chats:
                yield convert.completion_response(c)

        return gen()

    # ------------------------------------------------------------------ async

    @_traced("chat")
    async def achat(self, messages: Sequence[ChatMessage], **kwargs: Any) -> ChatResponse:
        answer = await self._client.chat.asend(self._request(messages, False, kwargs))
        if isinstance(answer, AsyncChatStream):
            async with answer:
                return self._whole(await answer.until_done())
        return self._whole(answer)

    @_traced("chat")
    async def astream_chat(self, messages: Sequence[ChatMessage], **kwargs: Any) -> ChatResponseAsyncGen:
        req = self._request(messages, True, kwargs)

        async def gen() -> ChatResponseAsyncGen:
            async with await self._client.chat.astream(req) as stream:
                async for chunk in stream:
                    yield self._piece(stream, chunk)

        return gen()

    @_traced("completion")
    async def acomplete(self, prompt: str, formatted: bool = False, **kwargs: Any) -> CompletionResponse:
        return convert.completion_response(await self.achat(_prompt(prompt), **kwargs))

    async def acreate(self, prompt: str, **kwargs: Any) -> CompletionResponse:
        """The qwen-api library's name for :meth:`acomplete`."""
        return await self.acomplete(prompt, **kwargs)

    @_traced("completion")
    async def astream_complete(
        self, prompt: str, formatted: bool = False, **kwargs: Any
    ) -> CompletionResponseAsyncGen:
        chats = await self.astream_chat(_prompt(prompt), **kwargs)

        async def gen() -> CompletionResponseAsyncGen:
            async for c in chats:
                yield convert.completion_response(c)

        return gen()

    # ------------------------------------------------------------------ tool calling

    def _prepare_chat_with_tools(
        self,
        tools: Sequence[BaseTool],
        user_msg: str | ChatMessage | None = None,
        chat_history: list[ChatMessage] | None = None,
        verbose: bool = False,
        allow_parallel_tool_calls: bool = False,
        tool_required: bool = False,
        tool_choice: str | dict[str, Any] | None = None,
        **kwargs: Any,
    ) -> dict[str, Any]:
        """The arguments of ``chat`` for a call that may use ``tools`` (OpenAI-style, with
        ``required`` inside ``parameters``); ``allow_parallel_tool_calls`` is sent as is."""
        messages = list(chat_history or [])
        if isinstance(user_msg, str):
            user_msg = ChatMessage(role=MessageRole.USER, content=user_msg)
        if user_msg is not None:
            messages.append(user_msg)
        specs = [t.metadata.to_openai_tool(skip_length_check=True) for t in tools]
        out: dict[str, Any] = {"messages": messages, **kwargs}
        if specs:
            out["tools"] = specs
            out["tool_choice"] = convert.tool_choice(tool_choice, specs, tool_required)
            out["parallel_tool_calls"] = allow_parallel_tool_calls
        return out

    def _validate_chat_with_tools_response(
        self,
        response: ChatResponse,
        tools: Sequence[BaseTool],
        allow_parallel_tool_calls: bool = False,
        **kwargs: Any,
    ) -> ChatResponse:
        """One call only when parallel calls were not allowed, whatever the server did."""
        calls = response.message.additional_kwargs.get("tool_calls")
        if not allow_parallel_tool_calls and calls and len(calls) > 1:
            response.message.additional_kwargs["tool_calls"] = calls[:1]
        return response

    def get_tool_calls_from_response(
        self, response: ChatResponse, error_on_no_tool_call: bool = True, **kwargs: Any
    ) -> list[ToolSelection]:
        selections = convert.tool_selections(response)
        if not selections and error_on_no_tool_call:
            raise ValueError(f"expected at least one tool call from {self.model}, got none")
        return selections


def _prompt(prompt: str) -> list[ChatMessage]:
    return [ChatMessage(role=MessageRole.USER, content=prompt)]


def _provider_taking(auth_token: str | None, cookie: str | None) -> str | None:
    """With no provider named: the one whose credentials ``auth_token`` and ``cookie`` are
    (chat.qwen.ai's, in the qwen-api library), or None to let the settings decide."""
    from qwen_cli.providers import PROVIDERS, provider_class

    given = {name for name, v in (("web_token", auth_token), ("cookie", cookie)) if v}
    if not given:
        return None
    for name in PROVIDERS:
        if given <= {c.setting for c in provider_class(name).credentials}:
            return name
    return None


def _client_from(flags: dict[str, Any]) -> tuple[Qwen, str]:
    """A client from the command line's settings, and the model they name."""
    from qwen_cli import config
    from qwen_cli.redact import register_secret

    s = config.resolve(flags)
    register_secret(s.api_key)
    register_secret(s.cookie)
    for warning in s.warnings:  # e.g. a credentials file others can read
        log.warning("qwen: warning: %s", warning)
    return Qwen.from_settings(s), s.model
