"""`qwen batch run` at scale against a local fake with a fixed 50 ms latency.

    python bench/bench_batch.py [--n 10000] [--small 1000] [--concurrency 64]

The fake (below, asyncio, one process of its own, so it is not the bottleneck and its CPU is
not counted) answers every chat request after 50 ms and counts the requests per prompt.
Printed, each measured in this run:

* wall time of N requests vs the ideal ``N x 50 ms / concurrency`` plus start-up (a 1-request
  run's time less its 50 ms), target <= 1.5x;
* peak RSS of the `qwen` process (target < 150 MiB);
* CPU seconds per request at ``--small`` and at ``--n`` requests, and their ratio (target <= 1.2);
* resume after ``kill -9`` at a random point: requests sent again for prompts whose answer was
  already in the output before the kill (target 0), and in flight at the kill (sent again, as
  they must be: no answer was kept).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import signal
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from benchenv import qwen_env

QWEN = str(Path(sys.executable).with_name("qwen"))
LATENCY = 0.05


# ---------------------------------------------------------------------------------- the fake
def serve(port_file: str) -> None:
    counts: dict[str, int] = {}

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                lines = head.decode("latin-1").split("\r\n")
                path = lines[0].split(" ")[1]
                length = 0
                for h in lines[1:]:
                    if h.lower().startswith("content-length:"):
                        length = int(h.split(":", 1)[1])
                body = await reader.readexactly(length) if length else b""
                if path.startswith("/_stats"):
                    out = json.dumps(counts).encode()
                elif path.startswith("/_reset"):
                    counts.clear()
                    out = b"{}"
                else:
                    req = json.loads(body)
                    prompt = req["messages"][-1]["content"]
                    counts[prompt] = counts.get(prompt, 0) + 1
                    await asyncio.sleep(LATENCY)
                    out = json.dumps(
                        {
                            "id": "x",
                            "model": req.get("model"),
                            "choices": [
                                {"index": 0, "message": {"content": "ok " + prompt}, "finish_reason": "stop"}
                            ],
                            "usage": {"prompt_tokens": 10, "completion_tokens": 3, "total_tokens": 13},
                        }
                    ).encode()
                writer.write(
                    b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n"
                    % len(out)
                    + out
                )
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            writer.close()

    async def main() -> None:
        server = await asyncio.start_server(handle, "127.0.0.1", 0, backlog=512)
        port = server.sockets[0].getsockname()[1]
        Path(port_file).write_text(str(port))
        async with server:
            await server.serve_forever()

    asyncio.run(main())


def stats(url: str) -> dict[str, int]:
    with urllib.request.urlopen(url + "/_stats") as r:
        return dict(json.loads(r.read()))


def reset(url: str) -> None:
    urllib.request.urlopen(url + "/_reset").read()


# ---------------------------------------------------------------------------------- the runs
def run(cmd: list[str], env: dict[str, str]) -> tuple[float, float, float]:
    """Wall seconds, CPU seconds and peak RSS (MiB) of one `qwen` run."""
    start = time.perf_counter()
    p = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    _, status, ru = os.wait4(p.pid, 0)
    wall = time.perf_counter() - start
    p.returncode = os.waitstatus_to_exitcode(status)
    err = p.stderr.read().decode() if p.stderr else ""
    if p.returncode != 0:
        raise SystemExit(f"qwen failed ({p.returncode}): {err}")
    return wall, ru.ru_utime + ru.ru_stime, ru.ru_maxrss / 1024


def prompts(path: Path, n: int) -> Path:
    path.write_text("".join(json.dumps(f"p{i}") + "\n" for i in range(n)))
    return path


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=10_000)
    ap.add_argument("--small", type=int, default=1_000)
    ap.add_argument("--concurrency", type=int, default=64)
    args = ap.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="bench-batch-"))
    port_file = tmp / "port"
    server = subprocess.Popen([sys.executable, __file__, "--serve", str(port_file)])
    try:
        while not port_file.exists() or not port_file.read_text():
            time.sleep(0.05)
        url = f"http://127.0.0.1:{port_file.read_text()}"
        env = qwen_env(url + "/v1", tmp)

        def batch(n: int, name: str) -> list[str]:
            src, out = str(prompts(tmp / f"{name}.jsonl", n)), str(tmp / f"{name}.out")
            return [
                QWEN,
                "batch",
                "run",
                src,
                "-o",
                out,
                "-j",
                str(args.concurrency),
                "--no-cache",
                "--force",
            ]

        run(batch(1, "warm"), env)
        one, _, _ = run(batch(1, "one"), env)
        startup = max(one - LATENCY, 0.0)
        _, small_cpu, _ = run(batch(args.small, "small"), env)
        wall, cpu, rss = run(batch(args.n, "big"), env)
        ideal = args.n * LATENCY / args.concurrency + startup
        per_small, per_big = small_cpu / args.small, cpu / args.n
        print(f"start-up (1 request, less 50 ms): {startup:.2f} s")
        print(
            f"{args.n:,} requests -j {args.concurrency}: {wall:.2f} s, ideal {ideal:.2f} s: "
            f"{wall / ideal:.2f}x (<= 1.5)"
        )
        print(f"peak RSS: {rss:.0f} MiB (< 150)")
        print(
            f"CPU a request: {per_small * 1000:.2f} ms at {args.small:,}, "
            f"{per_big * 1000:.2f} ms at {args.n:,}: "
            f"ratio {per_big / per_small:.2f} (<= 1.2)"
        )

        # kill -9 at a random point, then the same command
        reset(url)
        n = args.n // 2
        cmd = batch(n, "kill")
        cmd.remove("--force")
        out = tmp / "kill.out"
        for fraction in (random.uniform(0.2, 0.6), 0.1, 0.02):  # the kill must land mid-run
            out.unlink(missing_ok=True)
            for f in (tmp / "data").glob("batch/runs/*"):
                f.unlink()
            p = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            time.sleep(startup + fraction * (wall - startup) * n / args.n)
            done_first = p.poll() is not None
            if not done_first:
                os.kill(p.pid, signal.SIGKILL)
            p.wait()
            if not done_first:
                break
            reset(url)
        answered = {json.loads(x)["custom_id"] for x in out.read_text().splitlines() if x.endswith("}")}
        before = stats(url)
        run(cmd, env)
        after = stats(url)
        again = {k: after[k] - before.get(k, 0) for k in after if after[k] > before.get(k, 0)}
        dup = sum(v for k, v in again.items() if str(int(k[1:]) + 1) in answered)
        in_flight = sum(v for k, v in again.items() if k in before and str(int(k[1:]) + 1) not in answered)
        lines = out.read_text().splitlines()
        ids = {json.loads(x)["custom_id"] for x in lines}
        print(
            f"kill -9 after {len(answered):,} of {n:,}: resumed, "
            f"{dup} duplicate(s) of answered requests (0), "
            f"{in_flight} in flight at the kill sent again; output {len(ids):,} ids in {len(lines):,} lines"
        )
    finally:
        server.send_signal(signal.SIGTERM)
        server.wait()


if __name__ == "__main__":
    if len(sys.argv) == 3 and sys.argv[1] == "--serve":
        signal.signal(signal.SIGTERM, lambda *a: sys.exit(0))
        serve(sys.argv[2])
    else:
        main()
