"""The REPL driven through prompt-toolkit's pipe input: keys in, calls out."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from prompt_toolkit.completion import CompleteEvent
from prompt_toolkit.document import Document
from prompt_toolkit.input import create_pipe_input
from prompt_toolkit.output import DummyOutput

from qwen_cli.errors import QwenAPIError, RateLimitError, UsageError
from qwen_cli.repl import Command, Repl, _completer

ENTER, ALT_ENTER, CTRL_C, CTRL_D, CTRL_R, UP, TAB = "\r", "\x1b\r", "\x03", "\x04", "\x12", "\x1b[A", "\t"


class Rec:
    """A REPL wired to recorders."""

    def __init__(self, tmp_path: Path, send: Callable[[str], None] | None = None) -> None:
        self.sent: list[str] = []
        self.ran: list[tuple[str, str]] = []
        self.errors: list[QwenAPIError] = []
        self.interrupts = 0
        self.history = tmp_path / "data" / "input_history"

        def on_interrupt() -> None:
            self.interrupts += 1

        cmds = [
            Command(
                "/model",
                "switch",
                lambda a: self.ran.append(("/model", a)),
                "NAME",
                choices=("qwen-max", "qwen-plus"),
            ),
            Command("/help", "help", lambda a: self.ran.append(("/help", a))),
            Command("/history", "turns", lambda a: self.ran.append(("/history", a))),
            Command("/attach", "image", lambda a: self.ran.append(("/attach", a)), "PATH", paths=True),
            Command("/fail", "raises", self._fail),
        ]
        self.repl = Repl(
            send or self.sent.append,
            cmds,
            on_error=self.errors.append,
            on_interrupt=on_interrupt,
            history_path=self.history,
        )

    @staticmethod
    def _fail(arg: str) -> None:
        if arg == "api":
            raise RateLimitError("slow down")
        if arg == "ctrl-c":
            raise KeyboardInterrupt
        raise ZeroDivisionError("boom")

    def type(self, keys: str) -> None:
        with create_pipe_input() as inp:
            inp.send_text(keys)
            self.repl.run(input=inp, output=DummyOutput())


def test_enter_sends_alt_enter_is_a_newline(tmp_path: Path) -> None:
    r = Rec(tmp_path)
    r.type("hello" + ENTER + "two" + ALT_ENTER + "lines" + ENTER + CTRL_D)
    assert r.sent == ["hello", "two\nlines"]


def test_bracketed_paste_is_one_message(tmp_path: Path) -> None:
    r = Rec(tmp_path)
    r.type("\x1b[200~first line\r\nsecond line\nthird\x1b[201~" + ENTER + CTRL_D)
    assert r.sent == ["first line\nsecond line\nthird"]


def test_ctrl_c_clears_the_line_and_ctrl_d_leaves_only_when_empty(tmp_path: Path) -> None:
    r = Rec(tmp_path)
    r.type("half typed" + CTRL_C + "abc" + CTRL_D + "x" + ENTER + CTRL_D + "never")
    # Ctrl-C dropped the line; Ctrl-D on "abc" deleted nothing and did not leave
    assert r.sent == ["abcx"]


def test_a_draft_left_by_a_failed_send_comes_back_at_the_prompt(tmp_path: Path) -> None:
    tries: list[str] = []

    def send(text: str) -> None:
        tries.append(text)
        if len(tries) == 1:
            r.repl.draft = text  # what qwen chat does when an upload fails
            raise RateLimitError("upload refused")

    r = Rec(tmp_path, send)
    r.type("my long question" + ENTER + " again" + ENTER + "next" + ENTER + CTRL_C + CTRL_D)
    assert tries == ["my long question", "my long question again", "next"]
    assert [e.message for e in r.errors] == ["upload refused"]
    assert r.repl.draft is None


def test_exit_and_quit_leave(tmp_path: Path) -> None:
    for word in ("/exit", "/quit", "/EXIT"):
        r = Rec(tmp_path)
        r.type("a" + ENTER + word + ENTER + "b" + ENTER + CTRL_D)
        assert r.sent == ["a"]


def test_history_persists_and_up_recalls_it(tmp_path: Path) -> None:
    first = Rec(tmp_path)
    first.type("remember me" + ENTER + "/model qwen-plus" + ENTER + CTRL_D)
    assert "remember me" in first.history.read_text(encoding="utf-8")
    assert first.history.stat().st_mode & 0o777 == 0o600
    second = Rec(tmp_path)  # a new session, the same file
    second.type(UP + UP + ENTER + CTRL_D)
    assert second.sent == ["remember me"]


def test_ctrl_r_searches_history(tmp_path: Path) -> None:
    Rec(tmp_path).type("alpha one" + ENTER + "beta two" + ENTER + "gamma three" + ENTER + CTRL_D)
    r = Rec(tmp_path)
    r.type(CTRL_R + "beta" + ENTER + ENTER + CTRL_D)
    assert r.sent == ["beta two"]


def test_tab_completes_commands(tmp_path: Path) -> None:
    r = Rec(tmp_path)
    r.type("/mo" + TAB + " qwen-p" + TAB + ENTER + CTRL_D)
    assert r.ran == [("/model", "qwen-plus")]


def test_completer_offers_commands_choices_and_paths(tmp_path: Path) -> None:
    r = Rec(tmp_path)
    comp = _completer(r.repl.commands)

    def words(text: str) -> list[str]:
        return [c.text for c in comp.get_completions(Document(text), CompleteEvent())]

    assert words("/h") == ["/help", "/history"]
    assert words("/") == ["/model", "/help", "/history", "/attach", "/fail", "/exit", "/quit"]
    assert words("/e") == ["/exit"]
    assert words("/model qwen-") == ["qwen-max", "qwen-plus"]
    assert words("hello /h") == [] and words("/nope x") == []
    (tmp_path / "cat.png").write_bytes(b"x")
    assert words(f"/attach {tmp_path}/ca") == ["t.png"]


def test_commands_run_and_unknown_ones_get_a_hint(tmp_path: Path) -> None:
    r = Rec(tmp_path)
    r.type("/help" + ENTER + "/model   qwen-max  " + ENTER + "/modle x" + ENTER + "/zzz" + ENTER + CTRL_D)
    assert r.ran == [("/help", ""), ("/model", "qwen-max")]
    assert r.sent == []  # nothing went to the model
    assert [type(e) for e in r.errors] == [UsageError, UsageError]
    assert r.errors[0].message == "unknown command /modle"
    assert r.errors[0].hint and "did you mean /model?" in r.errors[0].hint and "/help" in r.errors[0].hint
    assert r.errors[1].hint and "did you mean" not in r.errors[1].hint


def test_pasted_code_keeps_its_indent(tmp_path: Path) -> None:
    r = Rec(tmp_path)
    r.type("\x1b[200~\n    indented()\n    more()\n\n\x1b[201~" + ENTER + CTRL_D)
    assert r.sent == ["    indented()\n    more()"]


def test_double_slash_sends_a_slash(tmp_path: Path) -> None:
    r = Rec(tmp_path)
    r.type("//etc/hosts is a file" + ENTER + "   " + ENTER + CTRL_D)
    assert r.sent == ["/etc/hosts is a file"]


def test_errors_and_ctrl_c_in_handlers_return_to_the_prompt(tmp_path: Path) -> None:
    r = Rec(tmp_path)
    r.type("/fail api" + ENTER + "/fail ctrl-c" + ENTER + "/fail" + ENTER + "still here" + ENTER + CTRL_D)
    assert r.sent == ["still here"]
    assert isinstance(r.errors[0], RateLimitError) and r.interrupts == 1
    assert "unexpected ZeroDivisionError: boom" in r.errors[1].message and r.errors[1].exit_code == 1


def test_send_interrupted_returns_to_the_prompt(tmp_path: Path) -> None:
    seen: list[str] = []

    def send(text: str) -> None:
        seen.append(text)
        if text == "slow":
            raise KeyboardInterrupt

    r = Rec(tmp_path, send=send)
    r.type("slow" + ENTER + "next" + ENTER + CTRL_D)
    assert seen == ["slow", "next"] and r.interrupts == 1


def test_help_lines_list_every_command(tmp_path: Path) -> None:
    lines = Rec(tmp_path).repl.help_lines()
    assert lines[0].startswith("/model NAME") and "switch" in lines[0]
    assert lines[-1].startswith("/exit, /quit")


def test_line_mode(tmp_path: Path) -> None:
    r = Rec(tmp_path)
    code = r.repl.run_lines(["one\n", "\n", "/model qwen-plus\r\n", "two\n"])
    assert code == 0 and r.sent == ["one", "two"] and r.ran == [("/model", "qwen-plus")]
    r = Rec(tmp_path)
    assert r.repl.run_lines(["a\n", "/exit\n", "b\n"]) == 0 and r.sent == ["a"]


@pytest.mark.parametrize(("line", "code"), [("/fail api", 4), ("/what", 2)])
def test_line_mode_stops_at_the_first_error(tmp_path: Path, line: str, code: int) -> None:
    r = Rec(tmp_path)
    assert r.repl.run_lines(["a\n", line, "b\n"]) == code
    assert r.sent == ["a"] and len(r.errors) == 1
