"""The chat loop: lines in, handed to callables. It never talks to a model itself.

``Repl`` is given a ``send`` callable for messages and :class:`Command` handlers for slash
commands; errors they raise (any ``QwenAPIError``) go to ``on_error`` and the loop goes on.

* :meth:`Repl.run`: prompt-toolkit on a terminal. Enter sends, Alt-Enter (Esc then Enter)
  inserts a newline, a bracketed paste arrives as one message, input history is kept in a
  file (Up/Down walk it, Ctrl-R searches it), Tab completes slash commands. Ctrl-C clears the
  line, Ctrl-D on an empty line leaves; Ctrl-C while a handler runs (an answer streaming)
  goes to ``on_interrupt`` and the prompt comes back, with :attr:`Repl.draft` in it when a
  handler left one (a message that could not be sent, to send again with Enter).
* :meth:`Repl.run_lines`: one message per line, for pipes and scripts; it stops at the first
  error and returns its exit code.

Between lines both ask ``stop`` (SIGTERM/SIGHUP arrived?) and end with what it returns.

A line starting with ``/`` is a command (``/exit`` and ``/quit`` leave); start it with ``//``
to send a message that begins with ``/``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from qwen_cli.errors import QwenAPIError, UsageError
from qwen_cli.safetext import visible
from qwen_cli.structs import struct

if TYPE_CHECKING:
    from prompt_toolkit.completion import CompleteEvent, Completion
    from prompt_toolkit.document import Document

EXIT_COMMANDS = ("/exit", "/quit")
CONTINUATION = "… "  # before each further line of a message
KEYS = (
    ("Enter", "send the message"),
    ("Alt-Enter", "start a new line (or Esc then Enter)"),
    ("Up, Down", "walk the earlier input"),
    ("Ctrl-R", "search the earlier input"),
    ("Tab", "complete a /command, its argument or a path"),
    ("Ctrl-X Ctrl-E", "edit the message in $VISUAL or $EDITOR"),
    ("Ctrl-C", "stop the answer, or clear the line"),
    ("Ctrl-D", "leave (on an empty line)"),
)


@struct(frozen=True)
class Command:
    name: str  # "/model"
    help: str
    run: Callable[[str], None]  # given the rest of the line, stripped
    usage: str = ""  # "NAME", shown in /help
    choices: Sequence[str] | Callable[[], Sequence[str]] = ()  # completions for the argument
    paths: bool = False  # complete the argument as a file path


class Repl:
    def __init__(
        self,
        send: Callable[[str], None],
        commands: Sequence[Command],
        *,
        on_error: Callable[[QwenAPIError], None],
        on_interrupt: Callable[[], None] = lambda: None,
        history_path: Path | None = None,
        prompt: Callable[[], str] = lambda: "> ",
        stop: Callable[[], BaseException | None] = lambda: None,
    ) -> None:
        self.send = send
        self.commands = {c.name: c for c in commands}
        self.on_error = on_error
        self.on_interrupt = on_interrupt
        self.history_path = history_path
        self.prompt = prompt
        self.stop = stop  # an exception to end the loop with (SIGTERM), checked between lines
        self.draft: str | None = None  # text for the next prompt to start with

    def help_lines(self, columns: int | None = None, *, keys: bool = False) -> list[str]:
        """The commands (then, with ``keys``, the keys) for ``/help``, each description wrapped
        under its own column to fit ``columns`` (the terminal's width)."""
        import shutil
        import textwrap

        cols = columns or shutil.get_terminal_size((100, 24)).columns
        rows = [(f"{c.name} {c.usage}".rstrip(), c.help) for c in self.commands.values()]
        rows.append(("/exit, /quit", "leave (so does Ctrl-D on an empty line)"))
        width = min(max(len(a) for a, _ in [*rows, *KEYS]), max(12, cols // 3))
        room = max(20, cols - width - 2)
        lines: list[str] = []
        for title, table in ((None, rows), ("keys:", KEYS))[: 2 if keys else 1]:
            if title:
                lines.extend(["", title])
            for name, text in table:
                said = textwrap.wrap(text, room) or [""]
                if len(name) > width:  # a long name on a line of its own
                    lines.append(name)
                    said[0] = " " * width + "  " + said[0]
                else:
                    said[0] = f"{name.ljust(width)}  {said[0]}"
                lines.extend([said[0], *(" " * (width + 2) + more for more in said[1:])])
        return [line.rstrip() for line in lines]

    def handle(self, line: str) -> bool:
        """Send a message or run a command; ``False`` means leave."""
        text = line.strip()
        if not text:
            return True
        if text.startswith("//"):
            self.send(text[1:])
            return True
        if not text.startswith("/"):
            # blank lines around the message go; the first line's indent stays (pasted code)
            self.send(line.rstrip().lstrip("\r\n"))
            return True
        name, _, arg = text.partition(" ")
        name = name.lower()
        if name in EXIT_COMMANDS:
            return False
        cmd = self.commands.get(name)
        if cmd is None:
            near = [c for c in self.commands if c.startswith(name[:3])] if len(name) > 1 else []
            raise UsageError(
                f"unknown command {name}",
                hint=(f"did you mean {' or '.join(near)}? " if near else "")
                + "/help lists the commands; start a message with // to send a line beginning with /",
            )
        cmd.run(arg.strip())
        return True

    def _safely(self, line: str) -> bool:
        try:
            return self.handle(line)
        except QwenAPIError as exc:
            self.on_error(exc)
        except KeyboardInterrupt:
            self.on_interrupt()
        except Exception as exc:  # a bug must not end the conversation
            err = QwenAPIError(
                f"unexpected {type(exc).__name__}: {exc}",
                hint="this is a bug in qwen; run with --debug for the traceback and please report it",
            )
            err.__cause__ = exc
            self.on_error(err)
        return True

    def run_lines(self, lines: Iterable[str]) -> int:
        """Line mode: each line a message or a command; returns the exit code."""
        for line in lines:
            try:
                if not self.handle(line.rstrip("\r\n")):
                    break
            except QwenAPIError as err:
                self.on_error(err)
                return err.exit_code
            self._check_stop()
        return 0

    def _check_stop(self) -> None:
        exc = self.stop()
        if exc is not None:
            raise exc

    def run(self, *, input: Any = None, output: Any = None) -> None:
        """The interactive loop, until Ctrl-D or /exit."""
        session = self._session(input, output)
        while True:
            self._check_stop()
            draft, self.draft = self.draft or "", None
            prompt = visible(self.prompt())
            try:
                text = session.prompt(prompt, default=draft)
            except KeyboardInterrupt:
                continue  # Ctrl-C at the prompt: the line is cleared
            except EOFError:
                self._echo(session.output, prompt, "")  # the last prompt stays, as a shell's does
                break
            self._echo(session.output, prompt, text)
            if not self._safely(text):
                break

    @staticmethod
    def _echo(output: Any, prompt: str, text: str) -> None:
        """Write the sent message under its prompt, every line of it.

        prompt-toolkit erases its editing area when a message is sent (``erase_when_done``):
        redrawn, a message taller than the screen would keep only its last screenful.
        """
        lines = visible(text).split("\n")
        output.write_raw(prompt + f"\n{CONTINUATION}".join(lines) + "\n")
        output.flush()

    def _session(self, input: Any, output: Any) -> Any:
        from prompt_toolkit import PromptSession
        from prompt_toolkit.application import get_app
        from prompt_toolkit.completion import CompleteEvent, get_common_complete_suffix
        from prompt_toolkit.enums import DEFAULT_BUFFER
        from prompt_toolkit.filters import has_completions, has_focus
        from prompt_toolkit.history import FileHistory, History, InMemoryHistory
        from prompt_toolkit.key_binding import KeyBindings, KeyPressEvent
        from prompt_toolkit.layout.dimension import Dimension

        kb = KeyBindings()
        editing = has_focus(DEFAULT_BUFFER)

        @kb.add("enter", filter=editing)
        def _send(event: KeyPressEvent) -> None:
            event.current_buffer.validate_and_handle()

        @kb.add("escape", "enter", filter=editing)
        def _newline(event: KeyPressEvent) -> None:
            event.current_buffer.insert_text("\n")

        @kb.add("c-x", "c-e", filter=editing)
        def _edit(event: KeyPressEvent) -> None:
            """The message in $VISUAL / $EDITOR; it comes back to the prompt, not sent (as /edit)."""
            event.current_buffer.open_in_editor(validate_and_handle=False)

        completer = _completer(self.commands)

        @kb.add("tab", filter=editing & ~has_completions)
        def _complete(event: KeyPressEvent) -> None:
            """Like readline: one candidate is taken at once, several complete their common part."""
            buf = event.current_buffer
            found = list(completer.get_completions(buf.document, CompleteEvent(completion_requested=True)))
            if len(found) == 1:
                buf.apply_completion(found[0])
            elif found:
                common = get_common_complete_suffix(buf.document, found)
                if common:
                    buf.insert_text(common)
                else:
                    buf.start_completion(select_first=False)

        history: History = InMemoryHistory()
        if self.history_path is not None:
            self.history_path.parent.mkdir(parents=True, exist_ok=True)
            self.history_path.touch(mode=0o600, exist_ok=True)
            history = FileHistory(str(self.history_path))

        class Session(PromptSession[str]):
            def _get_default_buffer_control_height(self) -> Dimension:
                """At most the screen's height - 2: a taller editing area scrolls the screen
                while it grows, pushing lines of the message into the scroll-back twice."""
                wanted = super()._get_default_buffer_control_height()
                cap = max(1, get_app().output.get_size().rows - 2)
                return Dimension(min=min(wanted.min, cap), max=cap)

        return Session(
            history=history,
            multiline=True,
            key_bindings=kb,
            completer=completer,
            complete_while_typing=True,
            # a new line of the message, a long line wrapped by the screen: short, not the
            # prompt's width (a long model name would leave little room on a narrow screen)
            prompt_continuation=lambda width, line, wrap: " " * len(CONTINUATION) if wrap else CONTINUATION,
            erase_when_done=True,  # then _echo writes the whole message
            enable_suspend=True,
            input=input,
            output=output,
        )


def _completer(commands: dict[str, Command]) -> Any:
    """Command names after ``/``; each command's choices, or file paths, after its name."""
    from prompt_toolkit.completion import Completer, Completion, PathCompleter
    from prompt_toolkit.document import Document

    everything = [*commands.values(), *(Command(n, "leave", lambda _: None) for n in EXIT_COMMANDS)]
    paths = PathCompleter(expanduser=True)

    class SlashCompleter(Completer):
        def get_completions(self, document: Document, event: CompleteEvent) -> Iterable[Completion]:
            text = document.text_before_cursor
            if not text.startswith("/") or "\n" in text:
                return
            name, space, arg = text.partition(" ")
            if not space:
                for cmd in everything:
                    if cmd.name.startswith(name.lower()):
                        yield Completion(cmd.name, -len(name), display_meta=cmd.help)
                return
            found = commands.get(name.lower())
            if found is None:
                return
            if found.paths:
                yield from paths.get_completions(Document(arg, len(arg)), event)
                return
            word = arg.strip()
            for choice in found.choices() if callable(found.choices) else found.choices:
                if choice.startswith(word) and choice != word:
                    yield Completion(choice, -len(arg.lstrip()))

    return SlashCompleter()
