"""Templates (roles), aliases, `qwen default` and the config.toml writer.

Commands run through the real error boundary (``run_cli``) against the fake server
(tests/fakeserver.py): the tests assert the bodies it received, stdout, stderr, exit codes and
the files left on disk."""

from __future__ import annotations

import os
import stat
import sys
import tomllib
from pathlib import Path
from typing import Any

import pytest

from qwen_cli import aliases, config, configfile, templates
from tests import chatkit
from tests.chatkit import bodies, lines, sent_messages
from tests.e2e import QWEN, clean_env, needs_qwen
from tests.fakeserver import FakeServer, FakeServerProcess
from tests.test_completions import bash, bash_complete

srv = chatkit.srv  # fixture: the fake server, QWEN_BASE_URL and a key set


def cdir() -> Path:
    return config.config_dir()


def write_template(name: str, text: str) -> Path:
    path = cdir() / "templates" / f"{name}.toml"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


def last_body(srv: FakeServer) -> dict[str, Any]:
    return bodies(srv)[-1]


REVIEW = '''
description = "Review a change"
system = "You review $lang code. Focus: $focus."
prompt = """Review this:

$input"""
model = "qwen-plus"
temperature = 0.2
max_tokens = 300
think = false

[defaults]
focus = "bugs"
'''


def assert_error(r: Any, *words: str) -> None:
    assert r.code == 2, (r.out, r.err)
    assert r.out == ""
    err_lines = r.err.splitlines()
    assert len(err_lines) == 2 and err_lines[0].startswith("qwen: error: "), r.err
    assert err_lines[1].startswith("hint: "), r.err
    assert "Traceback" not in r.err
    for w in words:
        assert w in r.err, r.err


# ------------------------------------------------------------------------------------ rendering


def test_template_with_variables_renders_the_exact_messages(run_cli, srv: FakeServer) -> None:
    write_template("review", REVIEW)
    r = run_cli("complete", "--template", "review", "-p", "lang=Python", "-", stdin=b"def f(): pass\n")
    assert r.code == 0, r.err
    body = last_body(srv)
    assert body["messages"] == [
        {"role": "system", "content": "You review Python code. Focus: bugs."},
        {"role": "user", "content": "Review this:\n\ndef f(): pass\n"},
    ]
    assert (body["model"], body["temperature"], body["max_tokens"]) == ("qwen-plus", 0.2, 300)
    assert body["enable_thinking"] is False
    assert r.out == "echo: Review this:\n\ndef f(): pass\n"


def test_argument_fills_input_and_p_overrides_a_default(run_cli, srv: FakeServer) -> None:
    write_template("review", REVIEW)
    r = run_cli("complete", "-T", "review", "-p", "lang=Go", "-p", "focus=style", "x := 1")
    assert r.code == 0, r.err
    assert sent_messages(srv)[-1] == [
        ("system", "You review Go code. Focus: style."),
        ("user", "Review this:\n\nx := 1"),
    ]


def test_explicit_options_win_over_the_template(run_cli, srv: FakeServer) -> None:
    write_template("review", REVIEW)
    r = run_cli(
        "complete",
        "-T",
        "review",
        "-p",
        "lang=C",
        "-m",
        "qwen-turbo",
        "-t",
        "1.5",
        "-s",
        "mine",
        "--think",
        "q",
    )
    assert r.code == 0, r.err
    body = last_body(srv)
    assert (body["model"], body["temperature"], body["max_tokens"]) == ("qwen-turbo", 1.5, 300)
    assert body["messages"][0] == {"role": "system", "content": "mine"}
    assert body["enable_thinking"] is True


def test_no_think_wins_over_a_template_that_thinks(run_cli, srv: FakeServer) -> None:
    write_template("deep", "think = true\nsearch = true\n")
    assert run_cli("complete", "-T", "deep", "--no-think", "q").code == 0
    assert (last_body(srv)["enable_thinking"], last_body(srv)["enable_search"]) == (False, True)
    assert run_cli("complete", "--no-think", "-T", "deep", "q", "--save", "shallow").code == 0
    assert templates.find("shallow", cdir()).values == {"prompt": "q", "think": False, "search": True}


