"""What a file is, from its bytes: the types ``qwen upload`` can send, and image sizes.

Sans-I/O except for reading the open file it is handed (with ``seek``): no printing,
no httpx, stdlib only. Binary formats are recognised by their magic numbers whatever
the file is called; ZIP containers by the entries inside them (``[Content_Types].xml``
for DOCX/XLSX, ``mimetype`` for EPUB); the plain-text kinds (TXT, MD, CSV, JSON) by
their extension plus valid UTF-8 (the caller checks the whole file; ``detect`` checks
the head).
"""

from __future__ import annotations

import codecs
import struct
import zipfile
from typing import BinaryIO, Literal

from qwen_cli import structs

HEAD = 4096  # bytes read to recognise a file

Kind = Literal["image", "document"]


@structs.struct(frozen=True)
class FileType:
    name: str  # "png", "pdf", ...
    kind: Kind
    mime: str
    label: str  # "PNG image", shown in messages
    extensions: tuple[str, ...]  # accepted suffixes; the first is the canonical one
    text: bool = False  # must be valid UTF-8 throughout


def _t(name: str, kind: Kind, mime: str, label: str, *ext: str, text: bool = False) -> FileType:
    return FileType(name, kind, mime, label, ext, text)


_OOXML = "application/vnd.openxmlformats-officedocument"
TYPES: dict[str, FileType] = {
    t.name: t
    for t in (
        _t("png", "image", "image/png", "PNG image", ".png"),
        _t("jpeg", "image", "image/jpeg", "JPEG image", ".jpg", ".jpeg", ".jpe", ".jfif"),
        _t("webp", "image", "image/webp", "WEBP image", ".webp"),
        _t("gif", "image", "image/gif", "GIF image", ".gif"),
        _t("bmp", "image", "image/bmp", "BMP image", ".bmp", ".dib"),
        _t("tiff", "image", "image/tiff", "TIFF image", ".tiff", ".tif"),
        _t("pdf", "document", "application/pdf", "PDF document", ".pdf"),
        _t("docx", "document", f"{_OOXML}.wordprocessingml.document", "Word document", ".docx"),
        _t("xlsx", "document", f"{_OOXML}.spreadsheetml.sheet", "Excel workbook", ".xlsx"),
        _t("epub", "document", "application/epub+zip", "EPUB book", ".epub"),
        _t("txt", "document", "text/plain", "text file", ".txt", ".text", text=True),
        _t("md", "document", "text/markdown", "Markdown file", ".md", ".markdown", text=True),
        _t("csv", "document", "text/csv", "CSV file", ".csv", text=True),
        _t("json", "document", "application/json", "JSON file", ".json", text=True),
    )
}
IMAGE_NAMES = "PNG, JPEG, WEBP, GIF, BMP, TIFF"
DOCUMENT_NAMES = "PDF, DOCX, XLSX, EPUB, TXT, MD, CSV, JSON"

