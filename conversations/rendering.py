"""Markdown to safe HTML on the server, all at once or block by block while a reply streams.

Raw HTML in the source is text (markdown-it with `html` off), code is highlighted by Pygments
with CSS classes, and nh3 sanitizes the result with an allow-list that keeps those classes.
Copy buttons are not part of this HTML: the front-end adds them next to `.code-block`.
`static/css/highlight.css` comes from `pygments_css()`:
`python -c "from conversations.rendering import pygments_css; print(pygments_css())"`.
"""

from __future__ import annotations

import html
import re
from dataclasses import dataclass

import nh3
from markdown_it import MarkdownIt
from pygments import highlight
from pygments.formatters import HtmlFormatter
from pygments.lexers import get_lexer_by_name
from pygments.util import ClassNotFound

_TAGS = {
    "p", "br", "hr", "h1", "h2", "h3", "h4", "h5", "h6", "em", "strong", "del", "s", "code",
    "pre", "blockquote", "ul", "ol", "li", "a", "table", "thead", "tbody", "tr", "th", "td",
    "span", "div",
}  # fmt: skip
_ATTRIBUTES = {
    "a": {"href", "title", "target"},
    "span": {"class"},
    "code": {"class"},
    "div": {"class", "data-lang"},
    "ol": {"start"},
    "th": {"style"},
    "td": {"style"},
}
_FORMATTER = HtmlFormatter(nowrap=True)


def _fence(renderer, tokens, idx, options, env) -> str:
    token = tokens[idx]
    language = token.info.strip().split(maxsplit=1)[0].lower() if token.info.strip() else ""
    code = token.content
    try:
        lexer = get_lexer_by_name(language) if language else None
    except ClassNotFound:
        lexer = None
    body = highlight(code, lexer, _FORMATTER) if lexer else html.escape(code)
    lang_attr = f' data-lang="{html.escape(language)}"' if lexer else ""
    return f'<div class="code-block"{lang_attr}><pre><code class="highlight">{body}</code></pre></div>\n'


_md = MarkdownIt("commonmark", {"html": False, "linkify": False, "typographer": False})
_md.enable(["table", "strikethrough"])
_md.add_render_rule("fence", _fence)


def _sanitize(raw_html: str) -> str:
    return nh3.clean(
        raw_html,
        tags=_TAGS,
        attributes=_ATTRIBUTES,
        url_schemes={"http", "https", "mailto"},
        link_rel="noopener noreferrer nofollow",
        set_tag_attribute_values={"a": {"target": "_blank"}},
        filter_style_properties={"text-align"},
    )


def render_markdown(text: str) -> str:
    """Markdown (from a model) as sanitized HTML."""
    return _sanitize(_md.render(text)) if text else ""


def render_user_text(text: str) -> str:
    """What a person typed: never HTML. Paragraphs and line breaks are kept."""
    paragraphs = re.split(r"\n\s*\n", text.strip())
    return "".join(
        "<p>" + html.escape(p).replace("\n", "<br>") + "</p>" for p in paragraphs if p.strip()
    )


# --- streaming -------------------------------------------------------------------------------

_FENCE = re.compile(r"^ {0,3}(`{3,}|~{3,})")
_LIST_ITEM = re.compile(r"^ {0,3}(?:[-*+]|\d{1,9}[.)])(?:\s|$)")
_CONTINUES = re.compile(r"^(?: {2,}|\t)")


@dataclass(frozen=True, slots=True)
class RenderUpdate:
    """What one delta changed: HTML of blocks that closed, and the open block's text.

    `reset` False: `tail` is text to append to the open block shown so far.
    `reset` True: blocks closed; `closed_html` is appended and `tail` is the whole new open block.
    """

    closed_html: str
    tail: str
    reset: bool


class StreamingRenderer:
    """Renders each Markdown block once, when it closes: linear in the reply's length.

    A block closes at a blank line followed by a line that does not continue it (a list keeps
    its items and indented lines together), when a fence opens (it interrupts a paragraph
    anyway) and when a fence closes. Decisions are made on complete lines only, so any split
    of the same text into deltas gives the same blocks as rendering it whole. Limitation:
    reference-style link definitions in one block do not reach links in another.
    """

    def __init__(self) -> None:
        self._lines: list[str] = []  # complete lines of the open block
        self._partial: list[str] = []  # the line being written
        self._reset_block()

    def _reset_block(self) -> None:
        self._fence: str | None = None
        self._is_list = False
        self._has_content = False
        self._blank_after_content = False

    @property
    def tail(self) -> str:
        return "".join(self._lines) + "".join(self._partial)

    def feed(self, delta: str) -> RenderUpdate:
        closed: list[str] = []
        pieces = delta.split("\n")
        for piece in pieces[:-1]:
            self._partial.append(piece)
            self._partial.append("\n")
            line = "".join(self._partial)
            self._partial = []
            closed_html = self._line(line)
            if closed_html is not None:
                closed.append(closed_html)
        if pieces[-1]:
            self._partial.append(pieces[-1])
        if closed:
            return RenderUpdate("".join(closed), self.tail, True)
        return RenderUpdate("", delta, False)

    def finish(self) -> str:
        """HTML of whatever is still open (the reply ended)."""
        text = self.tail
        self._lines, self._partial = [], []
        self._reset_block()
        return render_markdown(text)

    def _line(self, line: str) -> str | None:
        """Take a complete line; return the HTML of a block it closed, if any."""
        if self._fence is not None:
            self._lines.append(line)
            stripped = line.strip()
            if stripped.startswith(self._fence) and set(stripped) == {self._fence[0]}:
                return self._close()
            return None
        if not line.strip():
            # Kept (the tail shows every character), but a blank line only matters after content.
            self._lines.append(line)
            self._blank_after_content = self._has_content
            return None
        closed = None
        fence = _FENCE.match(line)
        if self._has_content and (
            fence or (self._blank_after_content and not self._continues(line))
        ):
            closed = self._close()
        if not self._has_content:
            self._is_list = bool(_LIST_ITEM.match(line))
            self._has_content = True
        self._blank_after_content = False
        self._lines.append(line)
        if fence:
            self._fence = fence.group(1)
            if len(line.strip()) > len(self._fence) and line.strip().endswith(self._fence):
                # An opening fence cannot end on its own line (```x``` is inline code).
                self._fence = None
        return closed

    def _continues(self, line: str) -> bool:
        return self._is_list and bool(_LIST_ITEM.match(line) or _CONTINUES.match(line))

    def _close(self) -> str:
        text = "".join(self._lines)
        self._lines = []
        self._reset_block()
        return render_markdown(text)


def snapshot_html(text: str) -> tuple[str, str]:
    """For a reply in progress: the closed blocks' HTML and the open block's text."""
    renderer = StreamingRenderer()
    update = renderer.feed(text)
    return (update.closed_html, renderer.tail)


def pygments_css() -> str:
    light = HtmlFormatter(style="default").get_style_defs(".highlight")
    dark = HtmlFormatter(style="monokai").get_style_defs(".highlight")
    # Pygments themes paint their own background; ours comes from .code-block.
    strip = re.compile(r"^\.highlight \{ background: [^}]*\}\n?", re.M)
    return f"{strip.sub('', light)}\n@media (prefers-color-scheme: dark) {{\n{strip.sub('', dark)}\n}}\n"
