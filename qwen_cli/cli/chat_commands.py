"""The slash commands of ``qwen chat``: each a small function over the ChatSession.

Answers to questions (``/help``, ``/history``, ``/usage``, ``/system`` with no text) are data
and go to stdout; confirmations of a change go to stderr.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from qwen_cli import structs
from qwen_cli.cli import schema_options
from qwen_cli.cli.chat_session import ChatSession, write_out
from qwen_cli.cli.report import notice
from qwen_cli.errors import UsageError
from qwen_cli.repl import Command

if TYPE_CHECKING:
    from qwen_cli.store import Exchange, Message
    from qwen_cli.types import Usage


def _on_off(name: str, arg: str, current: bool | None) -> bool | None:
    """``on``/``off`` to a bool; no argument: ``None`` (show the state)."""
    word = arg.lower()
    if not word:
        return None
    if word in ("on", "yes", "true", "1"):
        return True
    if word in ("off", "no", "false", "0"):
        return False
    raise UsageError(f"/{name} takes on or off, not {arg!r}", hint=f"/{name} on  or  /{name} off")


def plural(n: int, word: str) -> str:
    """``1 turn``, ``2 turns``."""
    return f"{n:,} {word}{'' if n == 1 else 's'}"


def models_used(exchanges: list[Exchange], current: str) -> list[str]:
    """Every model the turns were asked of (one the server refused is not one it used)."""
    from qwen_cli.engine.session import refuses_model

    used = [
        ex.user.model
        for ex in exchanges
        if ex.user.model
        and not (ex.answer is not None and ex.answer.error and refuses_model(ex.answer.error))
    ]
    return list(dict.fromkeys(used)) or [current]


def write_info(text: str) -> None:
    """What ``/history`` and ``/usage`` answer: on stdout at a terminal; with stdout in a pipe or a
    file, on stderr, so the answers there are not mixed with it."""
    import sys

    from qwen_cli.cli.chat_session import write_out

    if sys.stdout.isatty():
        write_out(text)
        return
    from qwen_cli.safetext import shown

    sys.stderr.write(shown(text if text.endswith("\n") else text + "\n", sys.stderr))
    sys.stderr.flush()


def one_line(text: str, width: int = 90) -> str:
    line = " ".join(text.split())
    return line if len(line) <= width else line[: width - 1] + "…"


def history_lines(exchanges: list[Exchange], start: int = 1, width: int | None = None) -> list[str]:
    """The turns so far, one or two lines each, cut to the terminal's width."""
    import shutil

    from qwen_cli.transcript import status_note

    cols = width or shutil.get_terminal_size((100, 24)).columns
    lines = []
    for n, ex in enumerate(exchanges, start):
        files = "".join(
            f" [{'image' if a.is_image else 'file'} {Path(a.path).name}]" for a in ex.user.attachments
        )
        head = f"{n:>3}. you: "
        lines.append(head + one_line(ex.user.content, max(20, cols - len(head) - len(files) - 1)) + files)
        a = ex.answer
        if a is None:
            lines.append("     (no answer stored)")
            continue
        note = f" ({status_note(a)})" if status_note(a) else ""
        head = f"     {a.model or 'assistant'}: "
        said = a.content or " ".join(f"[tool call {c.function.name or '?'}]" for c in a.tool_calls or ())
        text = one_line(said, max(20, cols - len(head) - len(note) - 1)) if said else ""
        lines.append(head + text + note)
    return lines


def usage_line(s: ChatSession) -> str:
    from qwen_cli.cli.answer import cost_text

    answers = [ex.answer for ex in s.exchanges if ex.answer is not None]
    known = [a for a in answers if a.usage]
    p = sum(a.prompt_tokens or 0 for a in known)
    c = sum(a.completion_tokens or 0 for a in known)
    total = sum(int((a.usage or {}).get("total_tokens") or 0) for a in known)
    reasoning = sum(
        int(((a.usage or {}).get("completion_tokens_details") or {}).get("reasoning_tokens") or 0)
        for a in known
    )
    parts = [plural(len(s.exchanges), "turn"), f"{p:,} in", f"{c:,} out"]
    parts.append(f"{total:,} total")
    if reasoning:
        parts.append(f"reasoning {reasoning:,}")
    counts = [_usage(a.usage) for a in known]
    cached = sum(u.cached_tokens or 0 for u in counts)
    written = sum(u.cache_creation_tokens or 0 for u in counts)
    if cached:
        parts.append(f"cached {cached:,}")
    if written:
        parts.append(f"cache write {written:,}")
    cost = cost_text(
        [
            (a.model or s.model, u, bool(a.options.get("cache_control")))
            for a, u in zip(known, counts, strict=True)
        ],
        s.out.price_region,
    )
    if cost is not None and known:
        parts.append(cost)
    if len(known) < len(answers):
        missing = len(answers) - len(known)
        parts.append(f"{plural(missing, 'answer')} without usage reported")
    return " · ".join(parts)


