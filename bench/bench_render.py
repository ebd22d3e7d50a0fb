"""How much CPU live Markdown costs compared with printing raw text.

Feeds the same 2000-delta Markdown answer (paragraphs, lists, a 40-line code block, about five
tokens per delta) through `PlainRenderer` and `MarkdownRenderer`; the Markdown one draws to a
terminal console whose file is os.devnull. Times are process CPU time (time.process_time), so
the renderer's timer thread is included. Each figure is the median of several runs after a
warm-up, and every ratio compares figures measured in this same run.

"delivery" simulates receiving the answer: one json.loads of a DashScope SSE chunk per delta,
done in both runs. "floor" is what rich needs to draw the finished answer once as one Markdown
document: no live renderer can cost less than that.

    .venv/bin/python bench/bench_render.py [--runs 5] [--no-sleep-run]

It ends with the terminal bytes: what the installed `qwen complete` writes to a 100x30 pseudo-
terminal over the answer's bytes, streamed at full speed and with 2 ms between deltas (target
<= 4x; `--bytes-only` runs only that).

This is the renderer in isolation, for tuning it. The product's target (terminal output at
most 1.6x the CPU of pipe output for the whole `qwen complete` process) is measured by
bench/bench_cli.py.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import re
import statistics
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TextIO, TypeVar

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from qwen_cli import render
from qwen_cli.types import ChatCompletionChunk

T = TypeVar("T")

DELTAS = 2000
TOKENS_PER_DELTA = 5
WIDTH, HEIGHT = 100, 40

PROSE = (
    "the model streams tokens while a renderer keeps finished blocks in the scroll-back and redraws "
    "only the unfinished tail, so long answers stay fast; Qwen 通义千问 answers in Chinese too, "
    "with `inline code`, **bold words**, *emphasis* and links like [docs](https://qwen.ai)."
)
WORDS = PROSE.split()


def answer_text() -> str:
    """A long answer: sections of paragraphs and lists, with one 40-line code block."""
    out: list[str] = []
    n = 0

    def paragraph(words: int) -> str:
        nonlocal n
        n += words
        return " ".join(WORDS[(n + i * 7) % len(WORDS)] for i in range(words)).capitalize() + "."

    for section in range(1, 60):
        out.append(f"## Section {section}\n\n{paragraph(90)}\n\n{paragraph(60)}\n")
        if section % 2:
            out += [f"{i}. {paragraph(14)}" for i in range(1, 6)]
        else:
            out += [f"- {paragraph(12)}" for _ in range(4)]
        out.append("")
        if section == 3:
            code = [f"def step_{i}(x: int) -> int:\n    return x * {i}  # step {i}" for i in range(20)]
            out.append("```python\n" + "\n".join(code) + "\n```\n")
    return "\n".join(out)


# About four characters a token, like a BPE tokenizer on English text.
TOKEN = re.compile(r" ?[^\W\d_]{1,4}| ?\d{1,3}| ?[^\w\s]|\s+|[\s\S]")


def deltas(text: str) -> list[str]:
    tokens = TOKEN.findall(text)
    assert "".join(tokens) == text
    pieces = ["".join(tokens[i : i + TOKENS_PER_DELTA]) for i in range(0, len(tokens), TOKENS_PER_DELTA)]
    if len(pieces) < DELTAS:
        raise SystemExit(f"answer too short: {len(pieces)} deltas")
    return pieces[:DELTAS]


def sse_chunk(content: str) -> str:
    return json.dumps(
        {
            "choices": [{"delta": {"content": content}, "index": 0, "finish_reason": None}],
            "object": "chat.completion.chunk",
            "usage": None,
            "created": 1735689600,
            "system_fingerprint": None,
            "model": "qwen-max",
            "id": "chatcmpl-0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0",
        },
        ensure_ascii=False,
    )


def from_json(chunk: str) -> str:
    content: str = json.loads(chunk)["choices"][0]["delta"]["content"]
    return content


def from_sse(event: bytes) -> str:
    """Roughly what the client does per event: split the line, decode, parse, validate."""
    line = event.split(b"\n", 1)[0].decode("utf-8")
    chunk = ChatCompletionChunk.model_validate(json.loads(line[len("data: ") :]))
    return chunk.choices[0].delta.content or ""


def run(
    renderer: render.Renderer, chunks: Sequence[T], deliver: Callable[[T], str], sleep: float = 0.0
) -> float:
    """Process CPU seconds to deliver every chunk to the renderer and finish."""
    start = time.process_time()
    for chunk in chunks:
        renderer.content(deliver(chunk))
        if sleep:
            time.sleep(sleep)
    renderer.finish()
    return time.process_time() - start


def median(runs: int, measure: Callable[[], float]) -> float:
    return statistics.median(measure() for _ in range(runs))


def pty_bytes(cmd: list[str], env: dict[str, str], cols: int = 100, rows: int = 30) -> int:
    """How many bytes ``cmd`` writes to a pseudo-terminal of ``cols`` x ``rows``."""
    import fcntl
    import pty
    import struct
    import subprocess
    import termios

    master, slave = pty.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", rows, cols, 0, 0))
    proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=slave, stderr=subprocess.DEVNULL, env=env)
    os.close(slave)
    total = 0
    while True:
        try:
            data = os.read(master, 65536)
        except OSError:
            break
        if not data:
            break
        total += len(data)
    os.close(master)
    if proc.wait() != 0:
        raise SystemExit(f"{' '.join(cmd)} exited {proc.returncode}")
    return total


def terminal_bytes() -> None:
    """Bytes the installed `qwen complete` writes to a 100x30 terminal for this benchmark's
    answer streamed by the fake server, over the answer's own bytes: at full speed and paced
    (2 ms between deltas)."""
    import tempfile

    from tests.fakeserver import FakeServerProcess, chat_stream_events, long_pieces

    qwen = str(Path(sys.executable).with_name("qwen"))
    if not os.path.exists(qwen):
        print("terminal bytes    skipped: no installed qwen (pip install -e .)")
        return
    answers = {"this answer": deltas(answer_text()), "fake-long": long_pieces()}
    with FakeServerProcess() as srv, tempfile.TemporaryDirectory() as tmp:
        env = {k: v for k, v in os.environ.items() if not k.startswith(("QWEN_", "DASHSCOPE_", "NO_COLOR"))}
        env.update(
            QWEN_BASE_URL=srv.base_url,
            DASHSCOPE_API_KEY="sk-bench",
            TERM="xterm-256color",
            QWEN_CONFIG_DIR=f"{tmp}/config",
            QWEN_DATA_DIR=f"{tmp}/data",
        )
        for name, pieces in answers.items():
            size = len("".join(pieces).encode())
            for label, delay in (("full speed", 0.0), ("paced 2 ms", 0.002)):
                srv.enqueue({"sse": chat_stream_events(pieces), "delay": delay})
                n = pty_bytes([qwen, "complete", "hi", "-q"], env)
                print(
                    f"terminal bytes    {name}, {label}: {n:,} for {size:,} answer bytes, ratio"
                    f" {n / size:.2f}x (target <= 4x) {'OK' if n / size <= 4 else 'OVER'}"
                )


def history_first_page(turns: int = 2000) -> None:
    """`qwen history show` of a long conversation: CPU until the pager gets its first page, over
    rendering it all at once (what it did before). Target: first page within 0.5 s."""
    text = "\n\n".join(
        f"## You\n\nQuestion {i}: {PROSE}\n\n## qwen-max\n\nAnswer {i}. {PROSE}\n\n- point {i}\n- more"
        for i in range(turns)
    )
    start = time.process_time()
    first = next(render.markdown_pages(text, width=WIDTH, color=True))
    lazy = time.process_time() - start
    start = time.process_time()
    render.render_markdown(text, out=open(os.devnull, "w"), terminal=True, color=True)  # noqa: SIM115
    whole = time.process_time() - start
    print(
        f"history show      {turns} turns ({len(text):,} chars): first page {lazy:.3f}s"
        f" ({len(first):,} bytes), all at once {whole:.3f}s, ratio {lazy / whole:.2f}x"
        " (target first page <= 0.5 s)"
        f" {'OK' if lazy <= 0.5 else 'OVER'}"
    )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--no-sleep-run", action="store_true", help="skip the run with 2 ms between deltas")
    ap.add_argument(
        "--bytes-only", action="store_true", help="only the installed qwen: terminal bytes, history show"
    )
    args = ap.parse_args()
    if args.bytes_only:
        terminal_bytes()
        history_first_page()
        return
    if os.environ.get("TERM") in ("dumb", "unknown"):
        print("warning: TERM is dumb, rich draws no live region; set TERM=xterm-256color")

    text = answer_text()
    pieces = deltas(text)
    answer = "".join(pieces)
    chunks = [sse_chunk(p) for p in pieces]
    events = [f"data: {c}\n\n".encode() for c in chunks]
    sink: TextIO = open(os.devnull, "w", encoding="utf-8")  # noqa: SIM115

    def plain() -> render.Renderer:
        return render.make_renderer(out=sink, err=sink, terminal=False, color=False)

    def markdown() -> render.Renderer:
        return render.make_renderer(out=sink, err=sink, terminal=True, color=True, width=WIDTH, height=HEIGHT)

    def floor() -> float:
        from rich.markdown import Markdown

        console = render._console(sink, terminal=True, color=True, width=WIDTH, height=HEIGHT)
        start = time.process_time()
        console.print(Markdown(answer))
        return time.process_time() - start

    for _ in range(2):  # warm-up: imports, pygments lexers, rich caches
        run(markdown(), pieces, str)
        run(plain(), chunks, from_json)
        run(plain(), events, from_sse)
        floor()

    n = args.runs
    code_lines = len(re.search(r"```python\n(.*?)```", answer, re.S).group(1).splitlines())  # type: ignore[union-attr]
    print(
        f"answer: {len(pieces)} deltas, ~{TOKENS_PER_DELTA} tokens each, {len(answer):,} chars, "
        f"{code_lines}-line code block; console {WIDTH}x{HEIGHT}; median of {n} runs, CPU seconds"
    )
    p_only = median(n, lambda: run(plain(), pieces, str))
    m_only = median(n, lambda: run(markdown(), pieces, str))
    fl = median(n, floor)
    print(f"render only       plain {p_only:.3f}s  markdown {m_only:.3f}s")
    print(
        f"floor             rich drawing the whole answer once {fl:.3f}s; markdown = {m_only / fl:.2f}x floor"
    )
    p = median(n, lambda: run(plain(), chunks, from_json))
    m = median(n, lambda: run(markdown(), chunks, from_json))
    best = (p - p_only + fl) / p  # delivery + floor over delivery + plain
    print(
        f"render+delivery   plain {p:.3f}s  markdown {m:.3f}s  ratio {m / p:.2f}x ("
        f"floor-bound best {best:.2f}x)  [json.loads per delta]"
    )
    p2 = median(n, lambda: run(plain(), events, from_sse))
    m2 = median(n, lambda: run(markdown(), events, from_sse))
    print(
        f"render+client     plain {p2:.3f}s  markdown {m2:.3f}s  ratio {m2 / p2:.2f}x"
        f"  [SSE line + json.loads + ChatCompletionChunk record per delta]"
    )
    if not args.no_sleep_run:
        wall = time.perf_counter()
        ps = run(plain(), chunks, from_json, sleep=0.002)
        wall = time.perf_counter() - wall
        ms = run(markdown(), chunks, from_json, sleep=0.002)
        print(
            f"2 ms between      plain {ps:.3f}s  markdown {ms:.3f}s  ratio {ms / ps:.2f}x  (1 run);"
            f" markdown adds {ms - ps:.3f}s CPU in {wall:.1f}s of streaming, {(ms - ps) / wall:.1%} of a core"
        )

    terminal_bytes()
    history_first_page()

    # Sanity: plain wrote the answer unchanged.
    buf = io.StringIO()
    r = render.PlainRenderer(out=buf, err=buf)
    for piece in pieces:
        r.content(piece)
    r.finish()
    assert buf.getvalue().rstrip("\n") == answer.rstrip("\n")


if __name__ == "__main__":
    main()
