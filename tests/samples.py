"""Small sample files written byte by byte: images of every supported kind and documents."""

from __future__ import annotations

import io
import struct
import zipfile
import zlib
from pathlib import Path


def png(w: int, h: int) -> bytes:
    """A real, decodable RGB PNG of ``w`` x ``h`` red pixels."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        crc = zlib.crc32(kind + data) & 0xFFFFFFFF
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", crc)

    rows = b"".join(b"\x00" + b"\xff\x00\x00" * w for _ in range(h))
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 8, 2, 0, 0, 0))
        + chunk(b"IDAT", zlib.compress(rows))
        + chunk(b"IEND", b"")
    )


def jpeg(w: int, h: int, *, progressive: bool = False, exif: int = 0) -> bytes:
    """JPEG markers up to the frame header (APP0, optional APP1 padding, SOF0/SOF2), then EOI."""
    app0 = b"\xff\xe0" + struct.pack(">H", 16) + b"JFIF\x00\x01\x01\x00\x00\x01\x00\x01\x00\x00"
    app1 = b""
    if exif:
        app1 = b"\xff\xe1" + struct.pack(">H", exif + 2) + b"Exif\x00\x00" + b"\x00" * (exif - 6)
    sof = (b"\xff\xc2" if progressive else b"\xff\xc0") + struct.pack(">HBHHB", 17, 8, h, w, 3)
    sof += b"\x01\x22\x00\x02\x11\x01\x03\x11\x01"
    dqt = b"\xff\xdb" + struct.pack(">H", 67) + b"\x00" + b"\x01" * 64
    return b"\xff\xd8" + app0 + app1 + dqt + sof + b"\xff\xda\x00\x02" + b"\x00" * 16 + b"\xff\xd9"


def gif(w: int, h: int) -> bytes:
    return b"GIF89a" + struct.pack("<HH", w, h) + b"\x00\x00\x00" + b",\x00\x00\x00\x00\x01\x00\x01\x00\x00;"


def bmp(w: int, h: int, *, top_down: bool = False) -> bytes:
    row = (w * 3 + 3) & ~3
    pixels = b"\x00" * row * h
    info = struct.pack("<IiiHHIIiiII", 40, w, -h if top_down else h, 1, 24, 0, len(pixels), 2835, 2835, 0, 0)
    return b"BM" + struct.pack("<IHHI", 14 + len(info) + len(pixels), 0, 0, 54) + info + pixels


def bmp_core(w: int, h: int) -> bytes:
    """An OS/2 bitmap: 12-byte header with 16-bit sizes."""
    info = struct.pack("<IHHHH", 12, w, h, 1, 24)
    return b"BM" + struct.pack("<IHHI", 26 + 64, 0, 0, 26) + info + b"\x00" * 64


def _riff(chunk: bytes, payload: bytes) -> bytes:
    body = b"WEBP" + chunk + struct.pack("<I", len(payload)) + payload
    return b"RIFF" + struct.pack("<I", len(body)) + body


def webp_lossy(w: int, h: int) -> bytes:
    return _riff(b"VP8 ", b"\x30\x01\x00\x9d\x01\x2a" + struct.pack("<HH", w, h) + b"\x00" * 12)


def webp_lossless(w: int, h: int) -> bytes:
    return _riff(b"VP8L", b"\x2f" + struct.pack("<I", (w - 1) | ((h - 1) << 14)) + b"\x00" * 8)


def webp_extended(w: int, h: int) -> bytes:
    return _riff(b"VP8X", b"\x00\x00\x00\x00" + (w - 1).to_bytes(3, "little") + (h - 1).to_bytes(3, "little"))


def tiff(w: int, h: int, *, big_endian: bool = False) -> bytes:
    o = ">" if big_endian else "<"
    head = (b"MM\x00*" if big_endian else b"II*\x00") + struct.pack(o + "I", 8)
    width = struct.pack(o + "HHIHH", 256, 3, 1, w, 0)  # SHORT, left-justified in the value field
    height = struct.pack(o + "HHII", 257, 4, 1, h)  # LONG
    bits = struct.pack(o + "HHIHH", 258, 3, 1, 8, 0)
    return head + struct.pack(o + "H", 3) + width + height + bits + struct.pack(o + "I", 0) + b"\x00" * 64


def pdf(text: str = "hello") -> bytes:
    return (
        b"%PDF-1.4\n1 0 obj<</Type/Catalog/Pages 2 0 R>>endobj\n"
        b"2 0 obj<</Type/Pages/Kids[]/Count 0>>endobj\n% "
        + text.encode()
        + b"\ntrailer<</Root 1 0 R>>\n%%EOF\n"
    )


def _zip(entries: dict[str, bytes], *, stored_first: str | None = None) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        if stored_first:
            z.writestr(zipfile.ZipInfo(stored_first), entries[stored_first], compress_type=zipfile.ZIP_STORED)
        for name, data in entries.items():
            if name != stored_first:
                z.writestr(name, data, compress_type=zipfile.ZIP_DEFLATED)
    return buf.getvalue()


_CT = '<?xml version="1.0"?><Types xmlns="x"><Override PartName="/{part}" ContentType="{ct}"/></Types>'
_OOXML = "application/vnd.openxmlformats-officedocument"


def docx() -> bytes:
    ct = _CT.format(part="word/document.xml", ct=f"{_OOXML}.wordprocessingml.document.main+xml")
    return _zip({"[Content_Types].xml": ct.encode(), "word/document.xml": b"<w:document/>"})


def xlsx() -> bytes:
    ct = _CT.format(part="xl/workbook.xml", ct=f"{_OOXML}.spreadsheetml.sheet.main+xml")
    return _zip({"[Content_Types].xml": ct.encode(), "xl/workbook.xml": b"<workbook/>"})


def pptx() -> bytes:
    ct = _CT.format(part="ppt/presentation.xml", ct=f"{_OOXML}.presentationml.presentation.main+xml")
    return _zip({"[Content_Types].xml": ct.encode(), "ppt/presentation.xml": b"<p/>"})


def epub() -> bytes:
    return _zip(
        {"mimetype": b"application/epub+zip", "META-INF/container.xml": b"<container/>"},
        stored_first="mimetype",
    )


def plain_zip() -> bytes:
    return _zip({"a.txt": b"hello"})


def write(directory: Path, name: str, data: bytes) -> Path:
    path = directory / name
    path.write_bytes(data)
    return path


def sparse(directory: Path, name: str, head: bytes, size: int) -> Path:
    """A file of ``size`` bytes that starts with ``head`` and takes no disk space beyond it."""
    path = directory / name
    with path.open("wb") as f:
        f.write(head)
        f.truncate(size)
    return path
