"""Shell completion: the scripts in completions/ match the CLI, and completing through them works."""

from __future__ import annotations

import os
import shutil
import sqlite3
import subprocess
import sys
import types
from pathlib import Path

import pytest

from qwen_cli.cli import completion
from qwen_cli.cli import options as o

ROOT = Path(__file__).resolve().parent.parent
QWEN = Path(sys.executable).with_name("qwen")
needs_qwen = pytest.mark.skipif(not QWEN.exists(), reason="the qwen console script is not installed")


@pytest.mark.parametrize("shell", sorted(completion.FILES))
def test_shipped_scripts_are_current(shell: str) -> None:
    shipped = (ROOT / "completions" / completion.FILES[shell]).read_text(encoding="utf-8")
    assert shipped == completion.script(shell), (
        f"completions/{completion.FILES[shell]} drifted from the CLI: run `python completions/generate.py`"
    )


@needs_qwen
@pytest.mark.parametrize("shell", sorted(completion.FILES))
def test_scripts_are_what_qwen_show_completion_prints(shell: str) -> None:
    p = subprocess.run(
        [str(QWEN), "--show-completion", shell],
        capture_output=True,
        text=True,
        env={**os.environ, "_TYPER_COMPLETE_TEST_DISABLE_SHELL_DETECTION": "1"},
        timeout=30,
    )
    assert p.returncode == 0, p.stderr
    body = "\n".join(ln for ln in completion.script(shell).splitlines() if not ln.startswith("# "))
    assert p.stdout.strip() == body.strip()


def bash_complete(line: str, **env: str) -> list[str]:
    """What Tab offers after ``line`` in bash with completions/qwen.bash sourced."""
    words = line.split(" ")
    script = (
        f"source {ROOT / 'completions' / 'qwen.bash'}\n"
        f"COMP_WORDS=({' '.join(repr(w) for w in words)})\n"
        f"COMP_CWORD={len(words) - 1}\n"
        "_qwen_completion qwen\n"
        'printf "%s\\n" "${COMPREPLY[@]}"\n'
    )
    path = f"{QWEN.parent}{os.pathsep}{os.environ.get('PATH', '')}"
    p = subprocess.run(
        ["bash", "--norc", "--noprofile", "-c", script],
        capture_output=True,
        text=True,
        env={**os.environ, "PATH": path, **env},
        timeout=30,
    )
    assert p.returncode == 0 and p.stderr == "", p.stderr
    return [ln for ln in p.stdout.splitlines() if ln]


bash = pytest.mark.skipif(shutil.which("bash") is None, reason="bash is not installed")


@needs_qwen
@bash
def test_bash_completes_subcommands_and_options() -> None:
    assert {"complete", "auth", "models"} <= set(bash_complete("qwen "))
    assert set(bash_complete("qwen auth ")) == {"login", "status", "logout"}
    assert bash_complete("qwen models s") == ["show"]
    login = set(bash_complete("qwen auth login --"))
    assert {"--with-key-stdin", "--no-verify", "--region", "--provider", "--base-url"} <= login
    assert not any("key" in o and o != "--with-key-stdin" for o in login)  # no way to pass a key
    assert {"--vision", "--thinking", "--refresh", "--offline", "--json"} <= set(
        bash_complete("qwen models --")
    )


@needs_qwen
@bash
def test_bash_completes_model_names_regions_and_cached_models(tmp_path: Path) -> None:
    assert bash_complete("qwen complete -m qwen-vl") == ["qwen-vl-max", "qwen-vl-plus", "qwen-vl-ocr"]
    assert bash_complete("qwen models show qwq") == ["qwq-plus", "qwq-32b"]
    assert bash_complete("qwen auth status --region ") == ["cn", "intl", "us"]
    assert bash_complete("qwen complete --provider dash") == ["dashscope"]
    from qwen_cli import modelcache

    cache = tmp_path / "cache"
    modelcache.save(cache, "dashscope", "http://x/v1", ["qwen-max", "qwen-custom-lora"])
    got = bash_complete("qwen complete --model qwen-c", QWEN_CACHE_DIR=str(cache))
    assert got == ["qwen-custom-lora"]


