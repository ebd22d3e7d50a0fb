"""The conversation engine's session, shown: answers drawn on stdout, notes on stderr.

:class:`ChatSession` is :class:`qwen_cli.engine.Session` with the command's options (``ask``),
how to write (``out``) and the display; ``qwen chat`` and ``qwen complete`` use it, the slash
commands change its state.
"""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING

from qwen_cli.cli.answer import Output, show
from qwen_cli.cli.chat_files import FilesShown
from qwen_cli.cli.options import Ask
from qwen_cli.cli.report import notice
from qwen_cli.engine.session import Prepared, Session, held_interrupts, in_context, pick_conversation
from qwen_cli.errors import QwenAPIError, StreamInterruptedError

if TYPE_CHECKING:
    from qwen_cli.client import Qwen
    from qwen_cli.config import Settings
    from qwen_cli.engine.reply import Reply
    from qwen_cli.store import Conversation, Store
    from qwen_cli.types import AnswerResult

__all__ = ["ChatSession", "Prepared", "held_interrupts", "in_context", "open_log", "pick_conversation"]


@contextlib.contextmanager
def open_log(
    client: Qwen, settings: Settings, ask: Ask, out: Output, *, continue_: bool, log: bool
) -> Iterator[ChatSession]:
    """The session of one ``qwen complete``: logged unless ``log`` is false, ``-c`` continues.

    A store that cannot be opened or written only costs the log (a warning), unless the history
    is needed (``cli.storelog``).
    """
    from qwen_cli.cli.storelog import open_store

    store = open_store(needed=continue_) if log or continue_ else None
    try:
        conv = pick_conversation(store, continue_) if store is not None else None
        yield ChatSession(
            client=client,
            settings=settings,
            ask=ask,
            out=out,
            store=store,
            conversation=conv,
            source="complete",
            log=log,
        )
    finally:
        if store is not None:
            store.close()


class ChatSession(Session):
    """A session whose answers are drawn as they arrive (``out`` says how)."""

    def __init__(
        self,
        *,
        client: Qwen,
        settings: Settings,
        ask: Ask,
        out: Output,
        store: Store | None,
        conversation: Conversation | None = None,
        source: str = "chat",
        log: bool = True,
        open_store: Callable[[], Store | None] | None = None,
    ) -> None:
        self.ask, self.out = ask, out
        super().__init__(
            client=client,
            settings=settings,
            store=store,
            conversation=conversation,
            source=source,
            log=log,
            open_store=open_store,
            model=ask.model,
            system=ask.system,
            sampling=ask.sampling(),
            view=FilesShown(out),
            display=self._show,
            # the explicit cache pays off from the second turn: a chat, or `complete -c`
            cache=settings.cache_control
            and not ask.no_cache_control
            and (source == "chat" or conversation is not None),
        )

    def _show(self, reply: Reply) -> AnswerResult:
        try:
            return show(reply, self.out, in_chat=self.source == "chat")
        except KeyboardInterrupt:
            if not reply.opened:
                notice("interrupted before the answer began", color=self.out.color_err)
            raise

    def commit(self, turn: Prepared) -> AnswerResult:
        with self._retry_hint():
            return super().commit(turn)

    def retry(self) -> AnswerResult:
        with self._retry_hint():
            return super().retry()

    @contextlib.contextmanager
    def _retry_hint(self) -> Iterator[None]:
        """In a chat, an answer that broke off can be asked for again."""
        try:
            yield
        except StreamInterruptedError as err:
            if self.source == "chat" and not err.hint:
                raise err.evolve(hint="the partial answer above was kept; /retry asks again") from err
            raise
        except QwenAPIError as err:
            if self.refused is not None:
                kept = self.conversation is not None and self.model != self.refused
                raise err.evolve(hint=refused_hint(self.model, kept=kept)) from err
            raise


def refused_hint(model: str, *, kept: bool) -> str:
    """What to do when the server refused the model (a mistyped ``-m`` or ``/model``)."""
    stays = f"; this conversation stays on {model}" if kept else ""
    return f"`qwen models` lists the models: pick one with /model NAME in a chat, or -m NAME{stays}"


def attach_all(session: ChatSession, paths: list[str] | None) -> None:
    """``-a FILE`` (repeatable): each file checked now, as ``/attach`` checks it, to go with the
    next message. Without ``-m`` the model becomes one that can take them, as ``qwen upload`` picks."""
    if not paths:
        return
    from qwen_cli import attachments

    for path in paths:
        session.files.add(path)
    other = session.files.other_model(session.model)
    if other is None:
        return
    if session.ask.model is not None:  # -m chose this model: refused before anything is sent
        vision = session.settings.vision_model
        attachments.check_model(session.model, session.pending, vision_model=vision, switch="-m")
    session.model = other


def write_out(text: str) -> None:
    """Data the user asked for (``/history``, ``/usage``, ``/help``) on stdout."""
    from qwen_cli.safetext import shown

    sys.stdout.write(shown(text if text.endswith("\n") else text + "\n", sys.stdout))
    sys.stdout.flush()