def _usage(data: dict[str, Any] | None) -> Usage:
    """A stored usage object; one we cannot read counts as nothing reported."""
    from qwen_cli.record import ValidationError
    from qwen_cli.types import Usage

    try:
        return Usage.model_validate(data or {})
    except ValidationError:
        return Usage()


def all_messages(s: ChatSession) -> list[Message]:
    return [m for ex in s.exchanges for m in ex.messages()]


def build(
    s: ChatSession, help_lines: Callable[[], list[str]], redraft: Callable[[str], None] | None = None
) -> list[Command]:
    """The commands, bound to session ``s``; ``redraft`` puts text back at the prompt (a terminal)."""
    color = s.out.color_err

    def say(text: str) -> None:
        notice(text, color=color, style="dim")

    def help_(arg: str) -> None:
        write_out("\n".join(help_lines()))

    def new(arg: str) -> None:
        s.new_conversation()
        say(f"new conversation with {s.model} (the last one is kept: qwen history)")
        if s.pending:
            n = len(s.pending)
            files = "1 attached file still goes" if n == 1 else f"{n} attached files still go"
            say(f"{files} with your next message")

    def model(arg: str) -> None:
        from qwen_cli import catalog

        if not arg:
            write_out(s.model)
            return
        from qwen_cli import aliases

        arg = aliases.resolve_name(arg, s.settings.config_dir)  # an alias works here too
        s.model = arg
        spec = catalog.lookup(arg)
        known = "" if spec.known else ", not in the catalogue: assuming a 32K window"
        say(f"model: {arg} ({spec.context:,}-token context{known})")

    def system(arg: str) -> None:
        if not arg:
            write_out(s.system if s.system else "(no system prompt)")
            return
        s.set_system(None if arg == "-" else arg)
        say("system prompt cleared" if arg == "-" else "system prompt set for the next turns")

    def think(arg: str) -> None:
        from qwen_cli import catalog
        from qwen_cli.engine.request import Sampling, thinking_note

        if arg.strip().lstrip("+-").isdigit():  # /think N: a budget, which turns thinking on
            budget = int(arg)
            if budget < 1:
                raise UsageError(f"/think takes a positive budget, not {arg}", hint="/think 2000")
            thinking_note(catalog.lookup(s.model), Sampling(thinking_budget=budget))  # refused if it cannot
            s.think, s.think_budget = True, budget
            say(f"thinking on, at most {budget:,} tokens")
            return
        value = _on_off("think", arg, s.think)
        if value is None:
            state = {True: "on", False: "off", None: "the model's default"}[s.think]
            limit = f" (budget {s.think_budget:,} tokens)" if s.think and s.think_budget else ""
            write_out(f"thinking: {state}{limit}")
            return
        s.think, s.think_budget = value, None
        say(f"thinking {'on' if value else 'off'}")

    def search(arg: str) -> None:
        value = _on_off("search", arg, s.search)
        if value is None:
            write_out(f"web search: {'on' if s.search else 'off'}")
            return
        s.search = value
        say(f"web search {'on' if value else 'off'}")

    def attach(arg: str) -> None:
        from qwen_cli.cli.chat_files import ATTACH_HINT

        if not arg:
            if not s.pending:
                raise UsageError("/attach needs a file", hint=f"{ATTACH_HINT} (Tab completes paths)")
            write_out("\n".join(a.describe() for a in s.pending))
            return
        if arg == "-":
            n = len(s.pending)
            s.pending.clear()
            say(f"dropped {n} attachment{'s' if n != 1 else ''}" if n else "nothing was attached")
            return
        att, via = s.files.add(arg)
        how = {
            "inline": "",
            "oss": ", through the temporary upload (too large to go inline)",
            "file": ", uploaded to the Files API when you send it",
        }[via]
        say(f"attached {att.describe()} to your next message{how}")
        other = s.files.other_model(s.model)
        if other is not None:
            what = "see images" if att.is_image else "read uploaded documents"
            say(f"{s.model} cannot {what}: switch with /model {other} before sending")

    def retry(arg: str) -> None:
        s.retry()

    def continue_(arg: str) -> None:
        if arg:
            raise UsageError("/continue takes no text", hint="to steer the rest, type it as a message")
        s.continue_answer()

    def undo(arg: str) -> None:
        ex = s.undo()
        say(f"dropped: {one_line(ex.user.content, 60)} ({plural(len(s.exchanges), 'turn')} left)")

    def history(arg: str) -> None:
        if not s.exchanges:
            write_info("(no turns yet)")
            return
        head = f"conversation {s.conversation.id}: " if s.conversation else ""
        models = ", ".join(models_used(s.exchanges, s.model))
        write_info(
            f"{head}{plural(len(s.exchanges), 'turn')} with {models}\n"
            + "\n".join(history_lines(s.exchanges))
        )

    def usage(arg: str) -> None:
        write_info(usage_line(s))

    def save(arg: str) -> None:
        from qwen_cli import transcript
        from qwen_cli.store import Conversation

        if not arg:
            raise UsageError("/save needs a file name", hint="/save notes.md  or  /save chat.json")
        if not s.exchanges:
            raise UsageError("nothing to save yet", hint="send a message first")
        now = time.time()
        conv = s.conversation or Conversation("", now, now, model=s.model)
        conv = structs.replace(conv, system=s.system)  # as set now, /system included
        msgs = all_messages(s)
        path = Path(arg).expanduser()
        text = (
            transcript.to_json(conv, msgs)
            if path.suffix.lower() == ".json"
            else transcript.to_markdown(conv, msgs)
        )
        try:
            path.write_text(text, encoding="utf-8")
        except OSError as exc:
            raise UsageError(f"cannot write {path}: {exc.strerror or exc}", hint="check the path") from exc
        say(f"saved {plural(len(s.exchanges), 'turn')} to {path}")

    def edit(arg: str) -> None:
        from qwen_cli.cli.chat_edit import edit_text

        if redraft is None:
            raise UsageError("/edit needs a terminal", hint="in a script, write the message on its line")
        text = edit_text(arg)
        redraft(text)
        if not text.strip():
            say("nothing written: the prompt is empty")

    def copy(arg: str) -> None:
        from qwen_cli.cli import chat_edit

        if arg not in ("", "code"):
            raise UsageError(f"/copy takes nothing or code, not {arg!r}", hint="/copy  or  /copy code")
        answers = [ex.answer.content for ex in s.exchanges if ex.answer is not None and ex.answer.content]
        if not answers:
            raise UsageError("nothing to copy yet", hint="/copy copies the last answer once there is one")
        text: str | None = answers[-1]
        what = "the last answer"
        if arg == "code":
            text, what = chat_edit.last_code_block(answers[-1]), "its last code block"
            if text is None:
                raise UsageError("the last answer has no code block", hint="/copy copies the whole answer")
        assert text is not None
        how = chat_edit.copy(text)
        say(f"copied {what} ({plural(len(text), 'character')}) {how}")

    def models() -> list[str]:
        from qwen_cli import catalog

        return [m.id for m in catalog.all_models()]

    return [
        Command("/help", "show the commands", help_),
        Command("/new", "start a fresh conversation", new),
        Command("/model", "switch model (no name: show it)", model, "NAME", choices=models),
        Command("/system", "set the system prompt (no text: show it; - clears it)", system, "TEXT"),
        Command(
            "/think",
            "turn thinking on or off, or on with a budget of N tokens",
            think,
            "on|off|N",
            choices=("on", "off"),
        ),
        Command("/search", "turn web search on or off", search, "on|off", choices=("on", "off")),
        Command(
            "/attach",
            "attach an image or a document to your next message (no path: list them; - drops them)",
            attach,
            "PATH",
            paths=True,
        ),
        Command(
            "/schema",
            "answer as JSON valid against a schema: a file, inline JSON or 'name, age int' (- drops it)",
            lambda arg: schema_options.slash(s, arg),
            "SCHEMA",
            paths=True,
        ),
        Command("/retry", "ask again for the last answer", retry),
        Command("/continue", "ask the model to go on from where its last answer stopped", continue_),
        Command("/undo", "drop the last exchange", undo),
        Command("/history", "show the turns so far", history),
        Command("/usage", "token totals for this conversation", usage),
        Command("/save", "save as Markdown, or JSON when PATH ends in .json", save, "PATH", paths=True),
        Command("/edit", "write the message in $VISUAL or $EDITOR (TEXT: start from it)", edit, "[TEXT]"),
        Command(
            "/copy", "copy the last answer (code: its last code block)", copy, "[code]", choices=("code",)
        ),
    ]
