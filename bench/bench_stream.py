"""Reading a stream costs time linear in its size: per delta, and per byte of a long line.

1. Long lines: one SSE line of 10, 20 and 40 MB fed to the decoder in 4 KiB reads; CPU time,
   and the 40 MB cost per MB over the 10 MB one (target <= 1.5x; quadratic was 3x).
2. The stream core in this process: the SSE bytes of an N-delta answer fed to ``StreamCore``
   (decode, parse, normalise, accumulate) and the final result built; process CPU time / N,
   the best of several runs.
3. The installed `qwen complete` reading an N-delta answer from a local server: its CPU time
   (user+system, os.wait4) less that of a 1-delta answer, divided by N, medians of several
   runs. A pipe by default (raw text), ``--tty`` for a terminal (live Markdown).

Both sizes are measured in the same run; target: the 80,000-delta cost at most 1.2x the
10,000-delta cost.

    .venv/bin/python bench/bench_stream.py [--runs 5] [--tty] [--core-only]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.bench_cli import QWEN, cpu_of  # noqa: E402
from bench.benchenv import qwen_env  # noqa: E402
from tests.fakeserver import FakeServerProcess, chat_stream_events  # noqa: E402

SIZES = (10_000, 80_000)
TARGET = 1.2
# A paragraph of 30 deltas, then a blank line: the shape of a long answer.
WORDS = ("alpha ", "beta ", "通义 ", "gamma ", "delta ", "**bold** ") * 5
PARAGRAPH = (*WORDS[:-1], "end.\n\n")


def stream_bytes(n: int) -> str:
    """An SSE answer of ``n`` deltas, ready to send verbatim (one write)."""
    pieces = [PARAGRAPH[i % len(PARAGRAPH)] for i in range(n)]
    events = chat_stream_events(pieces, model="qwen-plus")
    return "".join(f"data: {json.dumps(e, ensure_ascii=False)}\n\n" for e in events) + "data: [DONE]\n\n"


LINE_MB = (10, 20, 40)
LINE_TARGET = 1.5  # linear, give or take the caches: the quadratic decoder gave 3x


def line_seconds(mb: int) -> float:
    """CPU seconds to decode one ``mb``-megabyte SSE line arriving in 4 KiB reads."""
    from qwen_cli.sse import SSEDecoder

    body = b"data: " + b"x" * (mb * 1_000_000) + b"\n\n"
    reads = [body[i : i + 4096] for i in range(0, len(body), 4096)]
    decoder = SSEDecoder(max_event=len(body) * 2)  # the cap is tested elsewhere: measure the work
    start = time.process_time()
    events = [ev for piece in reads for ev in decoder.feed(piece)]
    spent = time.process_time() - start
    assert len(events) == 1 and len(events[0].data) == mb * 1_000_000
    return spent


def core_per_delta(body: bytes, n: int) -> float:
    """CPU seconds per delta of the stream core over ``body`` (read in 16 KiB pieces)."""
    from qwen_cli.providers.dashscope import DashScope
    from qwen_cli.streaming import StreamCore

    core = StreamCore(DashScope(base_url="http://bench.invalid/v1", api_key="sk-bench"))
    pieces = [body[i : i + 16384] for i in range(0, len(body), 16384)]
    start = time.process_time()
    for piece in pieces:
        for _ in core.feed(piece):
            pass
    result = core.completion()
    spent = time.process_time() - start
    assert len(result.content) > n
    return spent / n


def report(what: str, per: dict[int, float], extra: str = "") -> None:
    small, large = SIZES
    ratio = per[large] / per[small]
    print(
        f"cpu per delta ({what})  {small:,}: {per[small] * 1e6:.1f} us  "
        f"{large:,}: {per[large] * 1e6:.1f} us  "
        f"ratio {ratio:.2f}x (target <= {TARGET}x) {'OK' if ratio <= TARGET else 'OVER'}{extra}"
    )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--tty", action="store_true", help="a terminal (live Markdown) instead of a pipe")
    ap.add_argument("--qwen", default=QWEN, help="the qwen to measure (another build, for comparison)")
    ap.add_argument("--core-only", action="store_true", help="only the in-process stream core")
    args = ap.parse_args()
    bodies = {n: stream_bytes(n) for n in (1, *SIZES)}

    secs = {mb: float("inf") for mb in LINE_MB}
    for _ in range(5):  # interleaved, best of five
        for mb in LINE_MB:
            secs[mb] = min(secs[mb], line_seconds(mb))
    line_ratio = (secs[LINE_MB[-1]] / LINE_MB[-1]) / (secs[LINE_MB[0]] / LINE_MB[0])
    verdict = "OK" if line_ratio <= LINE_TARGET else "OVER"
    print(
        "long line  "
        + "  ".join(f"{mb} MB: {secs[mb]:.3f}s" for mb in LINE_MB)
        + f"  cost per MB, 40 MB over 10 MB: {line_ratio:.2f}x (target <= {LINE_TARGET}x) {verdict}"
    )

    raw = {n: bodies[n].encode() for n in SIZES}
    core_per_delta(raw[SIZES[0]], SIZES[0])  # warm up: imports, schema building
    best: dict[int, float] = {n: float("inf") for n in SIZES}
    for _ in range(max(3, args.runs)):
        for n in SIZES:
            best[n] = min(best[n], core_per_delta(raw[n], n))
    report("stream core", best)
    if args.core_only:
        return
    if not os.path.exists(args.qwen):
        raise SystemExit(f"no qwen at {args.qwen}: pip install -e . first")
    with FakeServerProcess() as srv, tempfile.TemporaryDirectory() as tmpdir:
        tmp = Path(tmpdir)
        env = qwen_env(srv.base_url, tmp)
        cmd = [args.qwen, "complete", "benchmark", "-q"]

        def cpu(n: int) -> float:
            srv.enqueue({"writes": [bodies[n]]})
            return cpu_of(cmd, env, tty=args.tty)[0]

        cpu(1)  # warm the file cache and the bytecode
        times: dict[int, list[float]] = {n: [] for n in (1, *SIZES)}
        for _ in range(args.runs):  # interleaved, so a busy moment weighs on every size alike
            for n in times:
                times[n].append(cpu(n))
        base = statistics.median(times[1])
        per = {n: (statistics.median(times[n]) - base) / n for n in SIZES}
    where = "qwen complete, terminal" if args.tty else "qwen complete, pipe"
    report(where, per, f"  (1-delta answer {base:.3f}s)")


if __name__ == "__main__":
    main()
