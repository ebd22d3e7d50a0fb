"""Benchmarks of the installed `qwen`, each a ratio against a baseline measured in the same run.

1. Streaming a 2000-delta answer from a local server: CPU time of `qwen complete` writing to a
   terminal (live Markdown) over the same command writing to a pipe (raw text). Target <= 1.6x.
2. Start-up of a short answer: CPU of `qwen complete hi` (to a pipe) over a 15-line httpx script
   sending the same request and printing the streamed text. Target <= 1.4x.
3. Start-up of help: CPU of `qwen --help` and of every `qwen CMD --help` over `python -c pass`.
   Target <= 10x each.
4. `qwen chat` in a pty: wall time from its start to its first prompt. Target <= 0.4 s.

CPU time is the child's user+system time (os.wait4), medians of several runs. Run it on demand:

    .venv/bin/python bench/bench_cli.py [--runs 7]
"""

from __future__ import annotations

import argparse
import os
import pty
import statistics
import subprocess
import sys
import tempfile
import threading
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.benchenv import qwen_env  # noqa: E402
from tests.fakeserver import FakeServerProcess  # noqa: E402

QWEN = str(Path(sys.executable).with_name("qwen"))

# The baseline of 2.: what any program doing qwen's job in Python pays at the least.
HTTPX_SCRIPT = """\
import json, os, sys
import httpx
body = {"model": "qwen-max", "messages": [{"role": "user", "content": sys.argv[1]}],
        "stream": True, "stream_options": {"include_usage": True}}
headers = {"Authorization": "Bearer " + os.environ["DASHSCOPE_API_KEY"]}
url = os.environ["QWEN_BASE_URL"] + "/chat/completions"
with httpx.Client(timeout=120) as client:
    with client.stream("POST", url, json=body, headers=headers) as response:
        response.raise_for_status()
        for line in response.iter_lines():
            if line.startswith("data: ") and line != "data: [DONE]":
                for choice in json.loads(line[6:])["choices"]:
                    sys.stdout.write(choice["delta"].get("content") or "")
                    sys.stdout.flush()
sys.stdout.write("\\n")
"""


def cpu_of(cmd: list[str], env: dict[str, str], *, tty: bool) -> tuple[float, float]:
    """(CPU seconds, wall seconds) of one run of ``cmd``; its output is read and discarded."""
    import time

    t0 = time.perf_counter()
    if tty:
        master, slave = pty.openpty()
        import fcntl
        import struct
        import termios

        fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 40, 100, 0, 0))
        proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=slave, stderr=slave, env=env)
        os.close(slave)

        def drain() -> None:
            while True:
                try:
                    if not os.read(master, 65536):
                        break
                except OSError:
                    break

        reader = threading.Thread(target=drain, daemon=True)
        reader.start()
    else:
        proc = subprocess.Popen(
            cmd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, env=env
        )
        out = proc.stdout
        assert out is not None
        reader = threading.Thread(
            target=lambda: [None for _ in iter(lambda: out.read(65536), b"")], daemon=True
        )
        reader.start()
    _, status, usage = os.wait4(proc.pid, 0)
    proc.returncode = os.waitstatus_to_exitcode(status)
    reader.join(timeout=5)
    if tty:
        os.close(master)
    elif proc.stdout is not None:
        proc.stdout.close()
    if proc.returncode != 0:
        raise SystemExit(f"{' '.join(cmd)} exited {proc.returncode}")
    return usage.ru_utime + usage.ru_stime, time.perf_counter() - t0


def pipe_and_terminal(cmd: list[str], env: dict[str, str], runs: int) -> tuple[float, float]:
    """Median CPU of ``cmd`` writing to a pipe and to a terminal, run in turn so that a busy
    moment hits both alike."""
    cpu_of(cmd, env, tty=False)  # warm the file cache
    cpu_of(cmd, env, tty=True)
    pipe: list[float] = []
    term: list[float] = []
    for _ in range(runs):
        pipe.append(cpu_of(cmd, env, tty=False)[0])
        term.append(cpu_of(cmd, env, tty=True)[0])
    return statistics.median(pipe), statistics.median(term)


def alternating(cmds: list[list[str]], env: dict[str, str], runs: int) -> list[float]:
    """Median CPU of each command, run in turn so that a busy moment hits them all alike."""
    for cmd in cmds:
        cpu_of(cmd, env, tty=False)  # warm the file cache (and write bytecode)
    samples: list[list[float]] = [[] for _ in cmds]
    for _ in range(runs):
        for i, cmd in enumerate(cmds):
            samples[i].append(cpu_of(cmd, env, tty=False)[0])
    return [statistics.median(s) for s in samples]


