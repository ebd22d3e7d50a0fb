"""Translating with Qwen-MT: the options body, long texts cut into pieces, one job stored once.

No typer or rich here and nothing printed: ``qwen translate`` (``cli/translate.py``) draws.

* :func:`read_pairs` reads a glossary (``--terms``, CSV) or a translation memory (``--tm``, TSV)
  as ``source,target`` pairs, refusing anything that is not two columns of UTF-8.
* :func:`translation_options` is the ``translation_options`` object Qwen-MT takes in place of a
  system message (it refuses one) [DOC: model-studio/machine-translation].
* :func:`split` cuts a text at paragraph boundaries into pieces that fit the model's input,
  never inside a fenced code block; each piece keeps the exact whitespace that followed it, so
  the translations put back together keep the document's order and Markdown structure.
* :class:`Job` sends each piece as the one user message of its own request (Qwen-MT is
  single-turn), hands each :class:`~qwen_cli.engine.reply.Reply` to a display, and stores the
  whole job as one exchange: the source when it starts, the translation (complete, interrupted
  or broken off) when it ends.
"""

from __future__ import annotations

import csv
import io
import re
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

from qwen_cli.errors import QwenAPIError, UsageError
from qwen_cli.structs import struct

if TYPE_CHECKING:
    from qwen_cli.catalog import ModelSpec
    from qwen_cli.client import Qwen
    from qwen_cli.engine.reply import Reply
    from qwen_cli.store import Store
    from qwen_cli.types import AnswerResult, ChatRequest

DEFAULT_MODEL = "qwen-mt-flash"
# Qwen-MT models that stream increments; the others resend the whole text so far in each
# chunk, so they are asked for whole answers [DOC: machine-translation, "model selection":
# qwen-mt-flash "supports incremental streaming output"; lite: INF].
_INCREMENTAL = ("qwen-mt-flash", "qwen-mt-lite")
_WHOLE = ("qwen-mt-plus", "qwen-mt-turbo")


@struct(frozen=True)
class Pair:
    source: str
    target: str

    def wire(self) -> dict[str, str]:
        return {"source": self.source, "target": self.target}


# ----------------------------------------------------------------------------- glossaries


def read_pairs(path: str, *, flag: str) -> list[Pair]:
    """The ``source,target`` pairs of ``path``: comma-separated, or tab-separated for ``.tsv``
    (``--tm`` defaults to tabs, any other extension but ``.csv``). Blank lines are skipped; a
    first line ``source,target`` is a header. Anything else is a :class:`UsageError`."""
    p = Path(path).expanduser()
    tabs = p.suffix.lower() == ".tsv" or (flag == "--tm" and p.suffix.lower() != ".csv")
    shape = "source<TAB>target" if tabs else "source,target"
    try:
        raw = p.read_bytes()
    except FileNotFoundError:
        raise UsageError(f"{flag} {path}: no such file", hint=f"give a file of {shape} lines") from None
    except IsADirectoryError:
        raise UsageError(f"{flag} {path}: is a directory", hint=f"give a file of {shape} lines") from None
    except OSError as err:
        raise UsageError(
            f"{flag} {path}: cannot be read ({err.strerror})", hint="check its permissions"
        ) from None
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as err:
        line = raw[: err.start].count(b"\n") + 1
        raise UsageError(
            f"{flag} {path} line {line}: not UTF-8 text",
            hint="save it as UTF-8 (e.g. iconv -f GBK -t UTF-8 file > file.utf8)",
        ) from None
    pairs: list[Pair] = []
    reader = csv.reader(io.StringIO(text, newline=""), delimiter="\t" if tabs else ",")
    for row in reader:
        if not any(cell.strip() for cell in row):
            continue
        cells = [cell.strip() for cell in row]
        if len(cells) != 2 or not all(cells):
            got = (
                f"{len(cells)} column{'s' if len(cells) != 1 else ''}" if len(cells) != 2 else "an empty one"
            )
            raise UsageError(
                f"{flag} {path} line {reader.line_num}: expected two columns ({shape}), got {got}",
                hint="one pair a line; quote a cell that holds the separator",
            )
        if not pairs and [c.lower() for c in cells] == ["source", "target"]:
            continue
        pairs.append(Pair(cells[0], cells[1]))
    if not pairs:
        raise UsageError(f"{flag} {path}: no {shape} pairs in it", hint="one pair a line")
    return pairs


def translation_options(
    source_lang: str,
    target_lang: str,
    *,
    terms: list[Pair] | None = None,
    tm: list[Pair] | None = None,
    domain: str | None = None,
) -> dict[str, Any]:
    """The ``translation_options`` object: languages by English name (or ``auto``), then the
    glossary (``terms``), translation memory (``tm_list``) and domain hint (``domains``) when
    given [DOC for the features; the key names are INF, from the documentation's examples]."""
    opts: dict[str, Any] = {"source_lang": source_lang, "target_lang": target_lang}
    if terms:
        opts["terms"] = [p.wire() for p in terms]
    if tm:
        opts["tm_list"] = [p.wire() for p in tm]
    if domain and domain.strip():
        opts["domains"] = domain.strip()
    return opts


