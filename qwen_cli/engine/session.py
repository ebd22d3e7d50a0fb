"""One conversation: its state, its turns built, sent and stored as they happen.

Shared by ``qwen chat`` (driven by the REPL or line mode) and ``qwen complete`` (one turn,
``-c`` to continue). Each turn writes the user message before asking the model and the answer
when it ends, complete, interrupted or broken off, so a killed process loses at most the answer
that was streaming. The answer is shown by the ``display`` the session is given: it consumes
the :class:`~qwen_cli.engine.reply.Reply` (events, then the result); the default shows nothing.

Per turn the model's facts are looked up once; a conversation without files never touches the
attachment or upload code.
"""

from __future__ import annotations

import contextlib
import re
import signal
import threading
from collections.abc import Callable, Iterator, Sequence
from typing import TYPE_CHECKING, Any

from qwen_cli import structs
from qwen_cli.engine.files import ChatFiles, FileView, has_files
from qwen_cli.engine.request import Sampling
from qwen_cli.errors import QwenAPIError, UsageError
from qwen_cli.structs import struct

if TYPE_CHECKING:
    from qwen_cli.attachments import Attachment as Checked
    from qwen_cli.catalog import ModelSpec
    from qwen_cli.client import Qwen
    from qwen_cli.config import Settings
    from qwen_cli.conversation import Turn
    from qwen_cli.engine.files import InlineBudget
    from qwen_cli.engine.reply import Reply
    from qwen_cli.engine.tools import Toolbox
    from qwen_cli.store import Attachment, Conversation, Exchange, Message, NewMessage, Store
    from qwen_cli.store.fragments import Fragment
    from qwen_cli.types import AnswerResult
    from qwen_cli.types import Message as WireMessage

Display = Callable[["Reply"], "AnswerResult"]

# What ``/continue`` sends: the model sees its own cut answer just before it.
CONTINUE_TEXT = "Continue exactly where your last answer stopped, without repeating what you already wrote."


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


_NO_SUCH_MODEL = re.compile(
    r"model\b.*\b(not exist|not found|is unknown)|(unknown|invalid) model",
    re.IGNORECASE | re.DOTALL,
)


def refuses_model(message: str | None, code: str | None = None) -> bool:
    """Whether an error (its stored text, or its server code) says the model is not one the
    server serves: ``model_not_found``, "The model `x` does not exist ...", "Model not exist."."""
    if (code or "").lower() == "model_not_found":
        return True
    return bool(message) and _NO_SUCH_MODEL.search(message or "") is not None


def model_refused(err: QwenAPIError) -> bool:
    """A request refused because of its model (404 or 400, not a path or a key problem)."""
    from qwen_cli.errors import APIStatusError

    if not isinstance(err, APIStatusError) or err.status_code not in (400, 404):
        return False
    return refuses_model(err.message, err.code)


def working_model(
    conversation: Conversation | None, exchanges: Sequence[Exchange], refused: str | None = None
) -> str | None:
    """The model a conversation goes on with: the latest one the server did not refuse.

    A mistyped ``/model`` must not stick: on resuming, and after a refused turn, the
    conversation is back on the last model that was not refused (``None``: the default)."""
    bad = {refused} if refused else set()
    for ex in reversed(exchanges):
        a = ex.answer
        if a is not None and a.error and refuses_model(a.error):
            bad.add(ex.user.model or "")
            continue
        if ex.user.model and ex.user.model not in bad:
            return ex.user.model
    return None if bad or conversation is None else conversation.model


def in_context(ex: Exchange) -> bool:
    """Earlier turns are resent only when they got an answer with some text."""
    return ex.answer is not None and bool(ex.answer.content.strip())


@struct
class Prepared:
    """A turn ready to go: its files sent, every message built, nothing written yet."""

    text: str
    attachments: list[Attachment]  # references to what was sent, for the store
    turns: list[Turn]
    new: WireMessage
    spec: ModelSpec  # the model's facts, looked up once for the turn
    files: bool = False  # the conversation carries files: headers and fileid:// may apply
    fragments: list[Fragment] = structs.field(default_factory=list)  # -f, sent before the text


