"""One conversation: its settings, its turns sent, shown and stored as they happen.

Shared by ``qwen chat`` (driven by the REPL or line mode) and ``qwen complete`` (one turn,
``-c`` to continue). Each turn writes the user message before asking the model and the answer
when it ends, complete, interrupted or broken off, so a killed process loses at most the answer
that was streaming.
"""

from __future__ import annotations

import contextlib
import dataclasses
import signal
import sys
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from qwen_cli.cli.answer import Answer, Output, build_request, run
from qwen_cli.cli.chat_files import ChatFiles, InlineBudget
from qwen_cli.cli.options import Ask
from qwen_cli.cli.report import notice
from qwen_cli.errors import QwenAPIError, StreamInterruptedError, UsageError

if TYPE_CHECKING:
    from qwen_cli.attachments import Attachment as Checked
    from qwen_cli.client import Qwen
    from qwen_cli.config import Settings
    from qwen_cli.conversation import Turn
    from qwen_cli.store import Attachment, Conversation, Exchange, Message, NewMessage, Store
    from qwen_cli.types import Message as WireMessage


@contextlib.contextmanager
def held_interrupts() -> Iterator[None]:
    """Ctrl-C waits until the block is done (a write must not be cut in half), then counts."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    caught: list[int] = []
    previous = signal.signal(signal.SIGINT, lambda signum, frame: caught.append(signum))
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous if previous is not None else signal.default_int_handler)
    if caught:
        raise KeyboardInterrupt


def pick_conversation(store: Store, continue_: bool, resume: str | None = None) -> Conversation | None:
    """The conversation ``-c`` (the most recent) or ``--resume ID`` names, if either was given."""
    if continue_ and resume:
        raise UsageError("give -c or --resume ID, not both", hint="-c takes the most recent conversation")
    if resume:
        return store.get(store.resolve(resume))
    if continue_:
        conv = store.latest()
        if conv is None:
            raise UsageError(
                "there is no conversation to continue yet", hint="start one with qwen chat or qwen complete"
            )
        return conv
    return None


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


@dataclass
class Prepared:
    """A turn ready to go: its files sent, every message built, nothing written yet."""

    text: str
    attachments: list[Attachment]  # references to what was sent, for the store
    turns: list[Turn]
    new: WireMessage


def in_context(ex: Exchange) -> bool:
    """Earlier turns are resent only when they got an answer with some text."""
    return ex.answer is not None and bool(ex.answer.content.strip())


class ChatSession:
    """The state of one chat; ``send`` runs one turn, the slash commands change the state."""

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
    ) -> None:
        self.client, self.settings, self.ask, self.out = client, settings, ask, out
        self.store, self.source, self.log = store, source, log and store is not None
        self.conversation = conversation
        self.exchanges: list[Exchange] = []
        self.model = ask.model or (conversation.model if conversation else None) or settings.model
        self.system = (
            ask.system if ask.system is not None else (conversation.system if conversation else None)
        )
        self.think = ask.think
        self.search = ask.search
        self.files = ChatFiles(client, settings, out)
        self._memory_ids = 0
        if conversation is not None and store is not None:
            self.exchanges = store.exchanges(conversation.id)
            if ask.system is not None and ask.system != conversation.system and self.log:
                store.update(conversation.id, system=ask.system)

    # ------------------------------------------------------------------ state

    def options(self) -> dict[str, Any]:
        """The sampling options of the next turn, as stored with each message."""
        params = self.turn_ask().params()
        return {k: v for k, v in params.items() if v is not None and not (k == "json_mode" and not v)}

    @property
    def pending(self) -> list[Checked]:
        """Files attached (``/attach``) to the next message."""
        return self.files.pending

    def turn_ask(self) -> Ask:
        return dataclasses.replace(self.ask, think=self.think, search=self.search, model=self.model)

    def new_conversation(self) -> None:
        """Start afresh; files attached for the next message stay attached."""
        self.conversation, self.exchanges = None, []

    def set_system(self, text: str | None) -> None:
        self.system = text
        if self.conversation is not None and self.log and self.store is not None:
            self.store.update(self.conversation.id, system=text, clear_system=text is None)

    # ------------------------------------------------------------------ a turn

    def send(self, text: str) -> Answer:
        """Store ``text``, ask the model with the conversation so far, show and store the answer.

        Raises the turn's error (after storing what there was) so the caller can report it.
        """
        return self.commit(self.prepare(text))

    def prepare(self, text: str) -> Prepared:
        """Everything before the first write: the attached files uploaded (all or none) and the
        messages built, earlier images read again. On error nothing is written or sent, and
        the attachments stay pending for the next try."""
        from qwen_cli.store import Attachment

        sent = self.files.upload(self.model)
        atts = [Attachment.of(s.record()) for s in sent]
        budget = self.files.budget(sent)
        new = self.files.wire(text, atts, self.model, budget, fresh=sent)
        return Prepared(text, atts, self._context(budget), new)

    def commit(self, turn: Prepared) -> Answer:
        """Write the user message (with its attachments' references), then ask and answer."""
        from qwen_cli.store import Exchange, NewMessage

        msg = NewMessage(
            "user", turn.text, model=self.model, options=self.options(), attachments=turn.attachments
        )
        user = self._save(msg)
        self.pending.clear()
        ex = Exchange(user)
        self.exchanges.append(ex)
        return self._answer(ex, turn.turns, turn.new)

    def retry(self) -> Answer:
        """Ask again for the last message; the old answer is dropped from the conversation."""
        if not self.exchanges:
            raise UsageError("nothing to retry yet", hint="send a message first")
        ex = self.exchanges[-1]
        budget = self.files.budget()
        new = self.files.wire(ex.user.content, ex.user.attachments, self.model, budget)
        turns = self._context(budget, ex)
        if ex.answer is not None:
            self._drop(ex.answer)
            ex.answer = None
        return self._answer(ex, turns, new)

    def undo(self) -> Exchange:
        """Drop the last exchange from the conversation (kept on disk, never resent)."""
        if not self.exchanges:
            raise UsageError("nothing to undo", hint="the conversation is empty")
        ex = self.exchanges.pop()
        self._drop(ex.user, *([ex.answer] if ex.answer else []))
        return ex

    def _answer(self, ex: Exchange, turns: list[Turn], new: WireMessage) -> Answer:
        from qwen_cli import attachments, catalog, conversation
        from qwen_cli.store import NewMessage

        spec = catalog.lookup(self.model)
        plan = conversation.plan(
            self.system,
            turns,
            new,
            budget=conversation.budget_for(spec.context, spec.max_output, self.ask.max_tokens),
            preamble=self.files.files_message(self.exchanges, self.model),
        )
        if plan.left_out:
            notice(
                f"note: {plan.left_out} earlier turn{'s' if plan.left_out != 1 else ''} left out to fit "
                f"{self.model}'s {spec.context:,}-token context window "
                f"(~{plan.tokens:,} prompt tokens sent)",
                color=self.out.color_err,
            )
        ask = self.turn_ask()
        req = build_request(self.client, ask, self.settings, plan.messages, model=self.model)
        req.headers.update(attachments.headers_for(plan.messages))
        ans = self._run(req)
        stopped = ans.interrupted or ans.output_closed
        status = "interrupted" if stopped else "error" if ans.error else "complete"
        msg = NewMessage(
            "assistant",
            ans.content,
            reasoning=ans.reasoning,
            model=ans.model or self.model,
            options=self.options(),
            usage=ans.usage.model_dump(mode="json", exclude_none=True) if ans.usage else None,
            elapsed=round(ans.elapsed, 3),
            first_token=round(ans.first_token_at, 3) if ans.first_token_at is not None else None,
            request_id=ans.request_id,
            response_id=ans.id,
            finish_reason=ans.finish_reason,
            status=status,
            error=_scrubbed(ans.error),
            left_out=plan.left_out,
        )
        with held_interrupts():
            ex.answer = self._save(msg)
        if ans.error is not None:
            if isinstance(ans.error, StreamInterruptedError) and self.source == "chat":
                ans.error.hint = ans.error.hint or "the partial answer above was kept; /retry asks again"
            raise ans.error
        return ans

    def _run(self, req: Any) -> Answer:
        """Stream the answer; errors before the first byte and Ctrl-C while connecting too."""
        try:
            return run(self.client, req, self.out)
        except QwenAPIError as err:
            return Answer(model=req.model, error=err, request_id=err.request_id)
        except KeyboardInterrupt:
            notice("interrupted before the answer began", color=self.out.color_err)
            return Answer(model=req.model, interrupted=True)

    # ------------------------------------------------------------------ turns as sent

    def _context(self, budget: InlineBudget, exclude: Exchange | None = None) -> list[Turn]:
        """The earlier turns to resend; the latest ones get first claim on inline image bytes."""
        exchanges = [e for e in self.exchanges if e is not exclude and in_context(e)]
        turns = [self.turn_of(e, budget) for e in reversed(exchanges)]
        turns.reverse()
        return turns

    def turn_of(self, ex: Exchange, budget: InlineBudget) -> Turn:
        from qwen_cli.conversation import Turn

        a = ex.answer
        assert a is not None
        return Turn(
            user=self.files.wire(ex.user.content, ex.user.attachments, self.model, budget),
            answer=a.content,
            prompt_tokens=a.prompt_tokens,
            answer_tokens=a.answer_tokens,
            left_out=a.left_out,
        )

    # ------------------------------------------------------------------ storing

    def _save(self, msg: NewMessage) -> Message:
        from qwen_cli.store import Message

        if not self.log or self.store is None:
            self._memory_ids += 1
            return Message(**vars(msg), id=-self._memory_ids)
        if self.conversation is None:
            self.conversation = self.store.create(
                model=self.model, system=self.system, source=self.source, options=self.options()
            )
        stored = self.store.add(self.conversation.id, msg)
        if msg.role == "user" and not self.conversation.title:
            from qwen_cli.store import make_title

            self.conversation.title = make_title(msg.content)
        return stored

    def _drop(self, *msgs: Message) -> None:
        if self.log and self.store is not None:
            self.store.drop(*(m.id for m in msgs))


def _scrubbed(err: QwenAPIError | None) -> str | None:
    if err is None:
        return None
    from qwen_cli.redact import scrub_known

    return scrub_known(err.message)


def write_out(text: str) -> None:
    """Data the user asked for (``/history``, ``/usage``, ``/help``) on stdout."""
    sys.stdout.write(text if text.endswith("\n") else text + "\n")
    sys.stdout.flush()
