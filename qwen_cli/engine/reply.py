"""One request sent: its answer as events while it arrives, then one result.

``Reply`` is what a display consumes::

    reply = Reply(client, request)
    try:
        for event in reply:          # draw AnswerText, ReasoningText, Sources ...
            ...
    except KeyboardInterrupt:        # Ctrl-C while drawing
        if not reply.opened:
            raise                    # still connecting: nothing arrived
        stopped = True
    answer = reply.end(interrupted=stopped)

Ctrl-C while the answer is read (or while drawing it), a stream that breaks off and an error
in the middle all end the answer with what had arrived: ``end()`` returns it with
``interrupted`` or ``error`` set. An error before the first byte (a refused key, a bad model)
and Ctrl-C while connecting propagate from the iteration, before any answer exists.
"""

from __future__ import annotations

from collections.abc import Generator, Iterable, Iterator
from typing import TYPE_CHECKING

from qwen_cli.engine import events as ev
from qwen_cli.errors import QwenAPIError, StreamInterruptedError

if TYPE_CHECKING:
    from qwen_cli.client import Qwen
    from qwen_cli.types import AnswerResult, ChatRequest


class Reply:
    """Iterate once for the events; ``end()`` for the result (it closes the stream).

    ``result`` is the one :class:`~qwen_cli.types.AnswerResult` of the answer: the stream's own
    ``.result`` (filled as it is read) or the whole response's, never a copy.
    """

    def __init__(self, client: Qwen, request: ChatRequest, *, before: Iterable[ev.Event] = ()) -> None:
        from qwen_cli.types import AnswerResult

        self.client = client
        self.request = request
        self.result = AnswerResult(model=request.model)  # until the server answers
        self.opened = False  # the request reached the server and its answer is being read
        self._before = list(before)
        self._events: Generator[ev.Event, None, None] | None = None

    def __iter__(self) -> Iterator[ev.Event]:
        if self._events is None:
            self._events = self._run()
        return self._events

    def end(self, *, interrupted: bool = False, output_closed: bool = False) -> AnswerResult:
        """The answer as it ended; the stream is closed if the display stopped early."""
        if self._events is not None:
            self._events.close()
        r = self.result
        r.interrupted = r.interrupted or interrupted
        r.output_closed = r.output_closed or output_closed
        return r

    def _run(self) -> Generator[ev.Event, None, None]:
        yield from self._before
        if self.request.stream:
            yield from self._streamed()
        else:
            yield from self._whole()
        r = self.result
        if r.tool_calls and r.error is None and not r.interrupted:  # whole calls only
            for i, call in enumerate(r.tool_calls):
                yield ev.ToolCall(i, call.id or None, call.function.name, call.function.arguments)
        if r.sources:
            yield ev.Sources(list(r.sources))
        if r.usage is not None:
            yield ev.UsageReport(r.usage)
        if not r.interrupted and r.error is None:
            yield ev.Finish(r.finish_reason)

    def _streamed(self) -> Iterator[ev.Event]:
        stream = self.client.chat.stream(self.request)  # errors before the first byte propagate
        self.opened = True
        r = self.result = stream.result  # the stream accumulates into it
        try:
            for chunk in stream:
                d = chunk.delta
                if d.reasoning_content:
                    yield ev.ReasoningText(d.reasoning_content)
                if d.content:
                    yield ev.AnswerText(d.content)
        except KeyboardInterrupt:
            r.interrupted = True
        except QwenAPIError as err:
            r.error = err
        finally:
            stream.close()

    def _whole(self) -> Iterator[ev.Event]:
        self.opened = True
        try:
            completion = self.client.chat.complete(self.request)
        except KeyboardInterrupt:
            self.result.interrupted = True
            return
        except StreamInterruptedError as err:  # a whole answer read from a stream (qwen-web)
            self.result.error, self.result.content = err, err.partial
            self.result.request_id = err.request_id
            if err.partial:
                yield ev.AnswerText(err.partial)
            return
        r = self.result = completion.result
        if r.reasoning:
            yield ev.ReasoningText(r.reasoning)
        yield ev.AnswerText(r.content)


def drain(reply: Reply) -> AnswerResult:
    """A display that shows nothing: read the whole answer (Ctrl-C keeps what arrived)."""
    stopped = False
    try:
        for _ in reply:
            pass
    except KeyboardInterrupt:
        if not reply.opened:
            raise
        stopped = True
    return reply.end(interrupted=stopped)