def test_builtin_translate_and_commit(run_cli, srv: FakeServer) -> None:
    r = run_cli("complete", "--template", "translate", "-p", "lang=French", "good morning")
    assert r.code == 0, r.err
    assert sent_messages(srv)[-1][1] == ("user", "Translate the following text into French:\n\ngood morning")
    diff = b"diff --git a/x b/x\n+hello\n"
    r = run_cli("complete", "--template", "commit", stdin=diff)
    assert r.code == 0, r.err
    body = last_body(srv)
    assert body["messages"][1] == {"role": "user", "content": diff.decode()}
    assert "commit message" in body["messages"][0]["content"] and body["temperature"] == 0.2


def test_template_without_input_variable_gets_the_input_after_its_prompt(run_cli, srv: FakeServer) -> None:
    write_template("haiku", 'prompt = "Write a haiku about $$5 and $topic"\n[defaults]\ntopic = "rain"\n')
    assert run_cli("complete", "-T", "haiku").code == 0
    assert sent_messages(srv)[-1] == [("user", "Write a haiku about $5 and rain")]
    assert run_cli("complete", "-T", "haiku", "in spring").code == 0
    assert sent_messages(srv)[-1] == [("user", "Write a haiku about $5 and rain\n\nin spring")]


def test_modes_pass_through_for_the_shell_and_code_templates(monkeypatch: pytest.MonkeyPatch) -> None:
    from qwen_cli.cli import template_options as to
    from qwen_cli.cli.options import Ask

    ask, applied = to.apply(Ask(), "shell", None)
    assert applied.modes == {"shell": True} and ask == Ask()
    write_template("j", 'schema = "name: str"\nextract = true\ncode = false\n')
    assert to.apply(Ask(), "j", None)[1].modes == {"schema": "name: str", "extract": True, "code": False}


# ----------------------------------------------------------------------------------- bad input


def test_missing_variable_is_one_line_naming_it(run_cli, srv: FakeServer) -> None:
    write_template("review", REVIEW)
    r = run_cli("complete", "-T", "review", "code")
    assert_error(r, "$lang", "-p lang=VALUE")
    assert bodies(srv) == []


def test_missing_input_is_told(run_cli, srv: FakeServer) -> None:
    r = run_cli("complete", "-T", "explain")
    assert_error(r, "needs an input")
    assert bodies(srv) == []


def test_unknown_template_lists_close_names(run_cli, srv: FakeServer) -> None:
    r = run_cli("complete", "-T", "tarnslate", "hi")
    assert_error(r, "no template 'tarnslate'", "did you mean translate")
    assert bodies(srv) == []


@pytest.mark.parametrize(
    ("text", "words"),
    [
        ('prompt = "unclosed\n', ["bad.toml", "not valid TOML"]),
        ('promt = "x"\n', ["bad.toml", "unknown key 'promt'", "did you mean 'prompt'"]),
        ("temperature = 'hot'\n", ["bad.toml", "temperature must be a number"]),
        ("temperature = 3\n", ["bad.toml", "temperature must be between 0 and 2"]),
        ("think = 1\n", ["bad.toml", "think must be true or false"]),
        ('system = "in $input"\n', ["bad.toml", "$input belongs in the prompt"]),
    ],
)
def test_broken_template_is_refused_naming_file_and_key(
    run_cli, srv: FakeServer, text: str, words: list[str]
) -> None:
    write_template("bad", text)
    r = run_cli("complete", "-T", "bad", "hi")
    assert_error(r, *words)
    assert bodies(srv) == []


def test_p_needs_name_equals_value_and_a_template(run_cli, srv: FakeServer) -> None:
    assert_error(run_cli("complete", "-T", "translate", "-p", "lang", "x"), "-p takes NAME=VALUE")
    assert_error(run_cli("complete", "-p", "lang=x", "hi"), "no --template")
    assert_error(run_cli("complete", "-T", "translate", "-p", "lnag=x", "hi"), "no variable $lnag", "$lang")
    assert bodies(srv) == []


# -------------------------------------------------------------------------- chat, upload --ask


def test_chat_with_a_template_wraps_each_message(run_cli, srv: FakeServer) -> None:
    r = run_cli("chat", "-T", "translate", "-p", "lang=German", stdin=lines("hello", "bye"))
    assert r.code == 0, r.err
    sent = sent_messages(srv)
    system = ("system", templates.find("translate", cdir()).values["system"])
    assert sent[0] == [system, ("user", "Translate the following text into German:\n\nhello")]
    assert sent[1][-1] == ("user", "Translate the following text into German:\n\nbye")


