"""`qwen batch fetch`: a settled batch's results, judged line by line, joined to its input."""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from typing import IO, TYPE_CHECKING, Any

from qwen_cli.errors import QwenAPIError, UsageError
from qwen_cli.safetext import shown

if TYPE_CHECKING:
    from qwen_cli.batch.remote import BatchInfo
    from qwen_cli.batch.results import Tally
    from qwen_cli.cli.options import Ask
    from qwen_cli.client import Qwen


def _results(client: Qwen, b: BatchInfo) -> tuple[Iterator[dict[str, Any]], Tally]:
    from qwen_cli.batch import jobs
    from qwen_cli.batch.results import Joiner

    joiner = Joiner()

    def lines() -> Iterator[dict[str, Any]]:
        if b.output_file_id:
            yield from joiner.feed(client.batches.lines(b.output_file_id), in_output=True)
        if b.error_file_id:
            yield from joiner.feed(client.batches.lines(b.error_file_id), in_output=False)
        why = f"no result: the batch {b.status} before this request ran"
        yield from joiner.missing(jobs.custom_ids(b.id), why)

    return lines(), joiner.tally


def run(ask: Ask, client: Qwen, b: BatchInfo, output: str) -> None:
    from qwen_cli.batch import jobs
    from qwen_cli.batch.results import dumps
    from qwen_cli.cli.batch_remote import _note

    if not b.settled:
        raise UsageError(
            f"batch {b.id} is {b.status}: no results yet", hint=f"wait for it with: qwen batch wait {b.id}"
        )
    if b.status == "failed" and not (b.output_file_id or b.error_file_id):
        why = "; ".join(b.errors) or "no reason given"
        raise QwenAPIError(
            f"batch {b.id} failed: {why}", hint="fix the input and submit it again (nothing was billed)"
        )
    if jobs.find(b.id) is None:
        _note(ask, f"{b.id} was not submitted from here: requests without any result cannot be named")
    results, tally = _results(client, b)
    job = jobs.find(b.id)
    if job is not None and job.schema is not None:  # submitted with --schema: each answer checked
        from qwen_cli.batch.structured import checked_lines

        results = checked_lines(results, job.schema, tally)
    if output == "-":
        for r in results:
            sys.stdout.write(shown(dumps(r), sys.stdout, json=True))
        sys.stdout.flush()
        where = "stdout"
    else:
        _write(output, results)
        where = output
    _summary(ask, b, tally, where)


def _write(path: str, results: Iterator[dict[str, Any]]) -> None:
    """Written aside and renamed when whole: an existing file is replaced only by a complete one."""
    from qwen_cli.batch.results import dumps

    tmp = f"{path}.part"
    try:
        f: IO[str] = open(tmp, "w", encoding="utf-8")  # noqa: SIM115 - closed below
    except OSError as exc:
        raise UsageError(
            f"cannot write {path}: {(exc.strerror or str(exc)).lower()}", hint="check the path"
        ) from None
    try:
        with f:
            for r in results:
                f.write(dumps(r))
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def _summary(ask: Ask, b: BatchInfo, t: Tally, where: str) -> None:
    from qwen_cli.cli.batch_remote import _note

    parts = [f"{b.id}: {t.ok} of {t.total} requests answered"]
    if t.failed:
        uncounted = min(t.failed_in_output, max(0, t.failed - t.missing - b.counts.failed))
        note = f" ({uncounted} inside the output file, not in the batch's failure count)" if uncounted else ""
        parts.append(f"{t.failed} failed{note}")
    if t.missing:
        parts.append(f"{t.missing} without a result")
    parts.append(f"{t.prompt_tokens} tokens in, {t.completion_tokens} out")
    _note(ask, ", ".join(parts) + f"; results in {where}")
    if t.failed:
        some = ", ".join(t.failed_ids[:5]) + (", ..." if len(t.failed_ids) > 5 else "")
        raise QwenAPIError(
            f"{t.failed} of {t.total} requests failed ({some})",
            hint=f"their errors are in {where} (the error field); submit those requests again",
        )
