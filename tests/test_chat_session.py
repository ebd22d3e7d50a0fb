"""Pieces of the chat session that need no server: interrupts held over writes, what is resent."""

from __future__ import annotations

import os
import signal

import pytest

from qwen_cli.cli.chat_session import held_interrupts, in_context
from qwen_cli.store import Exchange, Message


def test_ctrl_c_waits_for_the_write_then_counts() -> None:
    done = []
    with pytest.raises(KeyboardInterrupt), held_interrupts():
        os.kill(os.getpid(), signal.SIGINT)  # delivered at once, held until the block ends
        done.append("written")
    assert done == ["written"]
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler


def test_no_ctrl_c_no_exception() -> None:
    with held_interrupts():
        pass
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler


def msg(role: str, content: str, status: str = "complete") -> Message:
    return Message(role, content, status=status)


@pytest.mark.parametrize(
    ("answer", "resent"),
    [
        (None, False),  # the process died while the answer streamed
        (msg("assistant", "", "error"), False),  # refused before any text
        (msg("assistant", "  \n", "interrupted"), False),
        (msg("assistant", "partial", "interrupted"), True),  # Ctrl-C keeps the partial text
        (msg("assistant", "broken off", "error"), True),
        (msg("assistant", "whole"), True),
    ],
)
def test_which_turns_are_resent(answer: Message | None, resent: bool) -> None:
    assert in_context(Exchange(msg("user", "q"), answer)) is resent
