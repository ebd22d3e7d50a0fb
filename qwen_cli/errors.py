"""The one exception tree of ``qwen_cli``.

Every error the library raises is a ``QwenAPIError``; each class knows the exit
code the command line turns it into::

    QwenAPIError                      1  any other API error
    ├── UsageError                    2  bad input: a missing file, a bad option value
    ├── ConfigError                   2  an unreadable or invalid configuration
    ├── APIConnectionError            5  could not reach the server
    │   └── APITimeoutError           5  the server did not answer in time
    ├── APIStatusError                1  the server answered with an error
    │   ├── InvalidRequestError       1  400
    │   │   ├── ContextLengthError    1  the prompt is longer than the model accepts
    │   │   └── ContentFilterError    1  the provider's content inspection refused it
    │   ├── AuthenticationError       3  401, or no key at all
    │   │   └── PermissionDeniedError 3  403, overdue account, quota exhausted
    │   ├── NotFoundError             1  404: unknown model or path
    │   ├── RateLimitError            4  429
    │   ├── ServerError               6  5xx
    │   └── BadResponseError          1  an answer that cannot be read: not JSON, an HTML
    │                                    page, a needed field missing, too large
    ├── StreamInterruptedError        6  a stream broke off; ``partial`` keeps what came
    └── StoreError                    1  the conversation store cannot be read or written

    Terminated (a KeyboardInterrupt)  128+N  SIGTERM or SIGHUP: handled like Ctrl-C, so the
                                             partial answer is kept (Ctrl-C itself: 130)

The core never prints: the command line's ``main()`` is the one place that turns
these into ``qwen: error: ...`` plus a ``hint:`` line.

Two rules:

* **An error is immutable once constructed**: assigning any of its attributes raises
  ``AttributeError``. Code that wants "the same error with more said" builds a new one with
  :meth:`QwenAPIError.evolve` and raises it ``from`` the original.
* **Hints for what a server did are chosen at the command line** (``cli/hints.py``), from the
  error's class, ``code`` and ``origin`` (what was asked of whom: ``"Files API"``,
  ``"chat.qwen.ai"``...): the core states facts, the CLI says what to do about them. Errors the
  user's own input causes (``UsageError``, ``ConfigError`` raised while checking options,
  configuration, attachments or the key policy) carry their ``hint`` from where they are
  raised, since only that place knows what was wrong with the input.
"""

from __future__ import annotations

import json
import re
from typing import Any, TypeVar

EXIT_OK = 0
EXIT_API = 1
EXIT_USAGE = 2
EXIT_AUTH = 3
EXIT_RATE_LIMIT = 4
EXIT_NETWORK = 5
EXIT_SERVER = 6
EXIT_INTERRUPTED = 130

# ``origin`` of an error: what was asked, of whom (cli/hints.py chooses the hint from it).
ORIGIN_FILE = "uploaded file"  # a request about one file of the Files API (by its id)
ORIGIN_FILES_API = "Files API"
ORIGIN_TEMPORARY_UPLOAD = "temporary upload"  # DashScope's upload policy (oss:// URLs)
ORIGIN_OBJECT_STORAGE = "object storage"  # the POST of a DashScope temporary upload
ORIGIN_QWEN_WEB = "chat.qwen.ai"
ORIGIN_QWEN_WEB_STORAGE = "chat.qwen.ai's object storage"  # the PUT of an image for chat.qwen.ai
ORIGIN_BATCH = "batch"  # a request about one batch of the Batch API (by its id)
ORIGIN_BATCH_API = "Batch API"