def test_upload_ask_with_a_template(run_cli, srv: FakeServer) -> None:
    from tests import samples as S

    S.write(Path.cwd(), "cat.png", S.png(20, 20))
    write_template("alt-text", 'system = "Write alt text."\nprompt = "Alt text, $style: $input"\n')
    r = run_cli("upload", "cat.png", "-T", "alt-text", "-p", "style=short", "--ask", "-", stdin=b"a cat")
    assert r.code == 0, r.err
    body = last_body(srv)
    assert body["messages"][0] == {"role": "system", "content": "Write alt text."}
    parts = body["messages"][1]["content"]
    assert {"type": "text", "text": "Alt text, short: a cat"} in parts


# ------------------------------------------------------------------------- lookup and listing


def test_user_file_shadows_a_builtin(run_cli, srv: FakeServer) -> None:
    write_template("translate", 'description = "mine"\nprompt = "MINE $input"\n')
    assert run_cli("complete", "-T", "translate", "x").code == 0
    assert sent_messages(srv)[-1] == [("user", "MINE x")]
    r = run_cli("templates", "list")
    assert r.code == 0, r.err
    rows = dict((row.split("\t")[0], row.split("\t")[1:]) for row in r.out.splitlines())
    assert rows["translate"] == ["-", "yours", "mine"]
    assert rows["commit"][1] == "built-in" and rows["shell"][:2] == ["-", "built-in"]
    r = run_cli("templates", "rm", "translate")
    assert r.code == 0 and "built-in 'translate' is in use again" in r.err
    assert run_cli("complete", "-T", "translate", "x").code == 0
    assert sent_messages(srv)[-1][-1] == ("user", "Translate the following text into English:\n\nx")


def test_every_builtin_template_reads_and_is_listed() -> None:
    shipped = sorted(p.stem for p in templates.builtin_dir().glob("*.toml"))
    assert shipped == ["code", "commit", "explain", "shell", "translate"]
    for name in shipped:
        tpl = templates.find(name, cdir())
        assert tpl.builtin and tpl.description
    assert templates.names(cdir()) == dict.fromkeys(shipped, True)


def test_builtin_cannot_be_removed(run_cli) -> None:
    assert_error(run_cli("templates", "rm", "commit"), "built-in", "qwen templates edit commit")
    assert_error(run_cli("templates", "rm", "comit"), "no template 'comit'", "commit")


def test_show_prints_the_file(run_cli) -> None:
    path = write_template("review", REVIEW)
    r = run_cli("templates", "show", "review")
    assert (r.code, r.out) == (0, REVIEW)
    assert str(path) in r.err


def test_list_marks_a_broken_template_without_failing(run_cli) -> None:
    write_template("bad", "x = 1\n")
    r = run_cli("templates")
    assert r.code == 0
    assert any(
        ln.startswith("bad\t-\tyours\t(broken: ") and "unknown key 'x'" in ln for ln in r.out.splitlines()
    )


# ------------------------------------------------------------------------------------- edit


def editor(tmp_path: Path, body: str, monkeypatch: pytest.MonkeyPatch) -> Path:
    """EDITOR set to a script running ``body`` with $1 the file (and logging each call)."""
    script = tmp_path / "ed.sh"
    script.write_text(f'#!/bin/sh\necho called >> "{tmp_path}/calls"\n{body}\n', encoding="utf-8")
    script.chmod(script.stat().st_mode | stat.S_IXUSR)
    monkeypatch.setenv("EDITOR", str(script))
    monkeypatch.delenv("VISUAL", raising=False)
    return tmp_path / "calls"


def test_edit_creates_from_the_skeleton_and_round_trips(
    run_cli, srv: FakeServer, tmp_path: Path, monkeypatch
) -> None:
    seen = tmp_path / "seen.toml"
    editor(
        tmp_path,
        f'cp "$1" "{seen}"\nprintf \'description = "mine"\\nprompt = "Q: $input"\\n\' >> "$1"',
        monkeypatch,
    )
    r = run_cli("templates", "edit", "mine")
    assert r.code == 0, r.err
    assert seen.read_text() == templates.SKELETON.format(name="mine")
    path = cdir() / "templates" / "mine.toml"
    assert path.read_text().endswith('description = "mine"\nprompt = "Q: $input"\n')
    assert "saved template 'mine'" in r.err
    assert run_cli("complete", "-T", "mine", "hi").code == 0
    assert sent_messages(srv)[-1] == [("user", "Q: hi")]
    assert "mine\t-\tyours\tmine" in run_cli("templates", "list").out.splitlines()


