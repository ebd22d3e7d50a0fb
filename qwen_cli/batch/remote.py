"""DashScope's Batch API (OpenAI-compatible): ``client.batches``. Sync only; no printing.

Wire facts: ../shared/protocol/dashscope-more.md section (c)1.

* upload: ``POST {base}/files`` (multipart, ``purpose=batch``), built by ``providers/files.py``;
* ``POST {base}/batches`` ``{"input_file_id", "endpoint", "completion_window", "metadata"}``;
* ``GET {base}/batches/{id}``, ``POST {base}/batches/{id}/cancel``,
  ``GET {base}/batches?after=&limit=`` (``{"data", "has_more", "last_id"}``);
* results: ``GET {base}/files/{file_id}/content`` for ``output_file_id`` and ``error_file_id``,
  one JSON object a line, read here in bounded pieces and handed on line by line.

A 404 on a batch's own URL is an unknown batch id (``ORIGIN_BATCH``); on ``/batches`` itself, a
server without a batch service (``ORIGIN_BATCH_API``): ``cli/hints.py`` says what to do.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING, Any, BinaryIO

from qwen_cli import structs
from qwen_cli.errors import ORIGIN_BATCH, ORIGIN_BATCH_API, APIStatusError, NotFoundError
from qwen_cli.providers import files as F
from qwen_cli.providers.base import RequestSpec

if TYPE_CHECKING:
    from qwen_cli.client import Qwen
    from qwen_cli.types import FileObject

PURPOSE = "batch"
CHAT_ENDPOINT = "/v1/chat/completions"
TERMINAL = frozenset({"completed", "failed", "expired", "cancelled"})
STATUSES = (
    "validating",
    "in_progress",
    "finalizing",
    "completed",
    "failed",
    "expired",
    "cancelling",
    "cancelled",
)
LIST_LIMIT = 100  # the most one page may hold
# A results file is read in pieces and split into lines; one line may not pass this (the input's
# own limit is 6 MB a line, and an answer adds less than that).
MAX_RESULT_LINE = 16 << 20
MAX_RESULT_FILE = 2 << 30


@structs.struct(frozen=True)
class Counts:
    total: int = 0
    completed: int = 0
    failed: int = 0


@structs.struct(frozen=True)
class BatchInfo:
    """A batch as the service describes it; fields it did not send are ``None``."""

    id: str
    status: str
    endpoint: str | None = None
    input_file_id: str | None = None
    output_file_id: str | None = None
    error_file_id: str | None = None
    completion_window: str | None = None
    created_at: int | None = None
    completed_at: int | None = None
    expires_at: int | None = None
    counts: Counts = Counts()
    errors: list[str] = structs.field(default_factory=list)
    name: str | None = None  # metadata.ds_name
    raw: dict[str, Any] = structs.field(default_factory=dict, repr=False)

    @property
    def settled(self) -> bool:
        return self.status in TERMINAL


def _int(v: Any) -> int | None:
    return v if isinstance(v, int) and not isinstance(v, bool) and v >= 0 else None


def _str(v: Any) -> str | None:
    return v if isinstance(v, str) and v else None


def _errors(v: Any) -> list[str]:
    """``errors`` as lines: ``{"data": [{"code", "message", "line"}]}`` or a list or a string."""
    items = v.get("data") if isinstance(v, dict) else v
    if isinstance(items, str):
        return [items]
    out: list[str] = []
    for item in items if isinstance(items, list) else []:
        if isinstance(item, dict):
            where = f"line {item['line']}: " if _int(item.get("line")) is not None else ""
            text = ": ".join(str(x) for x in (item.get("code"), item.get("message")) if x)
            out.append(where + (text or "unknown error"))
        elif item:
            out.append(str(item))
    return out


def parse_batch(body: Any) -> BatchInfo:
    if not isinstance(body, dict) or not _str(body.get("id")) or not _str(body.get("status")):
        raise APIStatusError("the Batch API answered without a batch id and status", body=body)
    rc: dict[str, Any] = body["request_counts"] if isinstance(body.get("request_counts"), dict) else {}
    meta: dict[str, Any] = body["metadata"] if isinstance(body.get("metadata"), dict) else {}
    return BatchInfo(
        id=body["id"],
        status=body["status"],
        endpoint=_str(body.get("endpoint")),
        input_file_id=_str(body.get("input_file_id")),
        output_file_id=_str(body.get("output_file_id")),
        error_file_id=_str(body.get("error_file_id")),
        completion_window=_str(body.get("completion_window")),
        created_at=_int(body.get("created_at")),
        completed_at=_int(body.get("completed_at")),
        expires_at=_int(body.get("expires_at")),
        counts=Counts(*(_int(rc.get(k)) or 0 for k in ("total", "completed", "failed"))),
        errors=_errors(body.get("errors")),
        name=_str(meta.get("ds_name")),
        raw=body,
    )


def parse_page(body: Any) -> tuple[list[BatchInfo], bool]:
    data = body.get("data") if isinstance(body, dict) else None
    if not isinstance(data, list):
        raise APIStatusError("the Batch API answered without a list of batches", body=body)
    items = [parse_batch(d) for d in data if isinstance(d, dict) and d.get("id")]
    return items, bool(body.get("has_more")) and bool(items)


# --------------------------------------------------------------------------- requests


def _url(c: Qwen, path: str) -> str:
    return f"{c.base_url.rstrip('/')}{path}"


def _headers(c: Qwen) -> dict[str, str]:
    return F._headers(c.api_key)


def create_request(
    c: Qwen, input_file_id: str, *, endpoint: str, window: str, metadata: dict[str, str]
) -> RequestSpec:
    body: dict[str, Any] = {"input_file_id": input_file_id, "endpoint": endpoint, "completion_window": window}
    if metadata:
        body["metadata"] = metadata
    return RequestSpec("POST", _url(c, "/batches"), headers=_headers(c), json=body)


def retrieve_request(c: Qwen, batch_id: str) -> RequestSpec:
    return RequestSpec("GET", _url(c, f"/batches/{batch_id}"), headers=_headers(c))


def cancel_request(c: Qwen, batch_id: str) -> RequestSpec:
    return RequestSpec("POST", _url(c, f"/batches/{batch_id}/cancel"), headers=_headers(c))


def list_request(c: Qwen, limit: int, after: str | None) -> RequestSpec:
    params = {"limit": str(limit)}
    if after:
        params["after"] = after
    return RequestSpec("GET", _url(c, "/batches"), headers=_headers(c), params=params)


def content_request(c: Qwen, file_id: str) -> RequestSpec:
    headers = {**_headers(c), "Accept": "application/jsonl, application/octet-stream, */*"}
    return RequestSpec("GET", _url(c, f"/files/{file_id}/content"), headers=headers)


def check_id(batch_id: str) -> str:
    """A batch id as typed, refused when it could not be one (it goes into a URL path)."""
    from qwen_cli.errors import UsageError

    if not batch_id or any(ch in batch_id for ch in "/?#% \t\n") or not batch_id.isprintable():
        raise UsageError(
            f"{batch_id!r} is not a batch id", hint="run `qwen batch list` to see your batches' ids"
        )
    return batch_id


# --------------------------------------------------------------------------- the resource


class Batches:
    """``client.batches``: upload an input file, create, look at, cancel and list batches,
    read their result files."""

    def __init__(self, client: Qwen) -> None:
        self._c = client

    def upload(self, name: str, content: BinaryIO | bytes) -> FileObject:
        """Upload a JSONL input file with ``purpose=batch``."""
        c = self._c
        spec = F.upload_request(c.base_url, c.api_key, name, content, "application/jsonl", PURPOSE)
        try:
            return F.parse_file(c.request_json(spec))
        except NotFoundError as err:
            raise err.evolve(origin=ORIGIN_BATCH_API) from err

    def create(
        self,
        input_file_id: str,
        *,
        endpoint: str = CHAT_ENDPOINT,
        window: str = "24h",
        metadata: dict[str, str] | None = None,
    ) -> BatchInfo:
        c = self._c
        spec = create_request(c, input_file_id, endpoint=endpoint, window=window, metadata=metadata or {})
        try:
            return parse_batch(c.request_json(spec))
        except NotFoundError as err:
            raise err.evolve(origin=ORIGIN_BATCH_API) from err

    def retrieve(self, batch_id: str) -> BatchInfo:
        c = self._c
        try:
            return parse_batch(c.request_json(retrieve_request(c, check_id(batch_id))))
        except NotFoundError as err:
            raise err.evolve(
                message=f"unknown batch id {batch_id} ({err.message})", origin=ORIGIN_BATCH
            ) from err

    def cancel(self, batch_id: str) -> BatchInfo:
        c = self._c
        try:
            return parse_batch(c.request_json(cancel_request(c, check_id(batch_id))))
        except NotFoundError as err:
            raise err.evolve(
                message=f"unknown batch id {batch_id} ({err.message})", origin=ORIGIN_BATCH
            ) from err

    def list(self, *, limit: int = 20) -> list[BatchInfo]:
        """The account's most recent batches (the service keeps 30 days), newest first."""
        c = self._c
        out: list[BatchInfo] = []
        after: str | None = None
        while len(out) < limit:
            try:
                page, more = parse_page(
                    c.request_json(list_request(c, min(LIST_LIMIT, limit - len(out)), after))
                )
            except NotFoundError as err:
                raise err.evolve(origin=ORIGIN_BATCH_API) from err
            out += page
            if not more or page[-1].id == after:
                break
            after = page[-1].id
        return out[:limit]

    def lines(self, file_id: str) -> Iterator[bytes]:
        """The lines of a result file (without their line ends), read in bounded pieces."""
        from qwen_cli.errors import CODE_TOO_LARGE, BadResponseError
        from qwen_cli.streaming import BodyDecoder

        c = self._c
        try:
            response = c.send(content_request(c, file_id), stream=True)
        except NotFoundError as err:
            raise F.about_file(err) from err
        import httpx

        try:
            dec = BodyDecoder(response.headers.get("content-encoding"), MAX_RESULT_FILE)
            held: list[bytes] = []  # the line begun, not yet ended
            size = 0
            for raw in response.iter_raw():
                for piece in dec.feed(raw):
                    *ends, tail = piece.split(b"\n")
                    if ends:
                        first = b"".join([*held, ends[0]])
                        yield from (line for line in (first, *ends[1:]) if line.strip())
                        held, size = [], 0
                    held.append(tail)
                    size += len(tail)
                    if size > MAX_RESULT_LINE:
                        raise BadResponseError(
                            f"a line of {file_id} is longer than {MAX_RESULT_LINE >> 20} MiB",
                            code=CODE_TOO_LARGE,
                        )
            last = b"".join(held)
            if last.strip():
                yield last
        except httpx.TransportError as exc:
            raise c._transport_error(exc, content_request(c, file_id).url) from exc
        finally:
            response.close()
