"""Fragments (``-f PATH|URL|-``): text put before the question, each labelled with its source.

A fragment is a file (UTF-8 text, at most :data:`MAX_BYTES`; a binary file is refused with a
hint to attach it), a web page's text (:mod:`qwen_cli.webfetch`: http(s), size and time
limited, HTML reduced to text) or stdin (``-`` — then stdin is not also the prompt).

The user message is built by :func:`compose`: the fragments first, the longest first (ties keep
the order given) so repeated runs over the same large file share a prefix DashScope's context
cache can hit, then the question. The store keeps each fragment's text once, by its SHA-256
(:mod:`qwen_cli.store.fragments`); a message keeps only references, and the text sent for an
earlier turn is built again from them. Pure but for reading the sources: nothing prints.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path

from qwen_cli.errors import UsageError
from qwen_cli.store.fragments import Fragment

MAX_BYTES = 1_000_000  # one fragment: about 250k tokens of English, more than any context window

__all__ = ["MAX_BYTES", "Fragment", "compose", "load", "load_all"]


def load(spec: str, *, read_stdin: Callable[[], str]) -> Fragment:
    """The fragment ``-f spec`` names: ``-`` (stdin), an http(s) URL, or a file."""
    if spec == "-":
        text = read_stdin()
        if len(text) > MAX_BYTES:
            raise UsageError(
                f"-f -: stdin holds more than the {MAX_BYTES:,} bytes a fragment may be",
                hint="give the part that matters (head, sed -n, grep ...)",
            )
        return Fragment("stdin", text)
    if spec.lower().startswith(("http://", "https://")):
        return _url(spec)
    return _file(spec)


def load_all(specs: Sequence[str], *, read_stdin: Callable[[], str]) -> list[Fragment]:
    """Each ``-f``, in the order given; stdin may be named once."""
    if sum(1 for s in specs if s == "-") > 1:
        raise UsageError("-f - was given twice: stdin can be read once", hint="give -f - once")
    return [load(s, read_stdin=read_stdin) for s in specs]


def _file(spec: str) -> Fragment:
    path = Path(spec).expanduser()
    try:
        if path.is_dir():
            raise UsageError(f"-f {spec}: is a directory", hint="give a file, or one -f per file")
        with path.open("rb") as f:  # read no more than the limit: <(cmd) and FIFOs have no size
            data = f.read(MAX_BYTES + 1)
        if len(data) > MAX_BYTES:
            known = path.stat().st_size  # 0 for a pipe: only "over" is known
            size = f"{known:,}" if known >= len(data) else f"over {MAX_BYTES:,}"
            raise UsageError(
                f"-f {spec}: the file is {size} bytes, more than the {MAX_BYTES:,} a fragment may be",
                hint="give the part that matters (head, sed -n, grep ... | qwen complete -f - ...)",
            )
    except FileNotFoundError:
        raise UsageError(f"-f {spec}: no such file", hint="check the path; -f - reads stdin") from None
    except PermissionError:
        raise UsageError(f"-f {spec}: permission denied", hint="make the file readable") from None
    except OSError as exc:
        raise UsageError(
            f"-f {spec}: cannot read it ({exc.strerror or exc})", hint="check the path"
        ) from None
    if b"\x00" in data[:8192]:
        raise UsageError(
            f"-f {spec}: not a text file",
            hint="attach images and documents with -a FILE; -f takes UTF-8 text",
        )
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        raise UsageError(
            f"-f {spec}: not UTF-8 text",
            hint="convert it first (iconv -f LATIN1 -t UTF-8 FILE | qwen complete -f - ...), or use -a",
        ) from None
    return Fragment(spec, text.removeprefix("\ufeff"))


def _url(url: str) -> Fragment:
    from qwen_cli import webfetch

    page = webfetch.fetch_text(url, max_bytes=MAX_BYTES)
    return Fragment(url, page.text)


def label(source: str) -> str:
    """The source as it is put in the attribute of the fragment's tag."""
    return source.replace("&", "&amp;").replace('"', "&quot;").replace("\n", " ")


def ordered(fragments: Sequence[Fragment]) -> list[Fragment]:
    """The order fragments are sent in: the longest first, ties as given; a repeat once."""
    seen: set[tuple[str, str]] = set()
    unique = []
    for f in fragments:
        if (f.source, f.sha256) not in seen:
            seen.add((f.source, f.sha256))
            unique.append(f)
    return sorted(unique, key=lambda f: -len(f.text))


def compose(question: str, fragments: Sequence[Fragment]) -> str:
    """The user message: each fragment in a ``<fragment source="...">`` block, then the question."""
    if not fragments:
        return question
    parts = [
        f'<fragment source="{label(f.source)}">\n{f.text.rstrip(chr(10))}\n</fragment>' for f in fragments
    ]
    return "\n\n".join([*parts, question]) if question else "\n\n".join(parts)
