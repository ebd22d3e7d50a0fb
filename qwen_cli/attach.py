"""Images attached to a chat message: checked by their bytes, sent inline as data: URLs.

How a file is sent may change (temporary OSS upload, file ids); what a file must be to be
attached at all is decided here once.
"""

from __future__ import annotations

import base64
import hashlib
import os
from dataclasses import dataclass
from pathlib import Path

from qwen_cli.errors import UsageError

# Inline data: URLs make the request body about 4/3 of the file; DashScope accepts ~10 MB bodies.
MAX_INLINE_BYTES = 7 * 1024 * 1024
_HINT = "attach a PNG, JPEG, GIF, WEBP, BMP or TIFF image: /attach PATH"


@dataclass(frozen=True)
class ImageFile:
    path: Path
    mime_type: str
    size: int
    sha256: str


def data_url(path: str | Path, mime_type: str) -> str | None:
    """The file as a ``data:`` URL, read now; ``None`` when it can no longer be read."""
    try:
        data = Path(path).read_bytes()
    except OSError:
        return None
    return f"data:{mime_type};base64,{base64.b64encode(data).decode('ascii')}"


def sniff(head: bytes) -> str | None:
    """The image MIME type that ``head`` (the first bytes of a file) starts with, if any."""
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return "image/png"
    if head.startswith(b"\xff\xd8\xff"):
        return "image/jpeg"
    if head.startswith((b"GIF87a", b"GIF89a")):
        return "image/gif"
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "image/webp"
    if head.startswith(b"BM") and len(head) >= 14:
        return "image/bmp"
    if head.startswith((b"II*\x00", b"MM\x00*")):
        return "image/tiff"
    if head[4:8] == b"ftyp" and head[8:12] in (b"heic", b"heix", b"mif1", b"msf1", b"avif"):
        return "image/avif" if head[8:12] == b"avif" else "image/heic"
    return None


def _read(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except FileNotFoundError as exc:
        raise UsageError(f"no such file: {path}", hint=_HINT) from exc
    except IsADirectoryError as exc:
        raise UsageError(f"{path} is a directory, not an image file", hint=_HINT) from exc
    except PermissionError as exc:
        raise UsageError(
            f"cannot read {path}: permission denied", hint="check the file's permissions"
        ) from exc
    except OSError as exc:
        raise UsageError(f"cannot read {path}: {exc.strerror or exc}", hint=_HINT) from exc


def check_image(raw: str) -> ImageFile:
    """``raw`` (as typed: ``~`` and quotes allowed) as an attachable image, or a UsageError."""
    text = raw.strip()
    if len(text) >= 2 and text[0] == text[-1] and text[0] in "'\"":
        text = text[1:-1]
    if not text:
        raise UsageError("/attach needs a file", hint=_HINT)
    path = Path(os.path.expanduser(text))
    if path.exists() and not path.is_file():
        raise UsageError(f"{path} is not a regular file", hint=_HINT)
    data = _read(path)
    if not data:
        raise UsageError(f"{path} is empty", hint=_HINT)
    mime = sniff(data[:32])
    if mime is None:
        raise UsageError(f"{path} does not look like an image (by its first bytes)", hint=_HINT)
    if len(data) > MAX_INLINE_BYTES:
        raise UsageError(
            f"{path} is {len(data) / 1048576:.1f} MB; images sent inline may be at most "
            f"{MAX_INLINE_BYTES // 1048576} MB",
            hint="shrink the image first",
        )
    return ImageFile(path.resolve(), mime, len(data), hashlib.sha256(data).hexdigest())
