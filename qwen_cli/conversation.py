"""The messages of one turn, fitted into what the model accepts. Pure: no I/O.

A turn sends the system prompt, the earlier turns (user message, the tool calls and results
that led to the answer, the answer text, never the reasoning) and the new message. When that
would not fit in ``input limit - room for the answer`` tokens (the input limit is the context
window unless the model accepts less), the oldest turns are left out, never the system prompt
or the new message, and :class:`Plan` says how many. Messages that must go with every turn (qwen-long's
``fileid://`` system message) follow the system prompt and are never left out either.

Sizes come from the server where it reported them, from an estimate otherwise:

* the latest earlier turn whose request reported ``prompt_tokens`` anchors the count: its
  prompt as it was sent is exactly that many tokens; its answer is its ``completion_tokens``
  less reasoning tokens; turns after it, and turns added or removed at the front compared with
  that request, are estimated;
* the estimate (:func:`estimate_tokens`): one token per CJK character (Chinese, Japanese,
  Korean, full-width forms), one per four other characters, rounded up, plus 4 per message
  for the role and separators, plus 1,280 per image (Qwen-VL's default image size). Qwen's
  tokenizer packs about 1.5 CJK characters into a token, so CJK text is over-counted: the
  estimate errs towards leaving out a turn early rather than being refused by the server.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from itertools import accumulate

from qwen_cli.structs import struct
from qwen_cli.types import ImagePart, Message

MESSAGE_OVERHEAD = 4
IMAGE_TOKENS = 1_280
_CJK = re.compile(
    "[\u2e80-\u2fff\u3000-\u303f\u3040-\u30ff\u3100-\u31ff\u3400-\u4dbf\u4e00-\u9fff"
    "\uac00-\ud7af\uf900-\ufaff\uff00-\uffef\U00020000-\U0003134f]"
)


def estimate_tokens(text: str) -> int:
    """A deliberately generous token count for ``text`` (see the module docstring)."""
    cjk = len(_CJK.findall(text))
    return cjk + -(-(len(text) - cjk) // 4)


def message_tokens(m: Message) -> int:
    images = 0 if isinstance(m.content, str) else sum(isinstance(p, ImagePart) for p in m.content)
    calls = sum(estimate_tokens(c.function.name + c.function.arguments) for c in m.tool_calls or ())
    return MESSAGE_OVERHEAD + estimate_tokens(m.text) + IMAGE_TOKENS * images + calls


@struct(frozen=True)
class Turn:
    """One earlier exchange, with what the server said about the request that produced it."""

    user: Message
    answer: str
    prompt_tokens: int | None = None  # the request's prompt as the server counted it
    answer_tokens: int | None = None  # completion tokens without reasoning
    left_out: int | None = None  # earlier turns that request left out
    steps: tuple[Message, ...] = ()  # tool calls and their results, between the user message and the answer

    def answer_message(self) -> Message:
        return Message(role="assistant", content=self.answer)

    def answer_size(self) -> int:
        if self.answer_tokens is not None:
            return MESSAGE_OVERHEAD + self.answer_tokens
        return MESSAGE_OVERHEAD + estimate_tokens(self.answer)

    def size(self) -> int:
        steps = sum(message_tokens(m) for m in self.steps)
        return message_tokens(self.user) + steps + self.answer_size()


@struct(frozen=True)
class Plan:
    messages: list[Message]
    left_out: int  # oldest turns not sent
    tokens: int  # the prompt's size as estimated
    budget: int  # the most prompt tokens allowed
    measured: bool  # the size is anchored on a count the server reported


def budget_for(
    context: int, max_output: int, max_tokens: int | None = None, *, input_limit: int | None = None
) -> int:
    """Prompt tokens allowed: the model's input limit (the window, when it has none smaller)
    less room for the answer.

    The room is ``--max-tokens`` when given, else the model's maximum output capped at a
    quarter of the window.
    """
    room = max_tokens if max_tokens else min(max_output, context // 4)
    return max(1, (input_limit or context) - room)


def plan(
    system: str | None,
    turns: Sequence[Turn],
    new: Message,
    *,
    budget: int,
    preamble: Sequence[Message] = (),
) -> Plan:
    """The messages to send: as many of the latest ``turns`` as fit in ``budget``.

    ``preamble`` goes right after the system prompt and, like it, is never left out (the
    ``fileid://`` system message of a conversation about documents).
    """
    head = [Message(role="system", content=system)] if system else []
    head += preamble
    sizes = [t.size() for t in turns]
    before = [0, *accumulate(sizes)]  # before[i]: size of turns[:i]
    n = len(turns)
    anchor = next(
        (
            k
            for k in range(n - 1, -1, -1)
            if turns[k].prompt_tokens is not None and turns[k].left_out is not None
        ),
        None,
    )
    fixed = sum(message_tokens(m) for m in head) + message_tokens(new)

    def size(start: int) -> tuple[int, bool]:
        if anchor is not None and anchor >= start:
            t = turns[anchor]
            sent_from = min(t.left_out or 0, anchor)
            assert t.prompt_tokens is not None
            # that request's prompt, plus or minus the turns at the front, its answer, the rest
            total = t.prompt_tokens + (before[sent_from] - before[start]) + t.answer_size()
            total += before[n] - before[anchor + 1] + message_tokens(new)
            return total, True
        return fixed + before[n] - before[start], False

    start = 0
    tokens, measured = size(0)
    while start < n and tokens > budget:
        start += 1
        tokens, measured = size(start)
    messages = list(head)
    for t in turns[start:]:
        messages += [t.user, *t.steps, t.answer_message()]
    messages.append(new)
    return Plan(messages, start, tokens, budget, measured)