@needs_qwen
@pytest.mark.parametrize(
    ("shell", "extra"),
    [("zsh", {}), ("fish", {"_TYPER_COMPLETE_FISH_ACTION": "get-args"})],
)
def test_zsh_and_fish_protocols_give_models_with_descriptions(shell: str, extra: dict[str, str]) -> None:
    """What the zsh and fish scripts ask `qwen` (run here without those shells)."""
    p = subprocess.run(
        [str(QWEN)],
        capture_output=True,
        text=True,
        env={
            **os.environ,
            "_QWEN_COMPLETE": f"complete_{shell}",
            "_TYPER_COMPLETE_ARGS": "qwen complete -m qvq",
            **extra,
        },
        timeout=30,
    )
    assert p.returncode == 0, p.stderr
    assert "qvq-max" in p.stdout and "vision, thinking, stream-only" in p.stdout


def test_model_completion_needs_no_network_and_never_fails(monkeypatch: pytest.MonkeyPatch) -> None:
    ids = [name for name, _ in completion.complete_model("qwen3-")]
    assert "qwen3-max" in ids and all(i.startswith("qwen3-") for i in ids)
    monkeypatch.setattr("qwen_cli.catalog.names", lambda: 1 / 0)
    assert completion.complete_model("q") == []


# ---------------------------------------------------------------------------------- --resume ids


def fake_store(monkeypatch: pytest.MonkeyPatch, **attrs: object) -> None:
    module = types.ModuleType("qwen_cli.store")
    for k, v in attrs.items():
        setattr(module, k, v)
    monkeypatch.setitem(sys.modules, "qwen_cli.store", module)


def test_resume_without_a_store_completes_nothing(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "qwen_cli.store", None)  # import fails, as before issue 3 lands
    assert completion.complete_conversation("") == []


def test_resume_uses_the_store_hook(monkeypatch: pytest.MonkeyPatch) -> None:
    fake_store(
        monkeypatch,
        complete_ids=lambda inc: [(i, f"title {i}") for i in ("ab12", "ab34") if i.startswith(inc)],
    )
    assert completion.complete_conversation("ab3") == [("ab34", "title ab34")]


def test_resume_reads_the_database_read_only(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    db = tmp_path / "conversations.db"
    fake_store(monkeypatch, db_path=lambda: db)
    assert completion.complete_conversation("") == []  # no database yet
    with sqlite3.connect(db) as con:
        con.execute("CREATE TABLE conversations (id TEXT PRIMARY KEY, title TEXT)")
        con.executemany(
            "INSERT INTO conversations VALUES (?, ?)", [("c1a", "first"), ("c2b", "second"), ("d3", "x")]
        )
    con.close()
    before = db.read_bytes()
    assert completion.complete_conversation("c") == [("c2b", "second"), ("c1a", "first")]  # newest first
    assert db.read_bytes() == before


def test_resume_completion_through_a_typer_option(monkeypatch: pytest.MonkeyPatch, capsys) -> None:
    """The shared `o.Resume` option, as `qwen chat --resume` will use it, completes store ids."""
    import typer

    fake_store(monkeypatch, complete_ids=lambda inc: [("7f3a9c", "about SSE")])
    app = typer.Typer()

    @app.command()
    def chat(resume: o.Resume = None) -> None:
        pass

    monkeypatch.setenv("_TINY_COMPLETE", "complete_zsh")
    monkeypatch.setenv("_TYPER_COMPLETE_ARGS", "tiny --resume 7f")
    with pytest.raises(SystemExit) as info:
        typer.main.get_command(app).main(args=[], prog_name="tiny", complete_var="_TINY_COMPLETE")
    assert info.value.code == 0
    out = capsys.readouterr().out
    assert "7f3a9c" in out and "about SSE" in out


# --------------------------------------------------------------------------- --install-completion


@needs_qwen
def test_install_completion_works_as_typer_provides_it(tmp_path: Path) -> None:
    p = subprocess.run(
        [str(QWEN), "--install-completion", "bash"],
        capture_output=True,
        text=True,
        env={**os.environ, "HOME": str(tmp_path), "_TYPER_COMPLETE_TEST_DISABLE_SHELL_DETECTION": "1"},
        timeout=30,
    )
    assert p.returncode == 0, p.stderr
    installed = tmp_path / ".bash_completions" / "qwen.sh"
    assert f"bash completion installed in {installed}" in p.stdout
    body = "\n".join(ln for ln in completion.script("bash").splitlines() if not ln.startswith("# "))
    assert installed.read_text().strip() == body.strip()
    assert f"source '{installed}'" in (tmp_path / ".bashrc").read_text()


def test_readme_says_how_to_install_them() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert "completions/qwen.bash" in readme and "qwen --install-completion" in readme
