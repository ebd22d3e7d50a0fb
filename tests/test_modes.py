"""--shell, --code and --extract: the system prompts sent, and only the command or code on stdout."""

from __future__ import annotations

from pathlib import Path

import pytest
import respx

from qwen_cli import modes
from tests.test_cli_complete import CN, answer, key, sent  # noqa: F401  (key: a fixture)
from tests.test_client import USAGE, chunk, sse, stream_response

FENCED = 'Here is a loop:\n\n```bash\nfor f in *.png; do\n  echo "$f"\ndone\n```\n\nEnjoy!\n'


@pytest.mark.parametrize(
    ("env", "platform", "name", "argv0", "os_name"),
    [
        ({"SHELL": "/bin/bash"}, "linux", "bash", "/bin/bash", "Linux"),
        ({"SHELL": "/bin/zsh"}, "darwin", "zsh", "/bin/zsh", "macOS"),
        ({"SHELL": "/usr/local/bin/fish"}, "darwin", "fish", "/usr/local/bin/fish", "macOS"),
        ({"SHELL": "/usr/bin/pwsh"}, "linux", "powershell", "/usr/bin/pwsh", "Linux"),
        ({"PSModulePath": "C:\\x"}, "win32", "powershell", "powershell", "Windows"),
        ({"COMSPEC": "C:\\Windows\\cmd.exe"}, "win32", "cmd", "C:\\Windows\\cmd.exe", "Windows"),
        ({}, "linux", "sh", "/bin/sh", "Linux"),
    ],
)
def test_detect_the_shell_and_os(env, platform, name, argv0, os_name) -> None:
    shell = modes.detect(env, platform)
    assert (shell.name, shell.path, shell.os) == (name, argv0, os_name)
    assert shell.argv("ls")[0] == argv0 and shell.argv("ls")[-1] == "ls"
    prompt = modes.shell_prompt(shell)
    assert os_name in prompt and ("PowerShell" if name == "powershell" else name) in prompt


@pytest.mark.parametrize(
    ("answer_text", "kept"),
    [
        (FENCED, 'for f in *.png; do\n  echo "$f"\ndone\n'),
        ("ls -la\n", "ls -la\n"),
        ("`ls -la`", "ls -la\n"),
        ("```\nls -la", "ls -la\n"),  # a cut answer: the fence never closed
        ("~~~sh\ndf -h\n~~~\n", "df -h\n"),
        ("\n\nprint(1)\n\n", "print(1)\n"),
        ("", ""),
    ],
)
def test_strip_answer_keeps_only_the_code(answer_text: str, kept: str) -> None:
    assert modes.strip_answer(answer_text) == kept


def test_extract_takes_the_first_block_only() -> None:
    text = "a\n```python\nx = 1\n```\nb\n````\nsecond\n````\n"
    assert modes.extract(text) == "x = 1\n"
    assert modes.extract("no code here") is None
    assert modes.extract("````md\n```\ninner\n```\n````\n") == "```\ninner\n```\n"


@respx.mock
def test_code_writes_only_code_to_a_file(run_cli, key, tmp_path) -> None:  # noqa: F811
    route = respx.post(CN).mock(return_value=answer(*[FENCED[i : i + 7] for i in range(0, len(FENCED), 7)]))
    r = run_cli("complete", "--code", "a bash loop over *.png")
    assert r.code == 0, r.err
    assert r.out == 'for f in *.png; do\n  echo "$f"\ndone\n'
    assert "Enjoy" not in r.out and "```" not in r.out and "Enjoy" not in r.err
    msgs = sent(route)["messages"]
    assert msgs == [
        {"role": "system", "content": modes.code_prompt()},
        {"role": "user", "content": "a bash loop over *.png"},
    ]
    assert "qwen-max" in r.err  # the footer still goes to stderr


@respx.mock
def test_a_system_prompt_follows_the_modes(run_cli, key) -> None:  # noqa: F811
    route = respx.post(CN).mock(return_value=answer("x = 1"))
    assert run_cli("complete", "--code", "-s", "use Python 3.12", "q", "-q").code == 0
    assert sent(route)["messages"][0]["content"] == modes.code_prompt() + "\n\nuse Python 3.12"


@respx.mock
def test_extract_prints_the_first_block_of_a_normal_answer(run_cli, key) -> None:  # noqa: F811
    route = respx.post(CN).mock(return_value=answer("Two:\n```py\na = 1\n```\nand\n```\nb = 2\n```\n"))
    r = run_cli("complete", "--extract", "code please", "-q")
    assert (r.code, r.out, r.err) == (0, "a = 1\n", "")
    assert sent(route)["messages"] == [{"role": "user", "content": "code please"}]  # no mode prompt


