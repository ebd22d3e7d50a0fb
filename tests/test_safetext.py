"""Text from a server made safe for a terminal: the function, then every view that uses it."""

from __future__ import annotations

import io
import json
import sys

import pytest

from qwen_cli import render, safetext
from qwen_cli.render import PlainRenderer
from qwen_cli.safetext import shown, visible, visible_json
from qwen_cli.types import SearchSource
from tests import hostile
from tests.test_render import Screen, feed_chars, strip_ansi, terminal


class TTY(io.StringIO):
    """A StringIO that says it is a terminal."""

    def isatty(self) -> bool:
        return True


def obeyed(text: str) -> list[bytes]:
    """The hostile payloads present in ``text``."""
    raw = text.encode()
    return [p for p in hostile.PAYLOADS if p in raw]


# ------------------------------------------------------------------------------ the function


@pytest.mark.parametrize("name", list(hostile.KINDS))
def test_each_kind_is_made_visible(name: str) -> None:
    text = hostile.KINDS[name]
    out = visible(text)
    assert obeyed(out) == []
    assert "\x1b" not in out and "\r" not in out
    assert not any(0x80 <= ord(c) < 0xA0 or c in "\x07\x08\x7f" for c in out)
    assert safetext.is_safe(out) and not safetext.is_safe(text)


def test_visible_forms() -> None:
    assert visible("\x1b[2J") == "␛[2J"
    assert visible("\x1b]0;t\x07") == "␛]0;t␇"
    assert visible("\x1b]52;c;eA==\x1b\\") == "␛]52;c;eA==␛\\"
    assert visible("\x9b6n\x9d0;x\x9c") == "\\x9b6n\\x9d0;x\\x9c"
    assert visible("a\u202eb\u2066c") == "a\\u202eb\\u2066c"
    assert visible("\x00\x08\x7f") == "␀␈␡"
    assert visible("a\rb") == "a␍b"


def test_every_control_but_tab_and_newline_goes() -> None:
    every = "".join(chr(c) for c in (*range(0x20), 0x7F, *range(0x80, 0xA0)))
    out = visible(every)
    assert [c for c in out if ord(c) < 0x20 or 0x7F <= ord(c) < 0xA0] == ["\t", "\n"]


def test_ordinary_text_is_returned_as_is() -> None:
    text = "Tabs\tand\nnewlines, 中文, العربية, emoji 🙂👍🏽, é, \u200d, ‘quotes’ — and `code`\n"
    assert visible(text) is text
    assert visible("") == ""


def test_crlf_becomes_a_newline() -> None:
    assert visible("one\r\ntwo\r\n") == "one\ntwo\n"
    assert visible("x\x1b\r\n") == "x␛\n"


def test_a_sequence_split_across_deltas_never_combines() -> None:
    text = hostile.answer()
    for size in (1, 2, 3, 7):
        deltas = [text[i : i + size] for i in range(0, len(text), size)]
        joined = "".join(visible(d) for d in deltas)
        assert obeyed(joined) == []
        assert "\x1b" not in joined
    assert visible("abc\x1b") + visible("[2J") == "abc␛[2J"
    assert visible("\x1b]52;c;") + visible("eA==\x07") == "␛]52;c;eA==␇"


def test_visible_json_stays_valid_and_means_the_same() -> None:
    data = {"content": hostile.answer(), "model": "m\x9b6n\u202e"}
    text = json.dumps(data, ensure_ascii=False, indent=2)
    out = visible_json(text)
    assert json.loads(out) == data
    assert obeyed(out) == [] and "中文 🙂" in out
    assert visible_json("{}") == "{}"


def test_shown_only_changes_what_goes_to_a_terminal() -> None:
    text = hostile.answer()
    assert shown(text, io.StringIO()) is text
    assert shown(text, TTY()) == visible(text)
    assert shown('"\x9b"', TTY(), json=True) == '"\\u009b"'
    closed = io.StringIO()
    closed.close()
    assert safetext.is_terminal(closed) is False  # ValueError on a closed stream
    assert safetext.is_terminal(object()) is False


