"""A batch answer checked against the run's schema (``qwen batch run --schema``).

The rule is :func:`qwen_cli.engine.structured.checked`, the one ``complete`` uses: the answer
checked; if invalid, ONE repair request on the same model (the violations and the answer);
still invalid, a failure naming the first violation's JSON path. The rule is synchronous and
the runner is not, so it runs on a thread of its own while its repair request is sent on the
run's event loop (and paced like every other request). Nothing paid for is lost: the line
keeps the raw answer and the tokens of both requests.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Coroutine, Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING, Any

from qwen_cli.errors import QwenAPIError
from qwen_cli.structs import struct

if TYPE_CHECKING:
    from qwen_cli.batch.results import Tally
    from qwen_cli.schema import Shape
    from qwen_cli.types import AnswerResult, Usage


@struct
class Outcome:
    """What goes into the result line: ``fields`` (answer, data...), the usage of every request
    made, and the error when the answer is still invalid (or the repair request failed)."""

    fields: dict[str, Any]
    usage: Usage
    error: dict[str, Any] | None = None


def total(answers: list[AnswerResult]) -> Usage:
    from qwen_cli.types import Usage

    out = Usage()
    for a in answers:
        u = a.usage
        if u is not None:
            out = Usage(
                prompt_tokens=out.prompt_tokens + u.prompt_tokens,
                completion_tokens=out.completion_tokens + u.completion_tokens,
                total_tokens=out.total_tokens + u.total_tokens,
            )
    return out if len(answers) > 1 or answers[0].usage is None else answers[0].usage


async def settle(
    shape: Shape, first: AnswerResult, repair: Callable[[str], Coroutine[Any, Any, AnswerResult]], model: str
) -> Outcome:
    """``first`` checked, repaired once by ``repair(text)`` if need be."""
    from qwen_cli.engine.structured import checked
    from qwen_cli.schema import SchemaMismatchError

    loop = asyncio.get_running_loop()
    answers = [first]

    def again(text: str) -> AnswerResult:
        got: AnswerResult = asyncio.run_coroutine_threadsafe(repair(text), loop).result()
        answers.append(got)
        return got

    def rule() -> Any:
        return checked(shape, first, again, note=lambda _: None, model=model, kept=False)

    with ThreadPoolExecutor(1, thread_name_prefix="qwen-schema") as pool:
        try:
            done = await loop.run_in_executor(pool, rule)
        except SchemaMismatchError as err:
            error: dict[str, Any] = {
                "status": None,
                "code": "schema_mismatch",
                "message": err.message,
                "path": err.path,
            }
            return Outcome(_fields(answers, None), total(answers), error)
        except QwenAPIError as err:  # the repair request itself failed: the first answer is kept
            failed = {"status": err.status_code, "code": err.code, "message": err.message}
            return Outcome(_fields(answers, None), total(answers), failed)
    return Outcome(_fields(answers, done.data), total(answers))


def _fields(answers: list[AnswerResult], data: Any) -> dict[str, Any]:
    last = answers[-1]
    out: dict[str, Any] = {"answer": last.content, "data": data}
    if len(answers) > 1:
        out["repaired"] = True
        out["first_answer"] = answers[0].content  # paid for: kept
    return out


def checked_lines(
    results: Iterator[dict[str, Any]], schema: dict[str, Any], tally: Tally
) -> Iterator[dict[str, Any]]:
    """``qwen batch fetch`` of a batch submitted with ``--schema``: each answer checked against
    the schema remembered with the job (no repair: the Batch API has answered already). A valid
    answer gets its ``data``; an invalid one becomes a failure naming the first violation's
    JSON path, its raw answer kept."""
    from qwen_cli.schema import check

    for r in results:
        answer = r.get("answer")
        if r.get("error") is not None or not isinstance(answer, str):
            yield r
            continue
        data, problems = check(answer, schema)
        if not problems:
            yield {**r, "data": data}
            continue
        first = problems[0]
        more = f" (and {len(problems) - 1} more)" if len(problems) > 1 else ""
        message = f"the answer does not match the schema: {first}{more}"
        tally.ok -= 1
        tally.failed += 1
        tally.failed_ids.append(str(r.get("custom_id")))
        yield {
            **r,
            "data": None,
            "error": {"code": "schema_mismatch", "message": message, "path": first.path},
        }
