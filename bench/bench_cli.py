"""Benchmarks of the installed `qwen`, each a ratio against a baseline measured in the same run.

1. Streaming a 2000-delta answer from a local server: CPU time of `qwen complete` writing to a
   terminal (live Markdown) over the same command writing to a pipe (raw text). Target <= 1.6x.
2. Start-up: `qwen --help` over `python -c pass`.

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

from tests.fakeserver import FakeServerProcess  # noqa: E402

QWEN = str(Path(sys.executable).with_name("qwen"))


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


def median_cpu(cmd: list[str], env: dict[str, str], runs: int, *, tty: bool) -> float:
    cpu_of(cmd, env, tty=tty)  # warm the file cache
    return statistics.median(cpu_of(cmd, env, tty=tty)[0] for _ in range(runs))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=7)
    args = ap.parse_args()
    if not os.path.exists(QWEN):
        raise SystemExit(f"no qwen at {QWEN}: pip install -e . first")

    with FakeServerProcess() as srv, tempfile.TemporaryDirectory() as tmpdir:
        tmp = Path(tmpdir)
        # PYTHONDONTWRITEBYTECODE would recompile every module on every run; installed
        # copies have bytecode, so the warm-up run may write it as an install would.
        skip = ("QWEN_", "DASHSCOPE_", "NO_COLOR", "PYTHONDONTWRITEBYTECODE")
        env = {k: v for k, v in os.environ.items() if not k.startswith(skip)}
        env.update(
            QWEN_BASE_URL=srv.base_url,
            DASHSCOPE_API_KEY="sk-bench",
            TERM="xterm-256color",
            QWEN_CONFIG_DIR=str(tmp / "config"),
            QWEN_DATA_DIR=str(tmp / "data"),  # each answer is logged, as it is for a user
        )
        cmd = [QWEN, "complete", "benchmark", "-m", "fake-long", "-q"]
        plain = median_cpu(cmd, env, args.runs, tty=False)
        term = median_cpu(cmd, env, args.runs, tty=True)
        ratio = term / plain
        print(
            f"stream 2000 deltas   pipe {plain:.3f}s  terminal {term:.3f}s  "
            f"ratio {ratio:.2f}x (target <= 1.6x) {'OK' if ratio <= 1.6 else 'OVER'}"
        )

        bare = median_cpu([sys.executable, "-c", "pass"], env, args.runs, tty=False)
        helped = median_cpu([QWEN, "--help"], env, args.runs, tty=False)
        print(
            f"start-up             python -c pass {bare:.3f}s  qwen --help {helped:.3f}s  "
            f"ratio {helped / bare:.1f}x"
        )


if __name__ == "__main__":
    main()