def test_cheap_to_import() -> None:
    import subprocess

    code = "import sys, qwen_cli.safetext; print([m for m in ('rich', 'typer', 'httpx') if m in sys.modules])"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


# -------------------------------------------------------------------------------- the views


def test_plain_view_on_a_terminal_shows_controls_in_a_pipe_passes_them() -> None:
    text = hostile.answer()
    tty, pipe = TTY(), io.StringIO()
    for out in (tty, pipe):
        r = PlainRenderer(out=out, err=io.StringIO())
        feed_chars(r, text)
        r.finish()
    assert pipe.getvalue() == text
    assert tty.getvalue() == visible(text)
    assert obeyed(tty.getvalue()) == []


def test_markdown_view_never_obeys_the_answer() -> None:
    r, out, _ = terminal()
    feed_chars(r, hostile.answer())
    r.finish()
    assert obeyed(out.getvalue()) == []
    screen = Screen().feed(out.getvalue()).text  # raises on any sequence rich does not use
    for form in ("␛[2J", "␛]0;pwned-title␇", "␛[6n", "\\x9b2J", "\\u202e", "x␛y␇z␈w␡v", "safe text␍EVIL"):
        assert form in screen, form
    assert "中文 🙂" in screen


def test_markdown_entities_cannot_smuggle_bidi_controls() -> None:
    """The parser turns ``&#x202E;`` into U+202E after the text was made visible."""
    r, out, _ = terminal()
    r.content("file&#x202E;gpj.exe and &#x2066;x&#x2069; &#27;[2J &#x9b;\n")
    r.finish()
    assert obeyed(out.getvalue()) == []
    assert "file\\u202egpj.exe" in Screen().feed(out.getvalue()).text


@pytest.mark.parametrize("color", [True, False])
def test_reasoning_on_a_terminal_is_made_visible(color: bool) -> None:
    out, err = TTY(), TTY()
    r = render.make_renderer(out=out, err=err, terminal=True, color=color, width=80, height=24)
    r.reasoning("I think \x1b]0;pwned\x07 so ")
    r.reasoning("\x1b[2J\u202e.\x1b")
    r.reasoning("[6n\n")
    r.content("fine\n")
    r.finish()
    assert strip_ansi(err.getvalue()).startswith("I think ␛]0;pwned␇ so ␛[2J\\u202e.␛[6n\n")
    assert obeyed(err.getvalue() + out.getvalue()) == []
    assert ("\x1b[2m" in err.getvalue()) is color


def test_reasoning_into_a_file_is_kept_as_it_came() -> None:
    thinking = "I think \x1b]0;pwned\x07 so \x1b[2J\u202e.\n"
    r, _, err = terminal()  # stdout a terminal, stderr a StringIO (a file)
    r.reasoning(thinking)
    r.content("fine\n")
    r.finish()
    assert thinking in err.getvalue()


def test_sources_never_link_or_print_controls() -> None:
    evil = SearchSource(
        title="T\x1b]0;x\x07", hostname="h\x1b[2J", url="https://e.example/\x1b]52;c;eA==\x07"
    )
    good = SearchSource(title="Qwen", hostname="qwen.ai", url="https://qwen.ai/x")
    r, out, _ = terminal()
    r.content("Answer.\n")
    r.sources([evil, good, SearchSource(title="js", url="javascript:alert(1)")])
    r.finish()
    raw = out.getvalue()
    assert obeyed(raw.replace("\x1b]8;id=", "LINK").replace("\x1b]8;;", "END")) == []
    assert raw.count("\x1b]8;id=") == 1 and "qwen.ai/x\x1b\\" in raw  # only the good one links
    text = Screen().feed(raw).text
    assert "[1] T␛]0;x␇ — h␛[2J https://e.example/␛]52;c;eA==␇" in text
    assert "[3] js javascript:alert(1)" in text
    err = TTY()
    plain = PlainRenderer(out=io.StringIO(), err=err)
    plain.sources([evil])
    plain.content("a")
    plain.finish()
    assert err.getvalue() == "[1] T␛]0;x␇ - https://e.example/␛]52;c;eA==␇\n"