def test_edit_a_builtin_starts_from_its_text(run_cli, tmp_path: Path, monkeypatch) -> None:
    editor(tmp_path, 'sed -i "s/temperature = 0.2/temperature = 0.5/" "$1"', monkeypatch)
    assert run_cli("templates", "edit", "commit").code == 0
    assert templates.find("commit", cdir()).values["temperature"] == 0.5
    assert not templates.find("commit", cdir()).builtin


def test_unchanged_skeleton_creates_nothing(run_cli, tmp_path: Path, monkeypatch) -> None:
    editor(tmp_path, "true", monkeypatch)
    r = run_cli("templates", "edit", "nothing")
    assert r.code == 0 and "not created" in r.err
    assert not (cdir() / "templates" / "nothing.toml").exists()


def test_broken_edit_is_reported_and_the_previous_version_kept(run_cli, tmp_path: Path, monkeypatch) -> None:
    path = write_template("review", REVIEW)
    calls = editor(
        tmp_path, 'printf "temprature = 1\\n" | cat - "$1" > "$1.new" && mv "$1.new" "$1"', monkeypatch
    )
    r = run_cli("templates", "edit", "review")
    assert_error(r, str(path), "unknown key 'temprature'", "kept as it was", "review.toml.rejected")
    assert path.read_text() == REVIEW
    rejected = path.with_name("review.toml.rejected")
    assert rejected.read_text() == "temprature = 1\n" + REVIEW  # nothing typed is lost
    assert calls.read_text() == "called\n"
    assert sorted(p.name for p in path.parent.iterdir()) == ["review.toml", "review.toml.rejected"]


def test_editor_failing_or_missing(run_cli, tmp_path: Path, monkeypatch) -> None:
    path = write_template("review", REVIEW)
    editor(tmp_path, 'echo junk > "$1"; exit 3', monkeypatch)
    assert_error(run_cli("templates", "edit", "review"), "exited with status 3", "unchanged")
    assert path.read_text() == REVIEW
    monkeypatch.delenv("EDITOR")
    assert_error(run_cli("templates", "edit", "review"), "no editor", "EDITOR=")
    assert_error(run_cli("templates", "edit", "../x"), "not a template name")


# ------------------------------------------------------------------------------------- --save


def test_save_turns_the_options_typed_into_a_template(run_cli, srv: FakeServer) -> None:
    r = run_cli(
        "complete", "review this for $cost", "-s", "be terse", "-t", "0.3", "-m", "qwen-plus",
        "-p", "cost=speed", "--save", "rev", stdin=b"some diff\n",
    )  # fmt: skip
    assert r.code == 0, r.err
    assert bodies(srv) == []  # saved, not asked
    path = cdir() / "templates" / "rev.toml"
    assert "saved template 'rev'" in r.err and str(path) in r.err
    assert tomllib.loads(path.read_text()) == {
        "prompt": "review this for $cost\n\n$input",
        "system": "be terse",
        "model": "qwen-plus",
        "temperature": 0.3,
        "defaults": {"cost": "speed"},
    }
    r = run_cli("complete", "-T", "rev", "-", stdin=b"the diff")
    assert r.code == 0, r.err
    assert sent_messages(srv)[-1] == [("system", "be terse"), ("user", "review this for speed\n\nthe diff")]
    assert last_body(srv)["model"] == "qwen-plus"
    assert_error(run_cli("complete", "x", "--save", "rev"), "exists already")


def test_save_from_a_template_keeps_its_values(run_cli) -> None:
    r = run_cli("complete", "-T", "translate", "-p", "lang=Dutch", "-t", "0.1", "--save", "dutch")
    assert r.code == 0, r.err
    tpl = templates.find("dutch", cdir())
    assert tpl.values["defaults"] == {"lang": "Dutch"} and tpl.values["temperature"] == 0.1
    assert tpl.prompt == templates.find("translate", cdir()).prompt


# ------------------------------------------------------------------------------------ aliases


