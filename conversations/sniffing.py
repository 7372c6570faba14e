"""What a file is, from its first bytes: never from its name or the type a browser claims.

A program renamed `photo.png` is still a program. The few types Webchat takes have signatures
(or, for text, are valid UTF-8 without NULs); anything else is unknown and refused.
"""

from __future__ import annotations

import re

# How much of the start of a file is read to tell what it is.
HEAD_BYTES = 8192

_SIGNATURES: tuple[tuple[bytes, str], ...] = (
    (b"\x89PNG\r\n\x1a\n", "image/png"),
    (b"\xff\xd8\xff", "image/jpeg"),
    (b"GIF87a", "image/gif"),
    (b"GIF89a", "image/gif"),
    (b"%PDF-", "application/pdf"),
)
# Executables and archives: named, so the refusal can say what the file looked like.
_PROGRAMS: tuple[bytes, ...] = (b"MZ", b"\x7fELF", b"\xca\xfe\xba\xbe", b"\xcf\xfa\xed\xfe", b"#!")
_SVG = re.compile(rb"^\s*(?:<\?xml[^>]*>\s*)?(?:<!--.*?-->\s*|<!DOCTYPE[^>]*>\s*)*<svg[\s>]", re.S)
_TEXT_BY_NAME = {".md": "text/markdown", ".markdown": "text/markdown", ".csv": "text/csv"}
PROGRAM = "program"


def sniff(head: bytes, name: str = "") -> str:
    """The MIME type the content shows, `PROGRAM` for an executable, or "" when unknown.

    For plain text only, the name picks among the text types (Markdown, CSV): the content
    cannot tell them apart, and none of them runs anywhere.
    """
    for signature, mime in _SIGNATURES:
        if head.startswith(signature):
            return mime
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "image/webp"
    if head.startswith(_PROGRAMS):
        return PROGRAM
    text = _as_text(head)
    if text is None:
        return ""
    if _SVG.match(head.removeprefix(b"\xef\xbb\xbf")):
        return "image/svg+xml"
    suffix = name[name.rfind(".") :].lower() if "." in name else ""
    return _TEXT_BY_NAME.get(suffix, "text/plain")


def _as_text(head: bytes) -> str | None:
    if b"\x00" in head:
        return None
    try:
        return head.decode("utf-8")
    except UnicodeDecodeError as exc:
        # The head may end inside a character: only an error before its last bytes counts.
        if exc.start >= len(head) - 3 and len(head) == HEAD_BYTES:
            return head[: exc.start].decode("utf-8", errors="strict")
        return None
