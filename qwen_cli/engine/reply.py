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

import time
from collections.abc import Generator, Iterable, Iterator
from typing import TYPE_CHECKING

from qwen_cli.engine import events as ev
from qwen_cli.engine.result import Answer, absorb
from qwen_cli.errors import QwenAPIError, StreamInterruptedError

if TYPE_CHECKING:
    from qwen_cli.client import Qwen
    from qwen_cli.types import ChatRequest


class Reply:
    """Iterate once for the events; ``end()`` for the result (it closes the stream)."""

    def __init__(self, client: Qwen, request: ChatRequest, *, before: Iterable[ev.Event] = ()) -> None:
        self.client = client
        self.request = request
        self.answer = Answer(model=request.model)
        self.opened = False  # the request reached the server and its answer is being read
        self._before = list(before)
        self._events: Generator[ev.Event, None, None] | None = None
        self._start: float | None = None

    def __iter__(self) -> Iterator[ev.Event]:
        if self._events is None:
            self._events = self._run()
        return self._events

    def end(self, *, interrupted: bool = False, output_closed: bool = False) -> Answer:
        """The answer as it ended; the stream is closed if the display stopped early."""
        if self._events is not None:
            self._events.close()
        ans = self.answer
        ans.interrupted = ans.interrupted or interrupted
        ans.output_closed = ans.output_closed or output_closed
        if self._start is not None:
            ans.elapsed = time.monotonic() - self._start
        return ans

    def _run(self) -> Generator[ev.Event, None, None]:
        yield from self._before
        self._start = time.monotonic()
        if self.request.stream:
            yield from self._streamed()
        else:
            yield from self._whole()
        ans = self.answer
        if ans.sources:
            from qwen_cli.types import SearchSource

            yield ev.Sources([SearchSource.model_validate(s) for s in ans.sources])
        if ans.usage is not None:
            yield ev.UsageReport(ans.usage)
        if not ans.interrupted and ans.error is None:
            yield ev.Finish(ans.finish_reason)

    def _streamed(self) -> Iterator[ev.Event]:
        ans, start = self.answer, self._start or time.monotonic()
        stream = self.client.chat.stream(self.request)  # errors before the first byte propagate
        self.opened = True
        try:
            for chunk in stream:
                d = chunk.delta
                if ans.first_token_at is None and (d.content or d.reasoning_content):
                    ans.first_token_at = time.monotonic() - start
                if d.reasoning_content:
                    yield ev.ReasoningText(d.reasoning_content)
                if d.content:
                    yield ev.AnswerText(d.content)
        except KeyboardInterrupt:
            ans.interrupted = True
        except QwenAPIError as err:
            ans.error = err
        finally:
            stream.close()
            absorb(ans, stream.completion())

    def _whole(self) -> Iterator[ev.Event]:
        ans = self.answer
        self.opened = True
        try:
            completion = self.client.chat.complete(self.request)
        except KeyboardInterrupt:
            ans.interrupted = True
            return
        except StreamInterruptedError as err:  # a whole answer read from a stream (qwen-web)
            ans.error, ans.content = err, err.partial
            if err.partial:
                yield ev.AnswerText(err.partial)
            return
        absorb(ans, completion)
        if completion.reasoning:
            yield ev.ReasoningText(completion.reasoning)
        yield ev.AnswerText(completion.content)


def drain(reply: Reply) -> Answer:
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
