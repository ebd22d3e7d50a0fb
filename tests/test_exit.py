"""Ending the process: `exit_now` skips the interpreter's teardown but loses nothing."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from tests.e2e import QWEN, clean_env, needs_qwen
from tests.fakeserver import FakeServerProcess


def run(code: str, tmp_path: Path) -> subprocess.CompletedProcess[bytes]:
    out = tmp_path / "out.txt"
    with out.open("wb") as f:  # a file: stdout is block-buffered, as in `qwen ... > answer.md`
        p = subprocess.run([sys.executable, "-c", code], stdout=f, stderr=subprocess.PIPE, timeout=30)
    p.stdout = out.read_bytes()
    return p


def test_buffered_output_is_flushed_and_the_code_kept(tmp_path: Path) -> None:
    p = run(
        "import sys\nfrom qwen_cli.cli import exit_now\n"
        "sys.stdout.write('x' * 200000)\nsys.stderr.write('err')\nexit_now(3)",
        tmp_path,
    )
    assert (p.returncode, len(p.stdout), p.stderr) == (3, 200000, b"err")


def test_atexit_functions_run(tmp_path: Path) -> None:
    p = run(
        "import atexit, sys\nfrom qwen_cli.cli import exit_now\n"
        "atexit.register(lambda: sys.stdout.write('at exit'))\nexit_now(0)",
        tmp_path,
    )
    assert (p.returncode, p.stdout) == (0, b"at exit")


def test_a_running_thread_is_waited_for(tmp_path: Path) -> None:
    mark = tmp_path / "mark"
    p = run(
        "import threading, time\nfrom pathlib import Path\nfrom qwen_cli.cli import exit_now\n"
        f"def work():\n    time.sleep(0.3)\n    Path({str(mark)!r}).write_text('done')\n"
        "threading.Thread(target=work).start()\nexit_now(4)",
        tmp_path,
    )
    assert p.returncode == 4 and mark.read_text() == "done"


def test_a_store_left_open_is_closed(tmp_path: Path) -> None:
    """Closing folds the WAL back into history.db: the file alone holds every conversation."""
    db = tmp_path / "history.db"
    p = run(
        "from qwen_cli.cli import exit_now\nfrom qwen_cli.store.db import Store\n"
        f"s = Store.open({str(db)!r})\ns.db.execute('CREATE TABLE t (x)')\nexit_now(0)",
        tmp_path,
    )
    assert p.returncode == 0, p.stderr
    assert db.exists() and not db.with_name("history.db-wal").exists()


def test_a_closed_pipe_is_not_an_error() -> None:
    code = "import sys\nfrom qwen_cli.cli import exit_now\nsys.stdout.write('y' * 300000)\nexit_now(0)"
    with subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, stderr=subprocess.PIPE) as p:
        assert p.stdout is not None and p.stderr is not None
        p.stdout.read(10)
        p.stdout.close()
        err = p.stderr.read()
    assert p.returncode == 0 and err == b""


@needs_qwen
def test_the_installed_qwen_keeps_the_answer_and_the_store(srv: FakeServerProcess, tmp_path: Path) -> None:
    env = clean_env(QWEN_BASE_URL=srv.base_url, DASHSCOPE_API_KEY="sk-e2e-not-a-real-key-0000")
    out = tmp_path / "answer.txt"
    with out.open("wb") as f:
        p = subprocess.run(
            [QWEN, "complete", "-m", "fake-long", "long one"],
            stdout=f,
            stderr=subprocess.PIPE,
            env=env,
            timeout=60,
        )
    assert p.returncode == 0, p.stderr
    h = subprocess.run([QWEN, "history", "--json"], capture_output=True, env=env, timeout=60)
    (row,) = json.loads(h.stdout)
    shown = subprocess.run(
        [QWEN, "history", "show", row["id"], "--json"], capture_output=True, env=env, timeout=60
    )
    stored = json.loads(shown.stdout)["messages"][-1]["content"]
    assert len(stored) > 2000 and out.read_text().rstrip("\n") == stored.rstrip("\n")
    data = Path(env["QWEN_DATA_DIR"])
    assert (data / "history.db").exists() and not (data / "history.db-wal").exists()  # closed, not left
