"""Batch input: every request of a file as a compatible-mode chat body, and the lines that are not.

Formats (:func:`read_items` picks one from the file's name unless told):

* JSONL, one request a line, in any of three shapes:

  - ``{"custom_id": "a1", "body": {"model": ..., "messages": [...], ...}}``: a line of the Batch
    API, sent as it is (``method``/``url`` are allowed and ignored);
  - ``{"id": "a1", "prompt": "...", "system": "...", ...}``: a prompt; other keys (``model``,
    ``temperature``, ``max_tokens``...) go into the body as they are;
  - ``"a bare JSON string"``: a prompt;

  blank lines are skipped;
* CSV (``.csv``, ``.tsv``): one request a row, the prompt from ``prompt_column``, the id from
  ``id_column`` (else the row's number);
* a directory (``files_dir``): one request per text file, its text as the prompt, its path
  (relative to the directory) as the id.

Ids default to the line (or row) number. A body gets the model and the options the command
line gave where it does not name them itself; ``enable_thinking`` is always in it (newer models
think, and bill for it, unless told not to). A line that cannot be read and a repeated id are
:class:`Problem` s (line number and why); the rest of the file is still read.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from qwen_cli.errors import UsageError
from qwen_cli.structs import field, struct

FORMATS = ("jsonl", "csv")
# Text files read by --files: anything else in the directory is skipped.
TEXT_SUFFIXES = frozenset({".txt", ".md", ".markdown", ".rst", ".text", ".csv", ".json", ".html", ".xml"})


@struct(frozen=True)
class BatchItem:
    """One request: its id, the body as the compatible API takes it, where it came from."""

    custom_id: str
    body: dict[str, Any]
    line: int  # 1-based line (JSONL), row (CSV, the header being row 1) or file number


CHAT_URL = "/v1/chat/completions"  # the Batch API's url of a chat request line


@struct(frozen=True)
class Problem:
    line: int
    message: str


@struct
class Inputs:
    """What :func:`read_items` found: the requests, in order, and the problems."""

    source: str
    items: list[BatchItem] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)


@struct(frozen=True)
class Defaults:
    """What the command line adds to every body that does not say otherwise."""

    model: str
    system: str | None = None
    params: dict[str, Any] = field(default_factory=dict)  # compatible-mode body fields
    wrap: Callable[[str], str] | None = None  # a template's prompt around each prompt (not "body" lines)

    def body(
        self, prompt: str, system: str | None = None, extra: dict[str, Any] | None = None
    ) -> dict[str, Any]:
        messages: list[dict[str, Any]] = []
        sys_text = system if system is not None else self.system
        if sys_text:
            messages.append({"role": "system", "content": sys_text})
        messages.append({"role": "user", "content": self.wrap(prompt) if self.wrap else prompt})
        return self.complete({"messages": messages, **(extra or {})})

    def complete(self, body: dict[str, Any]) -> dict[str, Any]:
        """``body`` with the model and options it does not name itself (its own win)."""
        out: dict[str, Any] = {"model": self.model}
        out.update(self.params)
        out.update(body)
        if not out.get("model"):
            out["model"] = self.model
        return out


def read_items(
    path: Path | None,
    defaults: Defaults,
    *,
    fmt: str | None = None,
    prompt_column: str | None = None,
    id_column: str | None = None,
    files_dir: Path | None = None,
) -> Inputs:
    """Every request of ``path`` (or of the text files in ``files_dir``) and every problem.

    Raises :class:`UsageError` for what stops the whole file: it cannot be read, it is empty,
    a CSV has no such column. Repeated ids are problems, the first one kept.
    """
    if files_dir is not None:
        found = Inputs(str(files_dir))
        rows: Iterator[BatchItem | Problem] = _files(files_dir, defaults)
    else:
        assert path is not None
        found = Inputs(str(path))
        kind = fmt or ("csv" if path.suffix.lower() in (".csv", ".tsv") else "jsonl")
        try:
            size = path.stat().st_size
        except OSError as exc:
            raise UsageError(
                f"cannot read {path}: {exc.strerror or exc}", hint="check the path (qwen batch plan FILE)"
            ) from None
        if path.is_dir():
            raise UsageError(f"{path} is a directory", hint=f"for one request per file: --files {path}")
        if size == 0:
            raise UsageError(
                f"{path} is empty: no requests", hint="one request a line (see qwen batch --help)"
            )
        rows = _csv(path, defaults, prompt_column, id_column) if kind == "csv" else _jsonl(path, defaults)
    seen: dict[str, int] = {}
    for row in rows:
        if isinstance(row, Problem):
            found.problems.append(row)
        elif row.custom_id in seen:
            found.problems.append(
                Problem(row.line, f"duplicate id {row.custom_id!r} (first on line {seen[row.custom_id]})")
            )
        else:
            seen[row.custom_id] = row.line
            found.items.append(row)
    if not found.items and not found.problems:
        raise UsageError(f"{found.source} has no requests", hint="one request a line (see qwen batch --help)")
    return found


def _jsonl(path: Path, defaults: Defaults) -> Iterator[BatchItem | Problem]:
    with path.open("rb") as f:
        for n, raw in enumerate(f, 1):
            text = raw.decode("utf-8", "replace").strip()
            if not text:
                continue
            try:
                obj = json.loads(text)
            except json.JSONDecodeError as exc:
                yield Problem(n, f"not JSON ({exc.msg} at column {exc.colno})")
                continue
            yield _from_json(obj, n, defaults)


def _from_json(obj: Any, n: int, defaults: Defaults) -> BatchItem | Problem:
    if isinstance(obj, str):
        if not obj.strip():
            return Problem(n, "an empty prompt")
        return BatchItem(str(n), defaults.body(obj), n)
    if not isinstance(obj, dict):
        return Problem(n, f"a JSON {type(obj).__name__}, not a request (an object or a string)")
    if "body" in obj:
        body, cid = obj["body"], obj.get("custom_id")
        if not isinstance(body, dict) or not isinstance(body.get("messages"), list) or not body["messages"]:
            return Problem(n, '"body" has no "messages" list')
        if obj.get("method", "POST") != "POST":
            return Problem(n, f"method {obj.get('method')!r}: only POST chat requests are taken")
        if obj.get("url") not in (None, CHAT_URL):
            return Problem(n, f"url {obj.get('url')!r}: only {CHAT_URL} requests are taken")
        if cid is not None and not isinstance(cid, (str, int)):
            return Problem(n, '"custom_id" must be a string')
        return BatchItem(str(n) if cid is None else str(cid), defaults.complete(dict(body)), n)
    prompt = obj.get("prompt")
    if not isinstance(prompt, str) or not prompt.strip():
        return Problem(n, 'no "prompt" (or "body") in the object')
    system = obj.get("system")
    if system is not None and not isinstance(system, str):
        return Problem(n, '"system" must be a string')
    rid = obj.get("id", obj.get("custom_id"))
    if rid is not None and not isinstance(rid, (str, int)):
        return Problem(n, '"id" must be a string')
    extra = {k: v for k, v in obj.items() if k not in ("id", "custom_id", "prompt", "system")}
    return BatchItem(str(n) if rid is None else str(rid), defaults.body(prompt, system, extra), n)


def _csv(
    path: Path, defaults: Defaults, prompt_column: str | None, id_column: str | None
) -> Iterator[BatchItem | Problem]:
    delimiter = "\t" if path.suffix.lower() == ".tsv" else ","
    with path.open(encoding="utf-8", errors="replace", newline="") as f:
        reader = csv.DictReader(f, delimiter=delimiter)
        columns = reader.fieldnames or []
        column = prompt_column or ("prompt" if "prompt" in columns else None)
        if column is None or column not in columns:
            named = f"no column {prompt_column!r}" if prompt_column else "no prompt column"
            raise UsageError(
                f"{path}: {named} (its columns: {', '.join(columns) or 'none'})",
                hint="name the column holding the prompts: --prompt-column NAME",
            )
        if id_column is not None and id_column not in columns:
            raise UsageError(
                f"{path}: no column {id_column!r} (its columns: {', '.join(columns)})",
                hint="name the column holding the ids, or leave --id-column out to number the rows",
            )
        for row in reader:
            n = reader.line_num
            prompt = row.get(column) or ""
            if not prompt.strip():
                yield Problem(n, f"an empty {column!r}")
                continue
            rid = (row.get(id_column) or "").strip() if id_column else str(n)
            if not rid:
                yield Problem(n, f"an empty {id_column!r}")
                continue
            yield BatchItem(rid, defaults.body(prompt), n)


def _files(root: Path, defaults: Defaults) -> Iterator[BatchItem | Problem]:
    if not root.is_dir():
        raise UsageError(f"{root} is not a directory", hint="--files takes a directory of text files")
    paths = sorted(p for p in root.rglob("*") if p.is_file() and p.suffix.lower() in TEXT_SUFFIXES)
    if not paths:
        raise UsageError(
            f"{root} has no text files", hint=f"--files reads {', '.join(sorted(TEXT_SUFFIXES))} files"
        )
    for n, p in enumerate(paths, 1):
        rel = p.relative_to(root).as_posix()
        try:
            text = p.read_bytes().decode("utf-8", "replace")
        except OSError as exc:
            yield Problem(n, f"{rel}: cannot read it ({exc.strerror or exc})")
            continue
        if not text.strip():
            yield Problem(n, f"{rel}: empty")
            continue
        yield BatchItem(rel, defaults.body(text), n)
