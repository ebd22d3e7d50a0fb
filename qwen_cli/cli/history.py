"""`qwen history`: the kept conversations, listed, shown, searched, exported, removed.

Data goes to stdout: a table on a terminal, tab-separated lines in a pipe. A store that
cannot be read is an error naming the file and how to recover it (``qwen history doctor``).
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator, Sequence
from typing import TYPE_CHECKING, Annotated, Optional

import typer

from qwen_cli.errors import StoreError, UsageError

if TYPE_CHECKING:
    from qwen_cli.store import Conversation, Store

app = typer.Typer(
    name="history",
    no_args_is_help=False,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
    context_settings={"help_option_names": ["-h", "--help"]},
)

Limit = Annotated[int, typer.Option("--limit", "-n", min=1, help="Show at most this many.")]
Json = Annotated[bool, typer.Option("--json", help="Print JSON (full titles and texts, ISO times).")]
Id = Annotated[str, typer.Argument(metavar="ID", help="Conversation id; a unique prefix is enough.")]


def _json(data: object) -> None:
    """``data`` as one JSON document on stdout."""
    import json

    from qwen_cli.safetext import shown

    sys.stdout.write(shown(json.dumps(data, ensure_ascii=False, indent=2) + "\n", sys.stdout, json=True))
    sys.stdout.flush()


def _full_title(store: Store, conv: Conversation) -> str:
    """The title as the first message says it, not cut to fit a table (``--json``, pipes)."""
    first = next((m for m in store.messages(conv.id) if m.role == "user"), None)
    return " ".join(first.content.split()) if first is not None else conv.title


def _store() -> Store:
    from qwen_cli.store import Store

    return Store.open()


def _table(
    headers: Sequence[str],
    rows: Sequence[Sequence[str]],
    *,
    right: Sequence[int] = (),
    wide: int = -1,
    drop: Sequence[int] = (),
) -> None:
    from qwen_cli.cli.tables import print_table

    print_table(headers, rows, right=right, wide=wide, drop=drop)


@app.callback(invoke_without_command=True)
def history(ctx: typer.Context, limit: Limit = 20, json: Json = False) -> None:
    """List the kept conversations, most recent first.

    Columns: id, start time, model, title (from the first message), turns,
    tokens. In a pipe: one tab-separated line per conversation, titles in
    full; --json: a JSON list.

    Examples:

      qwen history

      qwen history show 3fa2

      qwen history search "context window"

      qwen history export 3fa2 --format json > chat.json
    """
    if ctx.invoked_subcommand is not None:
        return
    from qwen_cli.transcript import iso_time, local_time

    with _store() as store:
        convs = store.recent(limit)
        if json or not sys.stdout.isatty():
            for c in convs:
                c.title = _full_title(store, c)
    if json:
        keys = ("id", "title", "model", "system", "source", "turns", "tokens")
        _json(
            [
                {
                    **{k: getattr(c, k) for k in keys},
                    "created_at": iso_time(c.created_at),
                    "updated_at": iso_time(c.updated_at),
                }
                for c in convs
            ]
        )
        return
    rows = [
        [c.id, local_time(c.created_at), c.model or "", c.title or "(untitled)", str(c.turns), str(c.tokens)]
        for c in convs
    ]
    if not rows and sys.stdout.isatty():
        sys.stderr.write("no conversations yet: start one with qwen chat\n")
        return
    _table(
        ["id", "started", "model", "title", "turns", "tokens"], rows, right=(4, 5), wide=3, drop=(2, 1, 5, 4)
    )


@app.command()
def show(conversation: Id, json: Json = False) -> None:
    """Show a conversation as Markdown (rendered and paged on a terminal: $PAGER, else less -R);
    --json: every message as JSON."""
    from qwen_cli import render, transcript

    with _store() as store:
        conv = store.get(store.resolve(conversation))
        msgs = store.messages(conv.id)
    if json:
        _json(transcript.to_data(conv, msgs))
        return
    text = transcript.to_markdown(conv, msgs)
    plain = "NO_COLOR" in os.environ or os.environ.get("TERM") == "dumb"
    terminal = sys.stdout.isatty() and not plain
    if not terminal or not text.strip():
        render.render_markdown(text, out=sys.stdout, terminal=terminal, color=terminal)
        return
    import shutil

    pages = render.markdown_pages(text, width=shutil.get_terminal_size().columns, color=True)
    _page(pages)


def _page(pages: Iterator[str]) -> None:
    """Rendered text through $PAGER (else ``less -R``), as git does; straight out with PAGER=cat
    or no pager. Rendered as the pager reads, so the first screen comes at once."""
    import shlex
    import shutil
    import subprocess

    command = os.environ.get("PAGER", "less -R").strip()
    argv = shlex.split(command) if command else []
    if not argv or argv == ["cat"] or shutil.which(argv[0]) is None:
        for page in pages:
            sys.stdout.write(page)
        sys.stdout.flush()
        return
    env = dict(os.environ)
    env.setdefault("LESS", "FRX")  # one screen or less: no pager; colours; the screen kept
    proc = subprocess.Popen(argv, stdin=subprocess.PIPE, env=env)
    assert proc.stdin is not None
    try:
        with proc.stdin:
            for page in pages:
                proc.stdin.write(page.encode())
                proc.stdin.flush()
    except (BrokenPipeError, OSError):
        pass  # the reader quit the pager
    finally:
        while True:  # Ctrl-C belongs to the pager while it runs
            try:
                proc.wait()
                break
            except KeyboardInterrupt:
                continue


@app.command()
def search(
    words: Annotated[list[str], typer.Argument(metavar="TEXT", help="Words to find.")],
    limit: Limit = 50,
    json: Json = False,
) -> None:
    """Find messages containing every word of TEXT, newest first.

    Prints the conversation id, time, who spoke and the text around the match;
    --json: a JSON list with each message's whole text.
    """
    from qwen_cli.transcript import iso_time, local_time

    text = " ".join(words)
    with _store() as store:
        hits = store.search(text, limit)
    if json:
        _json(
            [
                {
                    "conversation": h.conversation.id,
                    "title": h.conversation.title,
                    "role": h.message.role,
                    "created_at": iso_time(h.message.created_at),
                    "content": h.message.content,
                }
                for h in hits
            ]
        )
        if not hits:
            raise typer.Exit(1)
        return
    if not hits:
        sys.stderr.write(f"nothing found for {text!r}\n")
        raise typer.Exit(1)
    rows = [
        [
            h.conversation.id,
            local_time(h.message.created_at),
            h.message.role,
            excerpt(h.message.content, words[0]),
        ]
        for h in hits
    ]
    _table(["id", "time", "role", "text"], rows, wide=3, drop=(1, 2))


def excerpt(text: str, word: str, width: int = 80) -> str:
    """``text`` around the first ``word`` (any case), on one line."""
    flat = " ".join(text.split())
    at = flat.lower().find(word.lower())
    start = max(0, at - width // 3) if at >= 0 else 0
    piece = flat[start : start + width]
    return ("…" if start else "") + piece + ("…" if start + width < len(flat) else "")


@app.command()
def export(
    conversation: Annotated[
        Optional[str],
        typer.Argument(metavar="ID", help="Conversation id; a unique prefix is enough.", show_default=False),
    ] = None,
    format: Annotated[str, typer.Option("--format", "-f", help="md (Markdown) or json.")] = "md",
    output: Annotated[
        Optional[str], typer.Option("--output", "-o", metavar="FILE", help="Write here instead of stdout.")
    ] = None,
    data: Annotated[
        bool,
        typer.Option("--data", help="JSON lines of the --schema answers (of ID, or of every conversation)."),
    ] = False,
) -> None:
    """Print a conversation as Markdown or JSON (every message, usage and timing).

    --data prints the structured results instead: one JSON line per answer given with
    --schema or /schema, of conversation ID or of every one kept.
    """
    from pathlib import Path

    from qwen_cli import transcript

    fmt = format.lower()
    if fmt not in ("md", "markdown", "json"):
        raise UsageError(f"unknown format {format!r}", hint="use --format md or --format json")
    if conversation is None and not data:
        raise UsageError("which conversation? give its ID", hint="`qwen history` lists them")
    with _store() as store:
        if data:
            from qwen_cli.cli.schema_options import data_lines

            text, fmt = data_lines(store, conversation), "json"
        else:
            assert conversation is not None
            conv = store.get(store.resolve(conversation))
            msgs = store.messages(conv.id)
            text = transcript.to_json(conv, msgs) if fmt == "json" else transcript.to_markdown(conv, msgs)
    if output is None:
        from qwen_cli.safetext import shown

        sys.stdout.write(shown(text, sys.stdout, json=fmt == "json"))
        sys.stdout.flush()
        return
    try:
        Path(output).expanduser().write_text(text, encoding="utf-8")
    except OSError as exc:
        raise UsageError(f"cannot write {output}: {exc.strerror or exc}", hint="check the path") from exc


@app.command()
def rm(
    conversations: Annotated[
        list[str], typer.Argument(metavar="ID...", help="Conversation ids or prefixes.")
    ],
    yes: Annotated[bool, typer.Option("--yes", "-y", help="Do not ask for confirmation.")] = False,
) -> None:
    """Delete conversations for good (asks first on a terminal)."""
    with _store() as store:
        convs = [store.get(store.resolve(c)) for c in conversations]
        if not yes:
            if not sys.stdin.isatty():
                raise UsageError(
                    "refusing to delete without confirmation (stdin is not a terminal)",
                    hint="add --yes to delete without asking",
                )
            from qwen_cli.safetext import shown

            for c in convs:
                line = f"  {c.id}  {c.title or '(untitled)'}  ({c.turns} turns)\n"
                sys.stderr.write(shown(line, sys.stderr))
            n = len(convs)
            if not typer.confirm(
                f"Delete {'this conversation' if n == 1 else f'these {n} conversations'}?", err=True
            ):
                sys.stderr.write("nothing deleted\n")
                raise typer.Exit(1)
        for c in convs:
            store.delete(c.id)
            sys.stderr.write(f"deleted {c.id}\n")


@app.command()
def doctor(
    repair: Annotated[
        bool,
        typer.Option("--repair", help="Save what can be read into a new file; keep the damaged one."),
    ] = False,
) -> None:
    """Check the history database; --repair saves what a damaged one still holds.

    The check is SQLite's integrity check. --repair copies every readable row into a
    new history.db and keeps the damaged file beside it as history.db.broken-TIME
    (with its -wal and -shm files): nothing is deleted.

    Examples:

      qwen history doctor

      qwen history doctor --repair
    """
    from qwen_cli.store import default_path
    from qwen_cli.store.doctor import check
    from qwen_cli.store.doctor import repair as recover

    path = default_path()
    health = check(path)
    if not health.exists:
        sys.stdout.write(f"{path}: no history yet\n")
        return
    if health.ok:
        n, m = health.counts.get("conversations", 0), health.counts.get("messages", 0)
        sys.stdout.write(f"{path}: ok ({n} conversations, {m} messages)\n")
        return
    for problem in health.problems[:5]:
        sys.stderr.write(f"  {problem}\n")
    if not repair:
        raise StoreError(
            f"the history database {path} is damaged ({health.problems[0]})",
            path=str(path),
            damaged=True,
            hint=f"`qwen history doctor --repair` saves what can be read into a new {path.name} "
            "and keeps the damaged file beside it",
        )
    done = recover(path)
    now = check(path).counts  # with the placeholders made for orphaned messages
    n, m = now.get("conversations", 0), now.get("messages", 0)
    sys.stdout.write(f"{path}: repaired, kept {n} conversations, {m} messages\n")
    if done.unreadable or done.refused:
        sys.stdout.write(
            f"  {done.unreadable} damaged stretch(es) skipped, {done.refused} unreadable row(s) left out\n"
        )
    sys.stdout.write(f"  the damaged file is kept as {done.kept_as}\n")
