"""Shell completion: the scripts in completions/ match the CLI, and completing through them works."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import types
from pathlib import Path

import pytest

from qwen_cli.cli import completion

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
    assert bash_complete("qwen complete --provider dash") == ["dashscope", "dashscope-native"]
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


def test_resume_without_a_database_completes_nothing() -> None:
    assert completion.complete_conversation("") == []


def test_resume_reads_the_store_read_only() -> None:
    from qwen_cli.store import Store
    from qwen_cli.store.db import default_path
    from qwen_cli.store.records import NewMessage

    with Store.open() as st:
        first = st.create(model="qwen-max")
        st.add(first.id, NewMessage(role="user", content="first"))
        second = st.create(model="qwen-max")
        st.add(second.id, NewMessage(role="user", content="second"))
    before = default_path().read_bytes()
    got = completion.complete_conversation("")
    assert got[:2] == [(second.id, "second"), (first.id, "first")]  # newest first
    assert completion.complete_conversation(first.id[:6]) == [(first.id, "first")]
    assert default_path().read_bytes() == before


def test_resume_completion_through_chat(capsys: pytest.CaptureFixture[str]) -> None:
    """`qwen chat --resume <Tab>` offers the stored ids with their titles."""
    from qwen_cli.cli.app import build
    from qwen_cli.store import Store
    from qwen_cli.store.records import NewMessage

    with Store.open() as st:
        conv = st.create(model="qwen-max")
        st.add(conv.id, NewMessage(role="user", content="about SSE"))
    cmd = build()
    env = {"_QWEN_COMPLETE": "complete_zsh", "_TYPER_COMPLETE_ARGS": f"qwen chat --resume {conv.id[:3]}"}
    with pytest.MonkeyPatch.context() as mp:
        for k, v in env.items():
            mp.setenv(k, v)
        with pytest.raises(SystemExit) as info:
            cmd.main(args=[], prog_name="qwen", complete_var="_QWEN_COMPLETE")
    assert info.value.code == 0
    out = capsys.readouterr().out
    assert conv.id in out and "about SSE" in out


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