# Things people try that we recognise but cannot send: a clearer message than "unknown".
_KNOWN_OTHERS: tuple[tuple[bytes, int, str], ...] = (
    (b"\x1f\x8b", 0, "a gzip archive"),
    (b"7z\xbc\xaf\x27\x1c", 0, "a 7-Zip archive"),
    (b"Rar!\x1a\x07", 0, "a RAR archive"),
    (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1", 0, "an old Office (.doc/.xls/.ppt) file"),
    (b"\x7fELF", 0, "a program (ELF)"),
    (b"MZ", 0, "a Windows program"),
    (b"ftypheic", 4, "a HEIC image"),
    (b"ftypheix", 4, "a HEIC image"),
    (b"ftypmif1", 4, "a HEIF image"),
    (b"ftypavif", 4, "an AVIF image"),
    (b"ftyp", 4, "a video or audio file"),
    (b"ID3", 0, "an MP3 file"),
    (b"OggS", 0, "an Ogg file"),
    (b"\x00\x00\x01\x00", 0, "an icon file"),
    (b"<svg", 0, "an SVG image"),
)


class Unsupported(ValueError):
    """The file is not something we can send; ``what`` describes it ("a ZIP archive")."""

    def __init__(self, what: str) -> None:
        super().__init__(what)
        self.what = what


def suffix_of(name: str) -> str:
    dot = name.rfind(".")
    return name[dot:].lower() if dot > 0 else ""


def detect(f: BinaryIO, name: str) -> FileType:
    """The type of the open file ``f`` (called ``name``), or raise :class:`Unsupported`."""
    f.seek(0)
    head = f.read(HEAD)
    found = _magic(head)
    if found == "zip":
        return _zip_type(f)
    if found is not None:
        return TYPES[found]
    for magic, offset, what in _KNOWN_OTHERS:
        if head[offset : offset + len(magic)] == magic:
            raise Unsupported(what)
    suffix = suffix_of(name)
    text_type = next((t for t in TYPES.values() if t.text and suffix in t.extensions), None)
    looks_text = b"\x00" not in head and _utf8_prefix_ok(head)
    if text_type is not None:
        if not looks_text:
            raise Unsupported(f"a {suffix} file that is not UTF-8 text")
        return text_type
    if looks_text:
        raise Unsupported(f"a text file named {suffix}" if suffix else "a text file without an extension")
    raise Unsupported(f"a {suffix} file" if suffix else "a file of unknown type")


def _magic(head: bytes) -> str | None:
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return "png"
    if head.startswith(b"\xff\xd8\xff"):
        return "jpeg"
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "webp"
    if head[:6] in (b"GIF87a", b"GIF89a"):
        return "gif"
    if head[:2] == b"BM" and len(head) >= 26:
        return "bmp"
    if head[:4] in (b"II*\x00", b"MM\x00*"):
        return "tiff"
    if b"%PDF-" in head[:1024]:  # the header may follow a little junk
        return "pdf"
    if head[:4] == b"PK\x03\x04":
        return "zip"
    return None


def _zip_type(f: BinaryIO) -> FileType:
    try:
        f.seek(0)
        with zipfile.ZipFile(f) as z:
            names = set(z.namelist())
            if "mimetype" in names and z.read("mimetype").strip() == b"application/epub+zip":
                return TYPES["epub"]
            if "[Content_Types].xml" in names:
                content_types = z.read("[Content_Types].xml")
                if b"wordprocessingml.document.main" in content_types or "word/document.xml" in names:
                    return TYPES["docx"]
                if b"spreadsheetml.sheet.main" in content_types or "xl/workbook.xml" in names:
                    return TYPES["xlsx"]
                if b"presentationml" in content_types:
                    raise Unsupported("a PowerPoint presentation")
                raise Unsupported("an Office file of an unknown kind")
    except (zipfile.BadZipFile, KeyError, EOFError, ValueError) as exc:
        if isinstance(exc, Unsupported):
            raise
        raise Unsupported("a damaged ZIP container") from exc
    raise Unsupported("a ZIP archive")


def _utf8_prefix_ok(head: bytes) -> bool:
    """True when ``head`` is valid UTF-8, allowing a character cut off at its end."""
    try:
        codecs.getincrementaldecoder("utf-8")().decode(head, final=False)
    except UnicodeDecodeError:
        return False
    return True


# --------------------------------------------------------------------------- image sizes


def image_size(f: BinaryIO, ftype: FileType) -> tuple[int, int] | None:
    """(width, height) in pixels from the image's header, or ``None`` if unreadable."""
    try:
        f.seek(0)
        reader = _SIZE_READERS[ftype.name]
        size = reader(f)
    except (struct.error, KeyError, OSError, ValueError):
        return None
    if size is None or size[0] <= 0 or size[1] <= 0:
        return None
    return size


def _read(f: BinaryIO, n: int) -> bytes:
    data = f.read(n)
    if len(data) < n:
        raise ValueError("truncated header")
    return data


def _png(f: BinaryIO) -> tuple[int, int] | None:
    head = _read(f, 24)
    if head[12:16] != b"IHDR":
        return None
    w, h = struct.unpack(">II", head[16:24])
    return int(w), int(h)


def _gif(f: BinaryIO) -> tuple[int, int]:
    w, h = struct.unpack("<HH", _read(f, 10)[6:10])
    return int(w), int(h)


def _bmp(f: BinaryIO) -> tuple[int, int]:
    head = _read(f, 26)
    (dib,) = struct.unpack("<I", head[14:18])
    if dib == 12:  # BITMAPCOREHEADER: 16-bit unsigned sizes
        w, h = struct.unpack("<HH", head[18:22])
    else:  # BITMAPINFOHEADER and later: signed, negative height means top-down
        w, h = struct.unpack("<ii", head[18:26])
    return int(w), abs(int(h))


def _webp(f: BinaryIO) -> tuple[int, int] | None:
    head = _read(f, 30)
    chunk = head[12:16]
    if chunk == b"VP8 ":
        if head[23:26] != b"\x9d\x01\x2a":
            return None
        w, h = struct.unpack("<HH", head[26:30])
        return int(w) & 0x3FFF, int(h) & 0x3FFF
    if chunk == b"VP8L":
        if head[20] != 0x2F:
            return None
        (bits,) = struct.unpack("<I", head[21:25])
        return 1 + (bits & 0x3FFF), 1 + ((bits >> 14) & 0x3FFF)
    if chunk == b"VP8X":
        w = int.from_bytes(head[24:27], "little") + 1
        h = int.from_bytes(head[27:30], "little") + 1
        return w, h
    return None


_SOF = frozenset(range(0xC0, 0xD0)) - {0xC4, 0xC8, 0xCC}


def _jpeg(f: BinaryIO) -> tuple[int, int] | None:
    _read(f, 2)  # SOI
    while True:
        byte = _read(f, 1)
        if byte != b"\xff":
            return None
        marker = _read(f, 1)[0]
        while marker == 0xFF:  # fill bytes
            marker = _read(f, 1)[0]
        if marker in (0x01, 0xD8) or 0xD0 <= marker <= 0xD7:
            continue
        if marker in (0xD9, 0xDA):  # end of image / start of scan before any frame header
            return None
        (length,) = struct.unpack(">H", _read(f, 2))
        if length < 2:
            return None
        if marker in _SOF:
            h, w = struct.unpack(">HH", _read(f, 5)[1:5])
            return int(w), int(h)
        f.seek(length - 2, 1)


def _tiff(f: BinaryIO) -> tuple[int, int] | None:
    head = _read(f, 8)
    order = "<" if head[:2] == b"II" else ">"
    (offset,) = struct.unpack(order + "I", head[4:8])
    f.seek(offset)
    (count,) = struct.unpack(order + "H", _read(f, 2))
    found: dict[int, int] = {}
    for _ in range(min(count, 512)):
        tag, kind, _n, raw = struct.unpack(order + "HHI4s", _read(f, 12))
        if tag in (256, 257):
            if kind == 3:  # SHORT
                (value,) = struct.unpack(order + "H", raw[:2])
            elif kind == 4:  # LONG
                (value,) = struct.unpack(order + "I", raw)
            else:
                return None
            found[tag] = int(value)
    if 256 in found and 257 in found:
        return found[256], found[257]
    return None


_SIZE_READERS = {
    "png": _png,
    "gif": _gif,
    "bmp": _bmp,
    "webp": _webp,
    "jpeg": _jpeg,
    "tiff": _tiff,
}