def test_alias_resolves_in_complete_and_chat(run_cli, srv: FakeServer) -> None:
    r = run_cli("alias", "set", "fast", "qwen-flash")
    assert r.code == 0, r.err
    assert run_cli("alias", "list").out == "fast\tqwen-flash\n"
    assert run_cli("complete", "-m", "fast", "hi").code == 0
    assert last_body(srv)["model"] == "qwen-flash"
    r = run_cli("chat", "-m", "fast", stdin=lines("one", "/model fast", "/model qwen-plus", "two"))
    assert r.code == 0, r.err
    assert [b["model"] for b in bodies(srv)[-2:]] == ["qwen-flash", "qwen-plus"]
    r = run_cli("chat", stdin=lines("/model fast", "three"))
    assert last_body(srv)["model"] == "qwen-flash"


def test_alias_in_qwen_model_and_template(run_cli, srv: FakeServer, monkeypatch) -> None:
    run_cli("alias", "set", "big", "qwen3-max")
    monkeypatch.setenv("QWEN_MODEL", "big")
    assert run_cli("complete", "hi").code == 0
    assert last_body(srv)["model"] == "qwen3-max"
    write_template("b", 'model = "big"\n')
    monkeypatch.delenv("QWEN_MODEL")
    assert run_cli("complete", "-T", "b", "hi").code == 0
    assert last_body(srv)["model"] == "qwen3-max"


def test_alias_completion() -> None:
    from qwen_cli.cli.completion import complete_model

    aliases.set_alias(cdir(), "fast", "qwen-flash")
    got = complete_model("fa")
    assert got == [("fast", "alias for qwen-flash")]


def test_alias_mistakes(run_cli) -> None:
    assert_error(run_cli("alias", "set", "qwen-max", "qwen-plus"), "a model's own name")
    assert_error(run_cli("alias", "set", "a b", "qwen-plus"), "one word")
    assert run_cli("alias", "set", "a", "b").code == 0
    assert_error(run_cli("alias", "set", "b", "a"), "loop", "a -> b -> a")
    assert_error(run_cli("alias", "rm", "aa"), "no alias 'aa'", "did you mean a")
    r = run_cli("alias", "rm", "a")
    assert r.code == 0 and "it stood for b" in r.err
    assert aliases.load(cdir()) == {}


# ------------------------------------------------------------------------------------ default


def test_default_model_writes_config_that_resolve_reads(run_cli) -> None:
    path = cdir() / config.CONFIG_FILE
    path.parent.mkdir(parents=True)
    path.write_text('# my settings\nregion = "intl"  # Singapore\n\n[base_urls]\nus = "http://x/v1"\n')
    r = run_cli("default", "model", "qwen-plus")
    assert r.code == 0, r.err
    assert path.read_text() == (
        '# my settings\nregion = "intl"  # Singapore\nmodel = "qwen-plus"\n\n[base_urls]\nus = "http://x/v1"\n'
    )
    s = config.resolve()
    assert (s.model, s.source("model"), s.region) == ("qwen-plus", "config file", "intl")
    assert run_cli("default", "timeout", "30").code == 0
    assert run_cli("default", "cache-control", "off").code == 0
    assert (config.resolve().timeout, config.resolve().cache_control) == (30.0, False)
    r = run_cli("default")
    rows = {ln.split("\t")[0]: ln.split("\t")[1:] for ln in r.out.splitlines()}
    assert rows["model"] == ["qwen-plus", "config file"] and rows["timeout"] == ["30.0", "config file"]
    assert rows["max_retries"] == ["2", "default"]
    r = run_cli("default", "model")
    assert (r.out, r.err) == ("qwen-plus\n", "from config file\n")
    assert run_cli("default", "model", "--unset").code == 0
    assert "model" not in tomllib.loads(path.read_text())


def test_default_refuses_bad_values_and_leaves_the_file(run_cli, monkeypatch) -> None:
    assert run_cli("default", "model", "qwen-plus").code == 0
    path = cdir() / config.CONFIG_FILE
    before = path.read_text()
    assert_error(run_cli("default", "region", "mars"), "unknown region 'mars'", "unchanged")
    assert_error(run_cli("default", "timeout", "soon"), "timeout must be a number")
    assert_error(run_cli("default", "regoin", "cn"), "no setting 'regoin'", "did you mean 'region'")
    assert_error(run_cli("default", "model", "x", "--unset"), "not both")
    assert path.read_text() == before
    monkeypatch.setenv("QWEN_MODEL", "qwen-turbo")
    r = run_cli("default", "model", "qwen-max")
    assert r.code == 0 and "note: QWEN_MODEL overrides it here (model = qwen-turbo)" in r.err


# ------------------------------------------------------------------------------- configfile