class QwenAPIError(Exception):
    """Root of every error raised by ``qwen_cli``; immutable once ``__init__`` returns.

    A subclass with fields of its own sets them *before* calling ``super().__init__``; :meth:`evolve`
    copies them whatever its constructor looks like.
    """

    exit_code = EXIT_API
    _frozen = False

    def __init__(
        self,
        message: str,
        *,
        status_code: int | None = None,
        code: str | None = None,
        body: Any = None,
        request_id: str | None = None,
        hint: str | None = None,
        origin: str | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.status_code = status_code
        self.code = code
        self.body = body
        self.request_id = request_id
        self.hint = hint
        self.origin = origin
        self._frozen = True

    def __setattr__(self, name: str, value: Any) -> None:
        # Python's own bookkeeping (__traceback__, __cause__, __notes__...) stays writable.
        if self._frozen and not name.startswith("__"):
            raise AttributeError(f"{type(self).__name__} is immutable: use .evolve({name}=...)")
        super().__setattr__(name, value)

    def __delattr__(self, name: str) -> None:
        if self._frozen and not name.startswith("__"):
            raise AttributeError(f"{type(self).__name__} is immutable")
        super().__delattr__(name)

    def fields(self) -> dict[str, Any]:
        """Every field but ``message`` (a subclass's own included), as set."""
        return {
            k: v for k, v in vars(self).items() if k not in ("message", "_frozen") and not k.startswith("__")
        }

    def evolve(self: _E, **changes: Any) -> _E:
        """A new error of the same class, every field copied but ``changes`` (``message`` too).

        Raise it ``from`` this one: ``raise err.evolve(message=...) from err``.
        """
        unknown = set(changes) - {"message", *self.fields()}
        if unknown:
            raise TypeError(f"{type(self).__name__} has no field {', '.join(sorted(unknown))}")
        cls = type(self)
        new = cls.__new__(cls, changes.get("message", self.message))  # sets .args, as raising needs
        for name, value in {"message": self.message, **self.fields(), **changes}.items():
            object.__setattr__(new, name, value)
        object.__setattr__(new, "_frozen", True)
        return new

    def __str__(self) -> str:
        return self.message


_E = TypeVar("_E", bound=QwenAPIError)


class UsageError(QwenAPIError):
    exit_code = EXIT_USAGE


class ConfigError(QwenAPIError):
    exit_code = EXIT_USAGE


class APIConnectionError(QwenAPIError):
    exit_code = EXIT_NETWORK


class APITimeoutError(APIConnectionError):
    pass


class APIStatusError(QwenAPIError):
    exit_code = EXIT_API


class InvalidRequestError(APIStatusError):
    pass


class ContextLengthError(InvalidRequestError):
    pass


class ContentFilterError(InvalidRequestError):
    pass


class AuthenticationError(APIStatusError):
    exit_code = EXIT_AUTH


class PermissionDeniedError(AuthenticationError):
    pass


class NotFoundError(APIStatusError):
    pass


class RateLimitError(APIStatusError):
    exit_code = EXIT_RATE_LIMIT

    def __init__(self, message: str, *, retry_after: float | None = None, **kw: Any) -> None:
        self.retry_after = retry_after
        super().__init__(message, **kw)


class ServerError(APIStatusError):
    exit_code = EXIT_SERVER


class BadResponseError(APIStatusError):
    """The server answered, but not with something ``qwen`` can read (it is not retried)."""

    exit_code = EXIT_API


class StreamInterruptedError(QwenAPIError):
    exit_code = EXIT_SERVER

    def __init__(self, message: str, *, partial: str = "", **kw: Any) -> None:
        self.partial = partial
        super().__init__(message, **kw)


class StoreError(QwenAPIError):
    """The SQLite conversation store failed (unwritable directory, full disk, newer schema).

    ``path`` is the database file; ``damaged`` says its contents are corrupt, not just out of
    reach (``qwen history doctor`` can then save what is readable).
    """

    exit_code = EXIT_API

    def __init__(self, message: str, *, path: str | None = None, damaged: bool = False, **kw: Any) -> None:
        self.path = path
        self.damaged = damaged
        super().__init__(message, **kw)


class Terminated(KeyboardInterrupt):
    """SIGTERM or SIGHUP arrived. A ``KeyboardInterrupt``, so every path that keeps a partial
    answer on Ctrl-C keeps it here too; the process then exits with ``128 + signum``."""

    def __init__(self, signum: int) -> None:
        super().__init__(signum)
        self.signum = signum

    @property
    def exit_code(self) -> int:
        return 128 + self.signum


RETRYABLE_STATUS = frozenset({429, 500, 502, 503, 504})

_CONTEXT_RE = re.compile(r"range of input length|context length|maximum context|too long", re.I)
_STATUS_CLASSES: dict[int, type[APIStatusError]] = {
    400: InvalidRequestError,
    401: AuthenticationError,
    403: PermissionDeniedError,
    404: NotFoundError,
    422: InvalidRequestError,
    429: RateLimitError,
}
_DENIED_CODES = {"arrearage", "allocationquota.freetieronly", "accessdenied"}


HTML_PAGE = "an HTML page"
NOT_API = "not an API answer: a proxy or captive portal?"

# ``code`` of an answer qwen cannot read (or will not follow): what the server did, so that
# cli/hints.py can say what to do about it.
CODE_HTML_PAGE = "html_page"  # a web page (captive portal, proxy) where an API answer belongs
CODE_NOT_JSON = "not_json"  # a 2xx answer that is not a JSON object
CODE_UNREADABLE_FIELD = "unreadable_field"  # a field qwen needs, in a shape it cannot read
CODE_NO_CHOICES = "no_choices"  # a chat answer without `choices`
CODE_NO_DATA = "no_data"  # a model list without `data`
CODE_NO_OUTPUT = "no_output"  # a DashScope native answer without `output`
CODE_UNASKED_ENCODING = "unasked_encoding"  # a Content-Encoding qwen did not ask for
CODE_CORRUPT_COMPRESSION = "corrupt_compression"  # gzip/deflate that does not inflate
CODE_TOO_LARGE = "response_too_large"  # an answer past the size limit (a compression bomb?)
CODE_REDIRECT = "redirect_not_followed"  # a 3xx: following it would carry the key along
_TITLE_RE = re.compile(r"<title[^>]*>(.*?)</title", re.I | re.S)
_TAG_RE = re.compile(r"<(script|style)\b.*?</\1\s*>|<[^>]*>", re.I | re.S)


def looks_like_html(text: str) -> bool:
    """A web page (a captive portal, a proxy's error page), judged by how the text begins."""
    head = text.lstrip()[:512].lower()
    return head.startswith(("<!doctype html", "<html", "<head", "<body")) or (
        head.startswith("<") and ("<html" in head or "<body" in head or "<title" in head)
    )


def html_summary(text: str) -> str:
    """ "an HTML page" with its title (or, without one, the start of its text)."""
    text = text[:65536]
    m = _TITLE_RE.search(text)
    shown = m.group(1) if m else _TAG_RE.sub(" ", text)
    shown = " ".join(shown.split())[:80]
    return f"{HTML_PAGE} ({shown!r})" if shown else HTML_PAGE


def loads_json(data: str | bytes | bytearray) -> Any:
    """``json.loads`` that raises ``ValueError`` for any JSON it cannot read, nesting too deep
    for the parser included (``RecursionError`` otherwise)."""
    try:
        return json.loads(data)
    except RecursionError:
        raise ValueError("JSON nested too deeply") from None


def parse_error_body(body: Any) -> tuple[str | None, str | None, str | None]:
    """(server code, message, request id) from any error body shape we know.

    Compatible mode: ``{"error": {"message", "type", "code"}, "request_id"}``;
    native: ``{"code", "message", "request_id"}``; chat.qwen.ai:
    ``{"success": false, "data": {"code", "details"}}``. An HTML page is said to be one.
    Anything else: text.
    """
    if isinstance(body, (bytes, bytearray)):
        body = body.decode("utf-8", "replace")
    if isinstance(body, str):
        try:
            body = loads_json(body)
        except ValueError:
            if looks_like_html(body):
                return None, html_summary(body), None
            text = body.strip()
            return None, (text[:300] or None), None
    if not isinstance(body, dict):
        return None, None, None
    request_id = body.get("request_id") or body.get("requestId")
    err = body.get("error")
    if isinstance(err, dict):
        code = err.get("code") or err.get("type")
        return _s(code), _s(err.get("message")), _s(request_id)
    if isinstance(err, str):
        return None, err, _s(request_id)
    data = body.get("data")
    if body.get("success") is False and isinstance(data, dict):
        return _s(data.get("code")), _s(data.get("details") or data.get("message")), _s(request_id)
    message = body.get("message") or body.get("msg") or body.get("detail")
    return _s(body.get("code")), _s(message), _s(request_id)


def _s(v: Any) -> str | None:
    """A field of an error body as text: a list becomes its items joined by "; " (a FastAPI
    ``detail`` list shows each ``msg``), an object its JSON, anything else ``str()``."""
    if v is None or v == "" or v == []:
        return None
    if isinstance(v, str):
        return v
    if isinstance(v, list):
        items = [_s(x.get("msg") or x.get("message") or x) if isinstance(x, dict) else _s(x) for x in v]
        return "; ".join(i for i in items if i) or None
    if isinstance(v, dict):
        return json.dumps(v, ensure_ascii=False, default=str)[:300]
    return str(v)


def error_for_status(
    status: int,
    body: Any,
    *,
    request_id: str | None = None,
    retry_after: float | None = None,
) -> APIStatusError:
    """Map an HTTP error answer onto the tree."""
    code, message, body_rid = parse_error_body(body)
    rid = request_id or body_rid
    message = message or f"HTTP {status}"
    kw: dict[str, Any] = {"status_code": status, "code": code, "body": body, "request_id": rid}
    if message.startswith(HTML_PAGE):
        if status < 400:
            kw["code"] = CODE_HTML_PAGE
            return BadResponseError(f"the server sent {message}, {NOT_API}", **kw)
        message = f"HTTP {status}, {message}"
    cls = classify(status, code, message)
    if cls is RateLimitError:
        return RateLimitError(message, retry_after=retry_after, **kw)
    return cls(message, **kw)


def classify(status: int | None, code: str | None, message: str) -> type[APIStatusError]:
    lc = (code or "").lower()
    if "inspection" in lc or "datainspection" in lc:
        return ContentFilterError
    if lc in _DENIED_CODES:
        return PermissionDeniedError
    if lc in {"invalid_api_key", "invalidapikey", "unauthorized"}:
        return AuthenticationError
    if lc in {"ratelimited", "limit_requests"} or lc.startswith("throttling"):
        return RateLimitError
    if lc == "model_not_found":
        return NotFoundError
    if status is None or status < 400:
        return APIStatusError
    cls = _STATUS_CLASSES.get(status)
    if cls is InvalidRequestError and _CONTEXT_RE.search(message):
        return ContextLengthError
    if cls is not None:
        return cls
    if status >= 500:
        return ServerError
    return InvalidRequestError if status < 500 else APIStatusError


def error_from_event(payload: dict[str, Any]) -> APIStatusError:
    """An ``{"error": ...}`` object that arrived inside a stream."""
    code, message, rid = parse_error_body(payload)
    message = message or "the server reported an error mid-stream"
    status = None
    err = payload.get("error")
    if isinstance(err, dict) and isinstance(err.get("status"), int):
        status = err["status"]
    cls = classify(status, code, message)
    if cls is APIStatusError and status is None:
        cls = ServerError
    return cls(message, status_code=status, code=code, body=payload, request_id=rid)