def streams_increments(model: str) -> bool:
    """Whether ``model`` streams increments (unknown models are assumed to)."""
    key = model.strip().lower()
    return not key.startswith(_WHOLE) or key.startswith(_INCREMENTAL)


# ----------------------------------------------------------------------------- pieces


@struct(frozen=True)
class Piece:
    """A part of the text sent as one request, and the whitespace that follows it, kept as is."""

    text: str
    after: str = ""


_FENCE = re.compile(r"^ {0,3}(`{3,}|~{3,})")
_SENTENCE_END = re.compile(r"(?<=[.!?。！？;；])\s+")


def chunk_budget(spec: ModelSpec, options: dict[str, Any]) -> int:
    """Most estimated tokens of text per piece for ``spec``: what is left of its input once the
    options are counted, and at most half its output (a translation may run longer)."""
    import json

    from qwen_cli.conversation import estimate_tokens

    overhead = estimate_tokens(json.dumps(options, ensure_ascii=False)) + 64
    return max(64, min(spec.input_limit - overhead, spec.max_output // 2))


def split(text: str, budget: int) -> tuple[str, list[Piece]]:
    """``text`` as (leading whitespace, pieces): paragraphs packed into pieces of at most
    ``budget`` estimated tokens, in order. A fenced code block is never cut; a paragraph
    longer than the budget is cut at lines, then sentences, then characters."""
    from qwen_cli.conversation import estimate_tokens

    lead, blocks = _blocks(text)
    pieces: list[Piece] = []
    for block, fenced, after in blocks:
        if fenced or estimate_tokens(block) <= budget:
            pieces.append(Piece(block, after))
        else:
            parts = _cut(block, budget)
            pieces += [*parts[:-1], Piece(parts[-1].text, parts[-1].after + after)]
    return lead, _pack(pieces, budget)


def _blocks(text: str) -> tuple[str, list[tuple[str, bool, str]]]:
    """Leading blank space, then (block, holds a fence, blank space after) for each block."""
    lead = ""
    blocks: list[tuple[str, bool, str]] = []
    block, gap, fenced = "", "", False
    fence: str | None = None  # the open fence's marker
    for line in text.splitlines(keepends=True):
        m = _FENCE.match(line)
        if fence is not None:  # inside a code block: every line belongs to it
            block += line
            if m and _closes(m.group(1), fence, line):
                fence = None
            continue
        if not line.strip():
            gap += line
            continue
        if gap:
            if block:
                blocks.append((block, fenced, gap))
                block, fenced = "", False
            else:
                lead = gap
            gap = ""
        block += line
        if m:
            fence, fenced = m.group(1), True
    if block:
        blocks.append((block, fenced, gap))
    elif gap:
        lead += gap
    # a block's final newline belongs to the space after it, so no translation has to keep it
    out = []
    for b, f, g in blocks:
        body = b.rstrip("\r\n")
        out.append((body, f, b[len(body) :] + g))
    return lead, out


def _closes(marker: str, fence: str, line: str) -> bool:
    """Whether ``line`` (starting with ``marker``) closes the code block ``fence`` opened."""
    return marker[0] == fence[0] and len(marker) >= len(fence) and not line.strip()[len(marker) :]


def _cut(block: str, budget: int) -> list[Piece]:
    """An overlong paragraph as pieces within ``budget``: at lines, sentences, characters."""
    from qwen_cli.conversation import estimate_tokens

    out: list[Piece] = []
    for line in block.splitlines(keepends=True):
        body = line.rstrip("\r\n")
        end = line[len(body) :]
        if estimate_tokens(body) <= budget:
            out.append(Piece(body, end))
            continue
        spans = _SENTENCE_END.split(body)
        seps = [*_SENTENCE_END.findall(body), end]
        for span, sep in zip(spans, seps, strict=True):
            while estimate_tokens(span) > budget:  # no sentence end in reach: cut by characters
                n = _fit(span, budget)
                out.append(Piece(span[:n], ""))
                span = span[n:]
            out.append(Piece(span, sep))
    return out


def _fit(text: str, budget: int) -> int:
    """The longest prefix of ``text`` (at least one character) within ``budget`` tokens."""
    from qwen_cli.conversation import estimate_tokens

    lo, hi = 1, len(text)
    while lo < hi:
        mid = (lo + hi + 1) // 2
        if estimate_tokens(text[:mid]) <= budget:
            lo = mid
        else:
            hi = mid - 1
    return lo


def _pack(pieces: list[Piece], budget: int) -> list[Piece]:
    """Neighbouring pieces joined (with the space between them) while they fit ``budget``."""
    from qwen_cli.conversation import estimate_tokens

    packed: list[Piece] = []
    text, after, size = "", "", 0
    for p in pieces:
        cost = estimate_tokens(p.text)
        if text and size + estimate_tokens(after) + cost > budget:
            packed.append(Piece(text, after))
            text, after, size = "", "", 0
        if text:
            text += after
            size += estimate_tokens(after)
        text, after, size = text + p.text, p.after, size + cost
    if text or after:
        packed.append(Piece(text, after))
    return packed


# ----------------------------------------------------------------------------- the job

Show = Callable[["Reply"], "AnswerResult"]


class Job:
    """One translation: its pieces sent in order, shown by the caller's display, stored once."""

    def __init__(
        self,
        *,
        client: Qwen,
        spec: ModelSpec,
        text: str,
        options: dict[str, Any],
        budget: int,
        store: Store | None = None,
    ) -> None:
        self.client, self.spec, self.text, self.options = client, spec, text, options
        self.store = store
        self.lead, self.pieces = split(text, budget)
        self.results: list[AnswerResult] = []

    def requests(self) -> Iterator[tuple[Piece, ChatRequest | None]]:
        """Each piece with its request (None for a piece with nothing to translate)."""
        from qwen_cli.engine.request import Sampling, build_request
        from qwen_cli.types import Message

        sampling = Sampling(no_stream=not streams_increments(self.spec.id))
        for piece in self.pieces:
            if not piece.text.strip():
                yield piece, None
                continue
            req = build_request(self.client, self.spec, [Message(role="user", content=piece.text)], sampling)
            req.params.translation_options = self.options
            yield piece, req

    def run(self, show: Show, write: Callable[[str], None]) -> AnswerResult:
        """Send the pieces in order: ``show`` draws each reply (and returns its result),
        ``write`` puts the text between translations (whitespace kept as it was). The first
        error or interruption ends the job; what was translated is stored either way, then
        the error is raised."""
        from qwen_cli.engine.reply import Reply
        from qwen_cli.engine.session import held_interrupts
        from qwen_cli.store import NewMessage
        from qwen_cli.types import AnswerResult

        stored = {"translation_options": self.options}
        conv_id = None
        if self.store is not None:
            with held_interrupts():
                conv = self.store.create(model=self.spec.id, source="translate", options=stored)
                self.store.add(conv.id, NewMessage("user", self.text, model=self.spec.id, options=stored))
            conv_id = conv.id
        started = time.monotonic()
        parts = [self.lead]
        write(self.lead)
        for piece, req in self.requests():
            if req is not None:
                reply = Reply(self.client, req)
                try:
                    ans = show(reply)
                except QwenAPIError as err:  # before the first byte
                    ans = AnswerResult(model=req.model, error=err, request_id=err.request_id)
                except KeyboardInterrupt:  # while connecting: nothing came for this piece
                    ans = reply.end(interrupted=True)
                self.results.append(ans)
                parts.append(ans.content)
                if ans.state != "complete":
                    break
            else:
                parts.append(piece.text)
                write(piece.text)
            parts.append(piece.after)
            write(piece.after)
        whole = self.combined("".join(parts), time.monotonic() - started)
        if self.store is not None and conv_id is not None:
            msg = NewMessage.of_result(
                whole, error=_scrubbed(whole.error), model=self.spec.id, options=stored
            )
            with held_interrupts():
                self.store.add(conv_id, msg)
        if whole.error is not None:
            raise whole.error
        return whole

    def combined(self, content: str, elapsed: float) -> AnswerResult:
        """The job's one result: the whole text, every piece's usage added up."""
        from qwen_cli.types import AnswerResult, Usage

        rs = self.results
        usages = [r.usage for r in rs if r.usage is not None]
        usage = None
        if usages:
            usage = Usage(
                prompt_tokens=sum(u.prompt_tokens for u in usages),
                completion_tokens=sum(u.completion_tokens for u in usages),
                total_tokens=sum(u.total_tokens for u in usages),
            )
        first = rs[0] if rs else None
        last = rs[-1] if rs else None
        return AnswerResult(
            content=content,
            model=(first.model if first and first.model else self.spec.id),
            finish_reason=last.finish_reason if last else None,
            usage=usage,
            id=last.id if last else None,
            request_id=last.request_id if last else None,
            elapsed=elapsed,
            first_token_at=first.first_token_at if first else None,
            interrupted=any(r.interrupted for r in rs),
            output_closed=any(r.output_closed for r in rs),
            error=next((r.error for r in rs if r.error is not None), None),
            done=bool(rs) and all(r.done for r in rs),
        )


def _scrubbed(err: QwenAPIError | None) -> str | None:
    if err is None:
        return None
    from qwen_cli.redact import scrub_known

    return scrub_known(err.message)