@respx.mock
def test_extract_without_a_block_prints_the_answer_and_says_so(run_cli, key) -> None:  # noqa: F811
    respx.post(CN).mock(return_value=answer("just prose"))
    r = run_cli("complete", "-x", "q", "-q")
    assert (r.code, r.out) == (0, "just prose\n")
    assert "no fenced code block" in r.err


@respx.mock
def test_shell_in_a_pipe_prints_the_command_and_runs_nothing(run_cli, key, monkeypatch, tmp_path) -> None:  # noqa: F811
    marker = tmp_path / "ran"
    monkeypatch.setenv("SHELL", "/bin/bash")
    route = respx.post(CN).mock(return_value=answer(f"```bash\ntouch {marker}\n```"))
    r = run_cli("complete", "--shell", "make a marker", "-q")
    assert (r.code, r.out, r.err) == (0, f"touch {marker}\n", "")
    assert not marker.exists()
    system = sent(route)["messages"][0]
    assert system == {"role": "system", "content": modes.shell_prompt(modes.detect())}
    assert "one shell command for bash on " in system["content"]
    # with stdin a pipe too: printed, never run
    route.mock(return_value=answer(f"touch {marker}"))
    r = run_cli("complete", "--shell", "-", stdin=b"make a marker")
    assert r.code == 0 and r.out == f"touch {marker}\n" and not marker.exists()


@respx.mock
def test_shell_prints_nothing_of_a_cut_answer(run_cli, key, tmp_path) -> None:  # noqa: F811
    cut = stream_response(sse(chunk("rm -rf /tmp/some"), chunk("", finish="length"), USAGE))
    respx.post(CN).mock(return_value=cut)
    r = run_cli("complete", "--shell", "clean up", "-q")
    assert r.out == "" and "cut" in r.err


@pytest.mark.parametrize(
    ("flags", "message"),
    [
        (["--shell", "--code"], "--shell and --code cannot go together"),
        (["--code", "--extract"], "--code and --extract cannot go together"),
        (["--extract", "--json"], "--extract and --json cannot go together"),
    ],
)
@respx.mock
def test_modes_that_conflict(run_cli, key, flags, message) -> None:  # noqa: F811
    route = respx.post(CN).mock(return_value=answer("never"))
    r = run_cli("complete", *flags, "q")
    lines = r.err.splitlines()
    assert r.code == 2 and len(lines) == 2 and message in lines[0] and lines[1].startswith("hint: ")
    assert not route.called


@respx.mock
def test_shell_choices_table_is_not_made_in_a_pipe(run_cli, key, isolated_env) -> None:  # noqa: F811
    import sqlite3

    respx.post(CN).mock(return_value=answer("ls"))
    assert run_cli("complete", "--shell", "list", "-q").code == 0
    db = sqlite3.connect(Path(isolated_env) / "data" / "history.db")
    names = {r[0] for r in db.execute("SELECT name FROM sqlite_master")}
    db.close()
    assert "shell_choices" not in names


@respx.mock
def test_the_code_template_is_code_mode(run_cli, key) -> None:  # noqa: F811
    route = respx.post(CN).mock(return_value=answer(FENCED))
    r = run_cli("complete", "--template", "code", "a bash loop over *.png")
    assert r.code == 0, r.err
    assert r.out == 'for f in *.png; do\n  echo "$f"\ndone\n'
    assert sent(route)["messages"][0] == {"role": "system", "content": modes.code_prompt()}


@respx.mock
def test_the_shell_template_is_shell_mode_and_runs_nothing_in_a_pipe(run_cli, key, tmp_path) -> None:  # noqa: F811
    marker = tmp_path / "ran"
    route = respx.post(CN).mock(return_value=answer(f"touch {marker}"))
    r = run_cli("complete", "-T", "shell", "make a file")
    assert r.code == 0, r.err
    assert r.out == f"touch {marker}\n" and not marker.exists()
    assert sent(route)["messages"][0]["content"] == modes.shell_prompt(modes.detect())


@respx.mock
def test_a_template_schema_shapes_the_answer(run_cli, key) -> None:  # noqa: F811
    from qwen_cli import config

    tdir = config.config_dir() / "templates"
    tdir.mkdir(parents=True, exist_ok=True)
    (tdir / "person.toml").write_text('schema = "name, age int"\n', encoding="utf-8")
    route = respx.post(CN).mock(return_value=answer('{"name": "Ann", "age": 3}'))
    r = run_cli("complete", "-T", "person", "Ann is 3")
    assert r.code == 0, r.err
    assert r.out == '{"name":"Ann","age":3}\n'
    assert sent(route)["response_format"] == {"type": "json_object"}