class Session:
    """The state of one conversation; ``send`` runs one turn, the slash commands change the state."""

    def __init__(
        self,
        *,
        client: Qwen,
        settings: Settings,
        store: Store | None,
        conversation: Conversation | None = None,
        source: str = "chat",
        log: bool = True,
        model: str | None = None,
        system: str | None = None,
        sampling: Sampling | None = None,
        view: FileView | None = None,
        display: Display | None = None,
        cache: bool = False,
        tools: Toolbox | None = None,
        open_store: Callable[[], Store | None] | None = None,
    ) -> None:
        """``display`` consumes each reply (the default, :func:`~qwen_cli.engine.reply.drain`,
        shows nothing). Without a ``store``, ``open_store`` opens one when the first message is
        stored (a new conversation need not pay for SQLite before it is written to)."""
        if display is None:
            from qwen_cli.engine.reply import drain

            display = drain
        self.client, self.settings, self.display = client, settings, display
        self.tools = tools  # offered with every turn; calls run (once approved) until an answer
        self._store, self._open_store = store, open_store if store is None else None
        self.source, self.log = source, log and (store is not None or self._open_store is not None)
        self.conversation = conversation
        self.exchanges: list[Exchange] = []
        self.sampling = sampling or Sampling()
        self.system = system if system is not None else (conversation.system if conversation else None)
        self.think = self.sampling.think
        self.think_budget = self.sampling.thinking_budget
        self.search = self.sampling.search
        self.cache = cache  # mark the prefix for the explicit cache where the model has one
        self._warned: set[str] = set()  # models already warned about (once each)
        self.files = ChatFiles(client, settings, view)
        self._memory_ids = 0
        self.fragments: list[Fragment] = []  # -f texts for the next message, in the order sent
        self.refused: str | None = None  # the model the server just refused, the turn it did
        if conversation is not None and store is not None:
            self.exchanges = store.exchanges(conversation.id)
            if system is not None and system != conversation.system and self.log:
                store.update(conversation.id, system=system)
        # -m wins over the conversation's model; a model the server refused is never resumed
        self.model = model or working_model(conversation, self.exchanges) or settings.model

    @property
    def store(self) -> Store | None:
        """The store, opened now if it was to be opened on first use; ``None`` (and nothing
        logged from then on) when there is none or it could not be opened."""
        if self._open_store is not None:
            opener, self._open_store = self._open_store, None
            self._store = opener()
            self.log = self.log and self._store is not None
        return self._store

    # ------------------------------------------------------------------ state

    def turn_sampling(self) -> Sampling:
        """The sampling options of the next turn (``/think`` and ``/search`` included)."""
        return structs.replace(
            self.sampling, think=self.think, thinking_budget=self.think_budget, search=self.search
        )

    def options(self) -> dict[str, Any]:
        """The sampling options of the next turn, as stored with each message."""
        return self.turn_sampling().stored()

    @property
    def pending(self) -> list[Checked]:
        """Files attached (``/attach``) to the next message."""
        return self.files.pending

    def new_conversation(self) -> None:
        """Start afresh; files attached for the next message stay attached."""
        self.conversation, self.exchanges = None, []

    def set_system(self, text: str | None) -> None:
        self.system = text
        if self.conversation is not None and self.log and self.store is not None:
            self.store.update(self.conversation.id, system=text, clear_system=text is None)

    def _with_files(self) -> bool:
        return bool(self.files.pending) or has_files(self.exchanges)

    # ------------------------------------------------------------------ a turn

    def send(self, text: str) -> AnswerResult:
        """Store ``text``, ask the model with the conversation so far, show and store the answer.

        Raises the turn's error (after storing what there was) so the caller can report it.
        """
        return self.commit(self.prepare(text))

    def prepare(self, text: str) -> Prepared:
        """Everything before the first write: the attached files uploaded (all or none) and the
        messages built, earlier images read again. On error nothing is written or sent, and
        the attachments stay pending for the next try."""
        from qwen_cli import catalog
        from qwen_cli.engine.request import thinking_note

        spec = catalog.lookup(self.model)
        thinking_note(spec, self.turn_sampling())  # a budget the model cannot use: nothing written
        frags, sent_text = list(self.fragments), with_fragments(text, self.fragments)
        if not self._with_files():
            from qwen_cli.types import Message as Wire

            new = Wire(role="user", content=sent_text)
            return Prepared(text, [], self._context(spec, None), new, spec, fragments=frags)
        from qwen_cli.store import Attachment

        sent = self.files.upload(self.model)
        atts = [Attachment.of(s.record()) for s in sent]
        budget = self.files.budget(sent)
        new = self.files.wire(sent_text, atts, spec, budget, fresh=sent)
        return Prepared(text, atts, self._context(spec, budget), new, spec, files=True, fragments=frags)

    def commit(self, turn: Prepared) -> AnswerResult:
        """Write the user message (with its attachments' references), then ask and answer."""
        from qwen_cli.store import Exchange, NewMessage

        msg = NewMessage(
            "user", turn.text, model=self.model, options=self.options(), attachments=turn.attachments
        )
        msg.fragments = turn.fragments
        user = self._save(msg)
        self.pending.clear()
        self.fragments = []
        ex = Exchange(user)
        self.exchanges.append(ex)
        return self._answer(ex, turn)

    def retry(self) -> AnswerResult:
        """Ask again for the last message; the old answer (with its turn's tool steps) is dropped."""
        from qwen_cli import catalog

        if not self.exchanges:
            raise UsageError("nothing to retry yet", hint="send a message first")
        from qwen_cli.engine.request import thinking_note

        ex = self.exchanges[-1]
        spec = catalog.lookup(self.model)
        thinking_note(spec, self.turn_sampling())
        if has_files(self.exchanges):
            budget = self.files.budget()
            new = self.files.wire(sent_text(ex.user), ex.user.attachments, spec, budget)
            turn = Prepared(ex.user.content, [], self._context(spec, budget, ex), new, spec, files=True)
        else:
            from qwen_cli.types import Message as Wire

            new = Wire(role="user", content=sent_text(ex.user))
            turn = Prepared(ex.user.content, [], self._context(spec, None, ex), new, spec)
        self._drop(*ex.steps, *([ex.answer] if ex.answer else []))
        ex.steps, ex.answer = [], None
        return self._answer(ex, turn)

    def continue_answer(self) -> AnswerResult:
        """Ask the model to go on from where its last answer stopped (cut at the token limit,
        stopped, interrupted): a normal turn whose message is :data:`CONTINUE_TEXT`, so the
        continuation follows the cut answer in the conversation and both are resent later."""
        if not self.exchanges:
            raise UsageError("there is no answer to continue yet", hint="send a message first")
        if not in_context(self.exchanges[-1]):
            raise UsageError("the last answer has no text to continue from", hint="/retry asks for it again")
        return self.send(CONTINUE_TEXT)

    def undo(self) -> Exchange:
        """Drop the last exchange, every message of the turn, from the conversation (kept on disk,
        never resent)."""
        if not self.exchanges:
            raise UsageError("nothing to undo", hint="the conversation is empty")
        ex = self.exchanges.pop()
        self._drop(ex.user, *ex.steps, *([ex.answer] if ex.answer else []))
        return ex

    def _answer(self, ex: Exchange, turn: Prepared) -> AnswerResult:
        """Fit the turn into the model's input limit, send it through the display, store the answer."""
        from qwen_cli import catalog, conversation
        from qwen_cli.engine.events import Event, Notice, Trimmed
        from qwen_cli.engine.request import build_request, thinking_note
        from qwen_cli.store import NewMessage
        from qwen_cli.types import AnswerResult

        spec = turn.spec
        budget = conversation.budget_for(
            spec.context, spec.max_output, self.sampling.max_tokens, input_limit=spec.input_limit
        )
        preamble = self.files.files_message(self.exchanges, spec) if turn.files else []
        plan = conversation.plan(self.system, turn.turns, turn.new, budget=budget, preamble=preamble)
        before: list[Event] = []
        sampling = self.turn_sampling()
        note = thinking_note(spec, sampling)
        if note is not None and spec.id not in self._warned:
            self._warned.add(spec.id)
            before.append(Notice(note))
        tools_note = self.tools.note(spec) if self.tools is not None else None
        if tools_note is not None and f"tools:{spec.id}" not in self._warned:
            self._warned.add(f"tools:{spec.id}")
            before.append(Notice(tools_note))
        if plan.left_out:
            before.append(
                Trimmed(spec.id, plan.left_out, plan.tokens, budget, spec.context, spec.input_limit)
            )
        cache = self.cache and catalog.explicit_cache(spec.id, self.settings.dashscope_region)
        messages, rounds = plan.messages, 0
        while True:
            req = build_request(self.client, spec, messages, sampling, cache=cache)
            if self.tools is not None:
                req = self.tools.offered(req, rounds)
            options = self.options() | ({"cache_control": True} if req.cache_marked else {})
            if turn.files:
                from qwen_cli import attachments

                req.headers.update(attachments.headers_for(plan.messages))
            from qwen_cli.engine.reply import Reply

            reply = Reply(self.client, req, before=before)
            before = []
            try:
                ans = self.display(reply)
            except QwenAPIError as err:  # before the first byte
                ans = AnswerResult(model=req.model, error=err, request_id=err.request_id)
            except KeyboardInterrupt:  # while connecting (or while the display ended): keep what came
                ans = reply.end(interrupted=True)
            msg = NewMessage.of_result(
                ans, error=_scrubbed(ans.error), model=self.model, options=options, left_out=plan.left_out
            )
            if self._calls_tools(ans, rounds):
                messages = [*messages, *self._run_tools(ex, msg, ans)]
                rounds += 1
                continue
            break
        with held_interrupts():
            ex.answer = self._save(msg)
            self.refused = None
            if ans.error is not None and model_refused(ans.error):
                self._refused(self.model)
        if ans.error is not None:
            raise ans.error
        return ans

    def _calls_tools(self, ans: AnswerResult, rounds: int) -> bool:
        """The answer asks for tools this session runs (and the rounds allowed are not used up)."""
        t = self.tools
        complete = ans.error is None and not ans.interrupted
        return t is not None and complete and bool(ans.tool_calls) and rounds < t.max_rounds

    def _run_tools(self, ex: Exchange, msg: NewMessage, ans: AnswerResult) -> list[WireMessage]:
        """Store the answer that made the calls as a step, answer each call (asking first), store
        each result as a step; the messages to send next. Ctrl-C keeps the steps stored so far."""
        from qwen_cli.engine.tools import step_message
        from qwen_cli.store import NewMessage

        assert self.tools is not None
        with held_interrupts():
            ex.steps.append(self._save(msg))
        sent = [step_message(ex.steps[-1])]
        for i, call in enumerate(ans.tool_calls):
            content = self.tools.answer(i, call)
            result = NewMessage("tool", content, model=self.model, tool_call_id=call.id)
            with held_interrupts():
                ex.steps.append(self._save(result))
            sent.append(step_message(ex.steps[-1]))
        return sent

    def _refused(self, model: str) -> None:
        """The server refused ``model``: the conversation goes back to the last one it took."""
        self.refused = model
        default = self.settings.model if self.settings.model != model else None  # -m: the refused one
        self.model = working_model(self.conversation, self.exchanges, model) or default or model
        if self.model == model:  # nothing to go back to: a resumed conversation takes the default
            return
        if self.conversation is not None and self.log and self.store is not None:
            self.store.update(self.conversation.id, model=self.model)
            self.conversation.model = self.model

    # ------------------------------------------------------------------ turns as sent

    def _context(
        self, spec: ModelSpec, budget: InlineBudget | None, exclude: Exchange | None = None
    ) -> list[Turn]:
        """The earlier turns to resend; the latest ones get first claim on inline image bytes."""
        exchanges = [e for e in self.exchanges if e is not exclude and in_context(e)]
        turns = [self.turn_of(e, spec, budget) for e in reversed(exchanges)]
        turns.reverse()
        return turns

    def turn_of(self, ex: Exchange, spec: ModelSpec, budget: InlineBudget | None) -> Turn:
        """An earlier exchange as it is sent again (``budget`` is None: no files in the conversation)."""
        from qwen_cli.conversation import Turn

        a = ex.answer
        assert a is not None
        if budget is None or not ex.user.attachments:
            from qwen_cli.types import Message as Wire

            user = Wire(role="user", content=sent_text(ex.user))
        else:
            user = self.files.wire(sent_text(ex.user), ex.user.attachments, spec, budget)
        from qwen_cli.engine.tools import step_message

        return Turn(
            user=user,
            answer=a.content,
            prompt_tokens=a.prompt_tokens,
            answer_tokens=a.answer_tokens,
            left_out=a.left_out,
            steps=tuple(step_message(m) for m in ex.steps),
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


def with_fragments(text: str, fragments: Sequence[Fragment]) -> str:
    """The user message as sent: the fragments (``-f``) first, then ``text``."""
    if not fragments:
        return text
    from qwen_cli.fragments import compose

    return compose(text, fragments)


def sent_text(msg: Message) -> str:
    """A stored user message as it was sent, its fragments' texts built again from the store."""
    return with_fragments(msg.content, msg.fragments)


def _scrubbed(err: QwenAPIError | None) -> str | None:
    if err is None:
        return None
    from qwen_cli.redact import scrub_known

    return scrub_known(err.message)
