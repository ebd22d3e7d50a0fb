"""The installed `qwen translate` on a 20-paragraph Markdown file: in a pipe and in a terminal."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from tests.e2e import needs_qwen
from tests.fakeserver import FakeServerProcess
from tests.test_e2e import qwen, run_in_tmux
from tests.test_translate import document

pytestmark = needs_qwen


def test_a_document_through_a_pipe_comes_back_whole_and_in_order(srv: FakeServerProcess) -> None:
    doc = document()
    p = qwen(srv, "translate", "-", "--to", "Indonesian", "--chunk-tokens", "80", stdin=doc.encode())
    assert p.returncode == 0, p.stderr
    assert p.stdout.decode() == doc.upper()  # plain bytes: no colour, no redraw
    bodies = [r["json"] for r in srv.requests()]
    assert len(bodies) > 5
    assert all(b["translation_options"]["target_lang"] == "Indonesian" for b in bodies)
    assert all([m["role"] for m in b["messages"]] == ["user"] for b in bodies)
    err = p.stderr.decode().splitlines()
    assert len(err) == 1 and err[0].startswith("qwen-mt-flash · ") and f"{len(bodies)} requests" in err[0]


def test_a_reader_going_away_ends_quietly(srv: FakeServerProcess) -> None:
    import subprocess

    from tests.e2e import QWEN
    from tests.test_e2e import env

    doc = document()
    cmd = f"{QWEN} translate - --to en --chunk-tokens 40 | head -c 10"
    p = subprocess.run(cmd, shell=True, input=doc.encode(), capture_output=True, env=env(srv), timeout=60)
    assert p.returncode == 0 and p.stdout == doc.upper().encode()[:10]
    assert b"Traceback" not in p.stderr


@pytest.mark.skipif(shutil.which("tmux") is None, reason="tmux is not installed")
def test_a_document_in_a_terminal(srv: FakeServerProcess, tmp_path: Path) -> None:
    doc = document()
    src = tmp_path / "doc.md"
    src.write_text(doc, encoding="utf-8")
    text = run_in_tmux(
        srv, "translate", "-", "--to", "id", "--chunk-tokens", "80", "<", str(src), rows=24, cols=120
    )
    # Markdown drawn once: each heading and each paragraph's start exactly once, in order
    heads = [ln.lstrip("# ") for ln in doc.upper().splitlines() if ln.startswith("#")]
    starts = [f"PARAGRAPH {i} SAYS" for i in range(1, 21)]
    pos = 0
    for needle in [*heads[:1], *starts]:
        assert text.count(needle) == 1, needle
        assert text.index(needle) >= pos, needle
        pos = text.index(needle)
    for h in heads:
        assert text.count(h) == 1, h
    assert "RETURN 9" in text and "RETURN 16" in text  # the code blocks, drawn
    assert "**BOLD**" not in text  # rendered as Markdown, not raw
    assert text.count("qwen-mt-flash · ") == 1 and " requests" in text