def test_footer_and_notices_on_a_terminal() -> None:
    line = render.format_footer(model="qwen\x1b]0;pwned\x07-max", usage=None, elapsed=1.0)
    for color in (False, True):
        err = TTY()
        render.print_footer(line, err=err, color=color)
        render.print_notice("note \x1b[2J\u202e", err=err, color=color)
        assert obeyed(err.getvalue()) == []
        assert strip_ansi(err.getvalue()).startswith("qwen␛]0;pwned␇-max · ")
        assert "note ␛[2J\\u202e\n" in strip_ansi(err.getvalue())
    err = io.StringIO()
    render.print_footer(line, err=err, color=False)
    assert err.getvalue() == line + "\n"  # a file gets it as it came


def test_render_markdown_plain_on_a_terminal() -> None:
    text = "x\x1b[2J\u202e"
    out = TTY()
    render.render_markdown(text, out=out, terminal=False, color=False)
    assert out.getvalue() == "x␛[2J\\u202e\n"
    out = TTY()
    render.render_markdown(text, out=out, terminal=True, color=True)
    assert obeyed(out.getvalue()) == [] and "x␛[2J\\u202e" in strip_ansi(out.getvalue())


def test_error_lines_on_a_terminal(monkeypatch: pytest.MonkeyPatch) -> None:
    from qwen_cli.cli.report import say_error
    from qwen_cli.errors import InvalidRequestError

    err = InvalidRequestError("bad \x1b]52;c;eA==\x07 thing\u202e", hint="try \x1b[2J", request_id="r\x9b1")
    tty = TTY()
    monkeypatch.setattr(sys, "stderr", tty)
    say_error(err)
    assert tty.getvalue() == (
        "qwen: error: bad ␛]52;c;eA==␇ thing\\u202e (request id r\\x9b1)\nhint: try ␛[2J\n"
    )
    pipe = io.StringIO()
    monkeypatch.setattr(sys, "stderr", pipe)
    say_error(err)
    assert pipe.getvalue().startswith("qwen: error: bad \x1b]52;c;eA==\x07 thing\u202e")


def test_write_out_and_history_lines(monkeypatch: pytest.MonkeyPatch) -> None:
    from qwen_cli.cli.chat_session import write_out

    tty = TTY()
    monkeypatch.setattr(sys, "stdout", tty)
    write_out("  1. you: hi\n     qwen\x1b]0;x\x07: \x1b[2Jbye")
    assert tty.getvalue() == "  1. you: hi\n     qwen␛]0;x␇: ␛[2Jbye\n"


def test_repl_prompt_is_made_visible() -> None:
    from prompt_toolkit.input import create_pipe_input
    from prompt_toolkit.output.vt100 import Vt100_Output

    from qwen_cli.repl import Repl

    sent: list[str] = []
    screen = io.StringIO()
    with create_pipe_input() as inp:
        inp.send_text("hello\r")
        inp.close()  # then EOF: the loop ends
        repl = Repl(sent.append, [], on_error=lambda e: None, prompt=lambda: "m\u202e\x9b6n> ")
        repl.run(input=inp, output=Vt100_Output(screen, lambda: _Size(), term="xterm"))
    assert sent == ["hello"]
    assert "m\\u202e\\x9b6n> " in screen.getvalue()
    assert "\u202e" not in screen.getvalue() and "\x9b" not in screen.getvalue()


class _Size:
    rows, columns = 24, 80


def test_debug_log_on_a_terminal(monkeypatch: pytest.MonkeyPatch) -> None:
    import logging

    from qwen_cli.cli.answer import setup_logging

    tty = TTY()
    monkeypatch.setattr(sys, "stderr", tty)
    setup_logging(True)
    logging.getLogger("qwen_cli.client").debug("< body %s", '{"error": "\x1b]0;t\x07"}')
    assert tty.getvalue() == 'debug: < body {"error": "␛]0;t␇"}\n'