def test_configfile_keeps_comments_and_refuses_what_it_cannot_edit(tmp_path: Path) -> None:
    path = tmp_path / "c.toml"
    assert configfile.set_value(path, "fast", "qwen-flash", table="aliases")
    assert configfile.set_value(path, "model", "qwen-plus")
    assert path.read_text() == 'model = "qwen-plus"\n\n[aliases]\nfast = "qwen-flash"\n'
    assert configfile.set_value(path, "model", 'a "quoted"\\ name')
    assert tomllib.loads(path.read_text())["model"] == 'a "quoted"\\ name'
    assert not configfile.set_value(path, "model", 'a "quoted"\\ name')  # unchanged
    assert not configfile.remove_value(path, "nope", table="aliases")
    inline = tmp_path / "inline.toml"
    inline.write_text('aliases = { fast = "x" }  # inline\n')
    with pytest.raises(Exception, match="without disturbing"):
        configfile.set_value(inline, "slow", "y", table="aliases")
    assert inline.read_text() == 'aliases = { fast = "x" }  # inline\n'
    if sys.platform != "win32":
        os.chmod(path, 0o600)
        configfile.set_value(path, "region", "us")
        assert stat.S_IMODE(path.stat().st_mode) == 0o600


# ------------------------------------------------------------------ the installed qwen, for real


@needs_qwen
def test_installed_qwen_in_a_pipe_with_a_template_and_an_alias() -> None:
    import subprocess

    with FakeServerProcess() as fake:
        env = clean_env(QWEN_BASE_URL=fake.base_url, DASHSCOPE_API_KEY="sk-test-e2e-0000")

        def qwen(*args: str, stdin: bytes = b"") -> subprocess.CompletedProcess[bytes]:
            return subprocess.run([QWEN, *args], input=stdin, capture_output=True, env=env, timeout=60)

        assert qwen("alias", "set", "fast", "qwen-flash").returncode == 0
        p = qwen("complete", "-T", "commit", "-m", "fast", "-q", stdin=b"diff --git a/x b/x\n+1\n")
        assert p.returncode == 0, p.stderr
        assert p.stdout == b"echo: diff --git a/x b/x\n+1\n" and p.stderr == b""
        body = [r for r in fake.requests() if r["path"].endswith("/chat/completions")][-1]["json"]
        assert body["model"] == "qwen-flash" and body["temperature"] == 0.2
        assert body["messages"][1] == {"role": "user", "content": "diff --git a/x b/x\n+1\n"}
        p = qwen("complete", "-T", "nope", "x")
        assert p.returncode == 2 and p.stdout == b""
        assert p.stderr.decode().splitlines()[0] == "qwen: error: no template 'nope'"


@needs_qwen
@bash
def test_bash_completes_the_new_commands_template_names_and_aliases() -> None:
    aliases.set_alias(cdir(), "fast", "qwen-flash")
    write_template("review", REVIEW)
    assert {"templates", "alias", "default"} <= set(bash_complete("qwen "))
    assert set(bash_complete("qwen templates ")) == {"list", "show", "edit", "rm"}
    assert bash_complete("qwen complete --template tr") == ["translate"]
    assert bash_complete("qwen chat -T rev") == ["review"]
    assert bash_complete("qwen templates show co") == ["code", "commit"]
    assert bash_complete("qwen complete -m fa") == ["fast"]
    assert bash_complete("qwen alias rm f") == ["fast"]
    assert bash_complete("qwen default mod") == ["model"]


def test_default_and_templates_list_fit_a_narrow_terminal(run_cli, monkeypatch) -> None:
    monkeypatch.setattr(sys.stdout, "isatty", lambda: True)
    monkeypatch.setenv("COLUMNS", "60")
    monkeypatch.setenv("NO_COLOR", "1")
    monkeypatch.setenv("QWEN_BASE_URL", "http://127.0.0.1:45263/compatible-mode/v1")
    for args in (["default"], ["templates", "list"]):
        r = run_cli(*args)
        assert r.code == 0, r.err
        rows = r.out.splitlines()
        assert all(len(row) <= 60 for row in rows), rows  # one row a line, never wrapped
        assert len(rows) == 1 + (len(config.ENV_NAMES) if args == ["default"] else 5)
    base = next(row for row in run_cli("default").out.splitlines() if row.startswith("base_url"))
    assert base.endswith("QWEN_BASE_URL") and "…" in base  # the long value gives way, not its source