def to_first_prompt(cmd: list[str], env: dict[str, str], prompt: bytes) -> tuple[float, float]:
    """(wall seconds, CPU seconds) from starting ``cmd`` in a 100x30 pty to ``prompt`` appearing;
    then Ctrl-D. The CPU time tells a busy machine from a slow program."""
    import fcntl
    import select
    import struct
    import termios
    import time

    master, slave = pty.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 30, 100, 0, 0))
    t0 = time.perf_counter()
    proc = subprocess.Popen(cmd, stdin=slave, stdout=slave, stderr=slave, env=env, start_new_session=True)
    os.close(slave)
    seen = b""
    took = cpu = None
    try:
        while took is None:
            ready, _, _ = select.select([master], [], [], 10)
            if not ready:
                raise SystemExit(f"{' '.join(cmd)}: no prompt after 10 s; it wrote {seen[-300:]!r}")
            chunk = os.read(master, 65536)
            if b"\x1b[6n" in chunk:  # answer the cursor position request as a terminal does
                os.write(master, b"\x1b[1;1R")
            seen += chunk
            if prompt in seen:
                took = time.perf_counter() - t0
                with open(f"/proc/{proc.pid}/stat") as f:  # utime and stime, in clock ticks
                    fields = f.read().rsplit(")", 1)[1].split()
                cpu = (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
        os.write(master, b"\x04")
        deadline = time.monotonic() + 10
        while proc.poll() is None and time.monotonic() < deadline:
            if select.select([master], [], [], 0.1)[0]:
                try:
                    os.read(master, 65536)
                except OSError:
                    break
        proc.wait(timeout=10)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        os.close(master)
    assert took is not None and cpu is not None
    return took, cpu


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=7)
    args = ap.parse_args()
    if not os.path.exists(QWEN):
        raise SystemExit(f"no qwen at {QWEN}: pip install -e . first")

    with FakeServerProcess() as srv, tempfile.TemporaryDirectory() as tmpdir:
        tmp = Path(tmpdir)
        env = qwen_env(srv.base_url, tmp)
        cmd = [QWEN, "complete", "benchmark", "-m", "fake-long", "-q"]
        plain, term = pipe_and_terminal(cmd, env, args.runs)
        ratio = term / plain
        print(
            f"stream 2000 deltas   pipe {plain:.3f}s  terminal {term:.3f}s  "
            f"ratio {ratio:.2f}x (target <= 1.6x) {'OK' if ratio <= 1.6 else 'OVER'}"
        )

        script = tmp / "httpx_complete.py"
        script.write_text(HTTPX_SCRIPT)
        baseline, short = alternating(
            [[sys.executable, str(script), "hi"], [QWEN, "complete", "hi"]], env, args.runs
        )
        ratio = short / baseline
        print(
            f"complete hi          httpx script {baseline:.3f}s  qwen complete hi {short:.3f}s  "
            f"ratio {ratio:.2f}x (target <= 1.4x) {'OK' if ratio <= 1.4 else 'OVER'}"
        )

        from qwen_cli.cli.app import COMMANDS

        helps = [[QWEN, "--help"], *([QWEN, name, "--help"] for name in COMMANDS)]
        bare, *costs = alternating([[sys.executable, "-c", "pass"], *helps], env, args.runs)
        print(f"help                 python -c pass {bare:.3f}s")
        for cmd, cost in zip(helps, costs, strict=True):
            ratio = cost / bare
            name = " ".join(["qwen", *cmd[1:]])
            print(
                f"  {name:<23}{cost:.3f}s  ratio {ratio:.1f}x (target <= 10x) "
                f"{'OK' if ratio <= 10 else 'OVER'}"
            )

        to_first_prompt([QWEN, "chat"], env, b"qwen-max>")  # warm the file cache
        waits = [to_first_prompt([QWEN, "chat"], env, b"qwen-max>") for _ in range(args.runs)]
        wait = statistics.median(w for w, _ in waits)
        cpu = statistics.median(c for _, c in waits)
        print(
            f"chat to first prompt {wait:.3f}s wall, {cpu:.3f}s CPU in a pty (medians; target <= 0.4 s "
            f"wall) {'OK' if wait <= 0.4 else 'OVER'}; load average {os.getloadavg()[0]:.1f}"
        )


if __name__ == "__main__":
    main()
