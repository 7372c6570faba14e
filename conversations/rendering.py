"""Markdown to safe HTML on the server, all at once or block by block while a reply streams.

Raw HTML in the source is text (markdown-it with `html` off), code is highlighted by Pygments
with CSS classes, and nh3 sanitizes the result with an allow-list that keeps those classes.
GitHub's extensions are on: tables, strikethrough and task lists (disabled checkboxes). Math
(`$…$` inline, `$$…$$` on lines of its own) becomes MathML here, on the server: the browser
needs no math library.
Copy buttons are not part of this HTML: the front-end adds them next to `.code-block`.
`static/css/highlight.css` comes from `pygments_css()`; regenerate it with
`.venv/bin/python -c "from conversations.rendering import pygments_css; print(pygments_css(), end='')" > static/css/highlight.css`.
"""

from __future__ import annotations

import functools
import html
import itertools
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from urllib.parse import urlsplit
from xml.etree.ElementTree import Element

import nh3
from latex2mathml.converter import convert_to_element
from markdown_it import MarkdownIt
from markdown_it.renderer import RendererHTML
from markdown_it.rules_block import StateBlock
from markdown_it.token import Token
from markdown_it.utils import EnvType, OptionsDict
from mdit_py_plugins.dollarmath import dollarmath_plugin
from mdit_py_plugins.dollarmath.index import math_block_dollar
from mdit_py_plugins.tasklists import tasklists_plugin
from pygments import highlight
from pygments.formatters import HtmlFormatter
from pygments.lexers import get_lexer_by_name
from pygments.token import STANDARD_TYPES
from pygments.util import ClassNotFound

# The MathML that `_mathml` writes: presentation elements only. No `semantics`/`annotation-xml`
# (which may hold HTML), no `maction`, no `mglyph`.
_MATHML_TAGS = frozenset(
    {
        "math", "mrow", "mi", "mn", "mo", "ms", "mtext", "mspace", "msub", "msup", "msubsup",
        "mfrac", "msqrt", "mroot", "mover", "munder", "munderover", "mtable", "mtr", "mtd",
        "mstyle", "mpadded", "mphantom", "menclose",
    }
)  # fmt: skip
# Layout only: no `href` (latex2mathml writes \href's URL there), no `style` (\style), no
# `mathcolor`/`mathbackground` (\color: black on a dark theme is invisible), no `id`, no `class`.
_MATHML_ATTRIBUTES = frozenset(
    {
        "display", "mathvariant", "mathsize", "stretchy", "fence", "separator", "form", "lspace",
        "rspace", "minsize", "maxsize", "largeop", "symmetric", "movablelimits", "accent",
        "accentunder", "displaystyle", "scriptlevel", "linethickness", "width", "height", "depth",
        "voffset", "notation", "columnalign", "rowalign", "columnspacing", "rowspacing",
        "columnlines", "rowlines", "linebreak",
    }
)  # fmt: skip
_TAGS = {
    "p", "br", "hr", "h1", "h2", "h3", "h4", "h5", "h6", "em", "strong", "del", "s", "code",
    "pre", "blockquote", "ul", "ol", "li", "a", "table", "thead", "tbody", "tr", "th", "td",
    "span", "div", "label", "input", *_MATHML_TAGS,
}  # fmt: skip
_ATTRIBUTES = {
    "a": {"href", "title"},
    "div": {"data-lang"},
    "ol": {"start"},
    # A task list's box; `set_tag_attribute_values` makes any <input> a disabled checkbox.
    "input": {"type", "checked", "disabled"},
    **{tag: set(_MATHML_ATTRIBUTES) for tag in _MATHML_TAGS},
}
_ALIGN = {"align-left", "align-center", "align-right"}
# Only the classes we emit survive: Pygments' token classes, our code wrapper, table alignment
# (a class, not a style attribute: the Content-Security-Policy allows no inline style), task
# lists, display math and a formula that could not be read.
_CLASSES = {
    "span": {name for name in STANDARD_TYPES.values() if name},
    "code": {"highlight", "math-error"},
    "div": {"code-block", "math-display", "table-scroll"},
    "th": _ALIGN,
    "td": _ALIGN,
    "ul": {"contains-task-list"},
    "ol": {"contains-task-list"},
    "li": {"task-list-item"},
}
# Links we show, from a model's Markdown or from any other upstream data (citations).
URL_SCHEMES = frozenset({"http", "https", "mailto"})
_FORMATTER = HtmlFormatter(nowrap=True)


def _fence(
    renderer: RendererHTML, tokens: Sequence[Token], idx: int, options: OptionsDict, env: EnvType
) -> str:
    token = tokens[idx]
    words = token.info.split(maxsplit=1)
    language = words[0].lower() if words else ""
    lexer = _lexer(language)
    body = highlight(token.content, lexer, _FORMATTER) if lexer else html.escape(token.content)
    lang_attr = f' data-lang="{html.escape(language)}"' if lexer else ""
    return f'<div class="code-block"{lang_attr}><pre><code class="highlight">{body}</code></pre></div>\n'


def _cell(
    renderer: RendererHTML, tokens: Sequence[Token], idx: int, options: OptionsDict, env: EnvType
) -> str:
    token = tokens[idx]
    style = token.attrs.pop("style", None)
    if isinstance(style, str) and style.startswith("text-align:"):
        token.attrSet("class", "align-" + style.removeprefix("text-align:"))
    return renderer.renderToken(tokens, idx, options, env)


def _table(
    renderer: RendererHTML, tokens: Sequence[Token], idx: int, options: OptionsDict, env: EnvType
) -> str:
    # A wide table scrolls in its own box on a narrow screen, and stays a table to a screen
    # reader (a table restyled `display: block` may not).
    if tokens[idx].nesting == 1:
        return '<div class="table-scroll">' + renderer.renderToken(tokens, idx, options, env)
    return renderer.renderToken(tokens, idx, options, env) + "</div>\n"


def _strikethrough(
    renderer: RendererHTML, tokens: Sequence[Token], idx: int, options: OptionsDict, env: EnvType
) -> str:
    # GFM's element for ~~text~~ (markdown-it writes <s>).
    return "<del>" if tokens[idx].nesting == 1 else "</del>"


# --- math ------------------------------------------------------------------------------------

# An attribute value we keep: a length, a number or keywords. No quote, colon, parenthesis or
# slash, so no URL and no CSS, whatever latex2mathml copied from the formula.
_MATHML_VALUE = re.compile(r"[A-Za-z0-9 .+%-]{1,64}")
_NUMBER = re.compile(r"\d+(?:\.\d*)?|\.\d+")
# A length past this (in em, or any unit) is dropped: a formula cannot stretch the page.
_LONGEST = 50
# Longer formulas are shown as their text: latex2mathml takes about 40 µs a character.
_MATH_LIMIT = 2000


def _math(tex: str, *, display: bool) -> str:
    """A formula as MathML; one latex2mathml cannot read as its own text, in
    `<code class="math-error">`. Never raises."""
    mathml = _to_mathml(tex, display=display)
    if mathml is None:
        return f'<code class="math-error">{html.escape(tex.strip(), quote=False)}</code>'
    return mathml


def _to_mathml(tex: str, *, display: bool) -> str | None:
    tex = tex.strip()
    if not tex or len(tex) > _MATH_LIMIT:
        return None
    try:
        element = convert_to_element(tex, display="block" if display else "inline")
        out: list[str] = []
        _mathml(element, out)
    # latex2mathml raises its own errors, and IndexError, KeyError, RecursionError (nesting, a
    # macro that expands itself) on what it cannot read: any of them means "not a formula".
    except Exception:
        return None
    return "".join(out)


def _mathml(element: Element, out: list[str]) -> None:
    """Write latex2mathml's tree, not its string: that string puts \\text's characters in
    unescaped (`$\\text{<script>}$` is a live <script>) and copies \\href and \\style into
    attributes. Here every text is escaped, and only `_MATHML_TAGS` with `_MATHML_ATTRIBUTES`
    of harmless values are written (an unknown element is left out, its content kept), so
    the result is safe before nh3 sees it; nh3 keeps it as it is (a test checks)."""
    tag = element.tag if isinstance(element.tag, str) else ""
    known = tag in _MATHML_TAGS
    if tag == "math":
        display = element.get("display") == "block"
        out.append('<math display="block">' if display else "<math>")
    elif known:
        out.append(f"<{tag}{_mathml_attributes(element)}>")
    out.append(_mathml_text(element.text))
    for child in element:
        _mathml(child, out)
        out.append(_mathml_text(child.tail))
    if known:
        out.append(f"</{tag}>")


def _mathml_text(text: str | None) -> str:
    # latex2mathml writes characters as entity references ("&#x0003C;"); escaped as nh3 would
    # (a no-break space too), so the open block shows what the finished reply will.
    return html.escape(html.unescape(text or ""), quote=False).replace("\xa0", "&nbsp;")


def _mathml_attributes(element: Element) -> str:
    kept = []
    for name, value in element.attrib.items():
        if (
            name in _MATHML_ATTRIBUTES
            and _MATHML_VALUE.fullmatch(value)
            and all(float(number) <= _LONGEST for number in _NUMBER.findall(value))
        ):
            kept.append(f' {name}="{value}"')
    return "".join(kept)


def _math_inline(
    renderer: RendererHTML, tokens: Sequence[Token], idx: int, options: OptionsDict, env: EnvType
) -> str:
    return _math(tokens[idx].content, display=False)


def _math_block(
    renderer: RendererHTML, tokens: Sequence[Token], idx: int, options: OptionsDict, env: EnvType
) -> str:
    return _display_math(_math(tokens[idx].content, display=True))


_dollar_block = math_block_dollar(allow_labels=False, allow_blank_lines=True)
_dollar_block_tight = math_block_dollar(allow_labels=False, allow_blank_lines=False)


def _display_math_rule(state: StateBlock, start: int, end: int, silent: bool) -> bool:
    """dollarmath's block rule, able to end a paragraph, quote, list or table as a fence does:
    models write "The sum is:" and `$$` on the next line.

    Asked only whether it would match there (`silent`: how a paragraph asks), it must close
    before a blank line: its search for the closing line does not stop where a quote or a
    list item does, and a blank line is where they can. At the start of a block, display
    math may hold blank lines. dollarmath pushes its token even when silent: that is undone.
    """
    if not silent:
        return _dollar_block(state, start, end, silent)
    tokens, line = len(state.tokens), state.line
    found = _dollar_block_tight(state, start, end, silent)
    del state.tokens[tokens:]
    state.line = line
    return found


def _display_math(inner: str) -> str:
    # The wrapper scrolls a wide formula on a narrow screen.
    return f'<div class="math-display">{inner}</div>\n'


_md = MarkdownIt("commonmark", {"html": False, "linkify": False, "typographer": False})
_md.enable(["table", "strikethrough"])
# Each box is in a <label> with its item's text: the checkbox's accessible name.
_md.use(tasklists_plugin, enabled=False, label=True)
# "$5 and $10" stay text: no space inside the dollars, no digit outside them. `$$…$$` is math
# on lines of its own (blank lines inside allowed).
_md.use(
    dollarmath_plugin,
    allow_labels=False,
    allow_space=False,
    allow_digits=False,
    allow_blank_lines=True,
    double_inline=False,
)
_md.block.ruler.at(
    "math_block", _display_math_rule, {"alt": ["paragraph", "reference", "blockquote", "list"]}
)
_md.add_render_rule("fence", _fence)
_md.add_render_rule("table_open", _table)
_md.add_render_rule("table_close", _table)
_md.add_render_rule("th_open", _cell)
_md.add_render_rule("td_open", _cell)
_md.add_render_rule("s_open", _strikethrough)
_md.add_render_rule("s_close", _strikethrough)
_md.add_render_rule("math_inline", _math_inline)
_md.add_render_rule("math_block", _math_block)


# Built once: nh3.clean() would convert these allow-lists (the MathML ones are long) on every
# call, which cost more than the cleaning itself, several times per reply.
_CLEANER = nh3.Cleaner(
    tags=_TAGS,
    attributes=_ATTRIBUTES,
    allowed_classes=_CLASSES,
    url_schemes=set(URL_SCHEMES),
    url_relative="deny",
    link_rel="noopener noreferrer nofollow",
    set_tag_attribute_values={
        "a": {"target": "_blank"},
        "input": {"type": "checkbox", "disabled": "disabled"},
    },
)


def _sanitize(raw_html: str) -> str:
    return _CLEANER.clean(raw_html)


def safe_url(url: object) -> str:
    """`url` if we may link to it (the allow-list Markdown links pass), else "".

    For every URL that comes from upstream data and is rendered as a link (a citation's, for
    one): a `javascript:` or `data:` URL, a relative one or junk never becomes a live link.
    """
    if not isinstance(url, str):
        return ""
    url = url.strip()
    # Browsers drop tabs and line breaks inside a URL ("java\tscript:"): refuse any control.
    if not url or any(ord(c) < 0x20 or ord(c) == 0x7F for c in url):
        return ""
    try:
        parts = urlsplit(url)
    except ValueError:
        return ""
    if parts.scheme.lower() not in URL_SCHEMES:
        return ""
    if parts.scheme.lower() != "mailto" and not parts.netloc:
        return ""
    return url


def render_markdown(text: str) -> str:
    """Markdown (from a model) as sanitized HTML."""
    return _sanitize(_md.render(text)) if text.strip() else ""


def render_user_text(text: str) -> str:
    """What a person typed, never HTML: escaped, with its paragraphs and line breaks."""
    paragraphs = re.split(r"\n\s*\n", text.replace("\r\n", "\n").strip())
    return "".join(
        "<p>" + html.escape(p).replace("\n", "<br>") + "</p>" for p in paragraphs if p.strip()
    )


# --- streaming -------------------------------------------------------------------------------

_FENCE = re.compile(r"^( {0,3})(`{3,}|~{3,})(.*)$")
_HEADING = re.compile(r"^#{1,6}(?:[ \t]|$)")
_LIST_ITEM = re.compile(r"^ {0,3}(?:[-*+]|\d{1,9}[.)])(?:[ \t]|$)")
_INDENTED = re.compile(r"^(?: {2,}|\t)")
_CODE_INDENT = re.compile(r"^(?: {4}|\t)")
_IN_CODE = re.compile(r"(?: {4}|\t|[ \t]*\n)")  # a line of indented code, or a blank one
# A line after a blank one that starts with none of these cannot continue a list.
_MAY_CONTINUE = frozenset(" \t-*+0123456789")


@dataclass(frozen=True, slots=True)
class RenderUpdate:
    """What one delta changed: the HTML of blocks that closed, and the open block's text.

    `reset` False: `closed_html` is empty and `tail` is the text to append to the open block.
    `reset` True: append `closed_html` (may be empty), then show `tail` as the whole open block.
    """

    closed_html: str
    tail: str
    reset: bool


class StreamingRenderer:
    """Renders each Markdown block once, when it closes: linear in the reply's length.

    Blocks are cut on complete lines, at top-level boundaries of CommonMark:
    - a blank line closes a paragraph, heading, table or quote;
    - a list (or indented code) stays open across blank lines while the next line continues
      it (`- `, `* `, `+ `, `1. `, `1) ` or an indent of two spaces or more);
    - a fence at the start of a block closes with its closing fence line; a fence indented
      inside a list stays part of the list;
    - a fence or an ATX heading (`# `) at the left margin closes the block before it, and a
      heading is a block of its own;
    - display math (a `$$` line at the margin) is like a fence, open until a line that ends
      with `$$`, blank lines and all. Whether it ends the block before it depends on that
      closing line, still to come: so that block stays open with it and both close at the
      math's last line (a `$$…$$` line closes at once). Math that would end a block must close
      before a blank line; if a blank line comes first, its `$$` was text, and the lines after
      it are judged again.
    A line is judged only once it is complete (a line after a blank one that cannot continue a
    list closes the list at its first character), so every split of a text into deltas cuts
    the same blocks as feeding it whole (`snapshot_html`). Limitations: a reference-style link
    definition does not reach links in other blocks, and malformed nesting (a fence opened
    inside a list item and closed at the margin, a quote that ends with display math followed
    at once by another `$$` with a blank line inside) may render differently from the whole
    text.
    """

    def __init__(self) -> None:
        self._lines: list[str] = []  # complete lines of the open block
        self._lines_length = 0
        self._partial: list[str] = []  # the line being written
        self._partial_length = 0
        self._dropped = False  # this delta dropped a blank line: the tail is not just longer
        self._reset_state()

    def _reset_state(self) -> None:
        self._open = _OpenBlock()  # what the viewers were shown of the open block
        self._content = False  # the open block has a non-blank line
        self._continuable = False  # a list or indented code: blank lines do not close it
        self._blank = False  # a blank line followed the content of a continuable block
        self._fence: str | None = None  # the open fence's marker
        self._fence_ends_block = False
        self._math_at = 0  # where the open block's display math starts, after what it ended
        self._math_tight = False  # that math ended a block: a blank line first makes it text
        self._math_line = 0  # its `$$` line, in `_lines`

    @property
    def tail(self) -> str:
        """The open block's raw text."""
        return "".join(self._lines) + "".join(self._partial)

    def feed(self, delta: str) -> RenderUpdate:
        """Take the next piece of the reply; return the HTML of blocks it closed."""
        closed: list[str] = []
        self._dropped = False
        *lines, rest = delta.split("\n")
        for piece in lines:
            self._partial.append(piece)
            self._partial.append("\n")
            line = "".join(self._partial)
            self._partial, self._partial_length = [], 0
            self._take(line, closed)
        if rest:
            self._partial.append(rest)
            self._partial_length += len(rest)
        if self._blank and self._partial and self._partial[0][0] not in _MAY_CONTINUE:
            self._close(closed)
        if closed or self._dropped:
            return RenderUpdate("".join(closed), self.tail, True)
        return RenderUpdate("", delta, False)

    def finish(self) -> str:
        """HTML of whatever is still open (the reply ended)."""
        text = self.tail
        self._lines, self._partial = [], []
        self._lines_length = self._partial_length = 0
        self._reset_state()
        return render_markdown(text)

    def _take(self, line: str, closed: list[str]) -> None:
        text = line.rstrip("\r\n")
        if self._fence == "$$" and self._math_tight and not text.strip():
            self._not_math(line, closed)
            return
        if self._fence is not None:
            self._keep(line)
            if self._closes_fence(text):
                self._fence = None
                if self._fence_ends_block:
                    self._close(closed)
            return
        if not text.strip():
            if not self._content:
                # Blank lines between blocks belong to neither.
                self._dropped = True
            elif self._continuable:
                self._keep(line)
                self._blank = True
            else:
                self._keep(line)
                self._close(closed)
            return
        if self._blank and not (_LIST_ITEM.match(text) or _INDENTED.match(text)):
            self._close(closed)
        fence = _FENCE.match(text)
        if fence and fence.group(2)[0] == "`" and "`" in fence.group(3):
            fence = None  # ```x``` is inline code, not a fence
        nested = self._content and self._continuable and text[0] in " \t"
        heading = _HEADING.match(text)
        # Display math ends the block before it, like a fence, but only if a line closes it
        # later: that block stays with it (rendered together, they render the same), and
        # the block closes with the math. Indented, it is in a list's item (in indented code
        # or a paragraph's line, it is text).
        math = None
        if not fence and (not nested or _LIST_ITEM.match(self._lines[0])):
            math = _display_math_line(text, nested)
        indented_code = math and not nested and all(map(_IN_CODE.match, self._lines))
        if self._content and ((fence and not nested) or heading or indented_code):
            self._close(closed)  # (any line at the margin ends indented code)
        math_at = self._lines_length
        # In a list item, after a blank line, display math starts a block of the item's.
        math_tight = self._content and not (nested and self._blank)
        self._content = True
        self._blank = False
        self._keep(line)
        if _LIST_ITEM.match(text) or _CODE_INDENT.match(text):
            self._continuable = True
        if fence:
            self._fence = fence.group(2)
            self._fence_ends_block = not nested
        elif math == "open":
            # Like a fence: open until a line that ends with `$$` (blank lines and all, unless
            # it is tight).
            self._fence = "$$"
            self._fence_ends_block = not nested
            self._math_at = math_at
            self._math_tight = math_tight
            self._math_line = len(self._lines) - 1
        elif heading or (math == "whole" and not nested):
            self._close(closed)

    def _not_math(self, blank: str, closed: list[str]) -> None:
        """A blank line came before the closing `$$` of display math that would have ended
        the block before it: that `$$` was text. The lines after it are judged again as what
        they are (a list item, a fence, a heading), then the blank line."""
        again = self._lines[self._math_line + 1 :]
        del self._lines[self._math_line + 1 :]
        self._lines_length -= sum(map(len, again))
        self._fence, self._math_tight, self._math_at = None, False, 0
        for line in [*again, blank]:
            self._take(line, closed)

    def _keep(self, line: str) -> None:
        self._lines.append(line)
        self._lines_length += len(line)

    def _text_from(self, offset: int) -> str:
        """The open block's text from `offset` on, without joining what comes before it: the
        settled part of a long block is never copied again."""
        remaining = self._lines_length + self._partial_length - offset
        pieces = []
        for chunk in itertools.chain(reversed(self._partial), reversed(self._lines)):
            if remaining <= 0:
                break
            pieces.append(chunk if len(chunk) <= remaining else chunk[len(chunk) - remaining :])
            remaining -= len(chunk)
        return "".join(reversed(pieces))

    def _start(self, size: int = 200) -> str:
        """The open block's first characters (its kind shows there)."""
        pieces, taken = [], 0
        for chunk in itertools.chain(self._lines, self._partial):
            pieces.append(chunk)
            taken += len(chunk)
            if taken >= size:
                break
        return "".join(pieces)[:size]

    # --- the open block, shown provisionally ---------------------------------------------

    def provisional(self) -> dict | None:
        """What changed in the open block's provisional HTML since the last call, for the
        viewers: {"reset": True, "html": ...} (show this container), or {"add": ..., "fresh":
        ...} (append `add` to what was settled, show `fresh` after it); None when nothing did.

        Bounded and linear: settled parts (a paragraph's text up to a point where its inline
        Markdown is balanced, a code block's complete lines) are rendered once; each call
        renders only what came after them, which stays short however long the block grows.
        Blocks of other kinds (quotes, tables, display math) are rendered whole, more rarely as
        they grow long."""
        start = self._start()
        size = self._lines_length + self._partial_length
        if not start.strip() and size <= len(start):
            return None
        shown = self._open
        kind = self._kind(start)
        if kind != shown.kind:
            shown = self._open = _OpenBlock.of(kind, start)
        if kind in _WHOLE_KINDS:
            if shown.shown and size > _WHOLE_STEP and size < shown.whole_size * 1.25:
                return None  # long: rendered again once it has grown a quarter
            shown.whole_size = size
            fresh = _render_whole(kind, shown, self.tail, self._math_at)
            return shown.show(add="", fresh=fresh)
        add, fresh = self._settle(kind)
        return shown.show(add=add, fresh=fresh)

    def open_html(self) -> str:
        """The open block as the viewers see it once they have every update so far: for a
        snapshot or a page, which must not change what the stream sends next."""
        text = self.tail
        if not text.strip():
            return ""
        kind = self._kind(text)
        shown = self._open if kind == self._open.kind else _OpenBlock.of(kind, text)
        if kind in _WHOLE_KINDS:
            html_ = _render_whole(kind, shown, text, self._math_at, remember=False)
            return shown.container("", html_)
        body = _body(kind, text)
        return shown.container("".join(shown.settled), _render_piece(kind, body[shown.at :]))

    def _kind(self, text: str) -> str:
        if self._fence is not None and self._fence_ends_block:
            return "math" if self._fence == "$$" else "code"
        first = text.split("\n", 1)[0]
        if not self._lines and _display_math_line(first):
            return "math"  # its first line, still being written
        if _PARAGRAPH_START.match(first) and "|" not in first:
            return "paragraph"
        if _LIST_START.match(first):
            return "list"
        return "whole"

    def _settle(self, kind: str) -> tuple[str, str]:
        """Settle what can be (rendered once, for good) and render what comes after it."""
        shown = self._open
        # A code block's body starts after its fence line; a paragraph's is all of it.
        body_start = len(self._lines[0]) if kind == "code" else 0
        rest = self._text_from(body_start + shown.at)
        cut = _CUTS[kind](rest)
        add = ""
        if cut:
            add = _render_piece(kind, rest[:cut])
            shown.settled.append(add)
            shown.at += cut
            rest = rest[cut:]
        return add, _render_piece(kind, rest)

    def _closes_fence(self, text: str) -> bool:
        marker = self._fence or ""
        if marker == "$$":
            return text.rstrip().endswith("$$")
        stripped = text.strip()
        indent = len(text) - len(text.lstrip(" "))
        return (
            (indent <= 3 or not self._fence_ends_block)
            and len(stripped) >= len(marker)
            and stripped == marker[0] * len(stripped)
        )

    def _close(self, closed: list[str]) -> None:
        text = "".join(self._lines)
        self._lines, self._lines_length = [], 0
        self._reset_state()
        rendered = render_markdown(text)
        if rendered:
            closed.append(rendered)


def snapshot_html(text: str) -> tuple[str, str]:
    """For a reply in progress: the closed blocks' HTML and the open block's text."""
    closed, renderer = snapshot(text)
    return (closed, renderer.tail)


def snapshot(text: str) -> tuple[str, StreamingRenderer]:
    """For a reply in progress: the closed blocks' HTML, and a renderer holding the open block
    (its text, `tail`, and as the viewers see it, `open_html()`)."""
    renderer = StreamingRenderer()
    return renderer.feed(text).closed_html, renderer


# A paragraph starts with none of these: a list, a quote, a heading, a fence, an indent.
_PARAGRAPH_START = re.compile(
    r"^ {0,3}(?!(?:[-*+]|\d{1,9}[.)])(?:[ \t]|$)|[>#]|`{3}|~{3}|[ \t]|\*\*\*|---|___)"
)
# Display math at the left margin (four spaces would make it indented code).
_DISPLAY_MATH = re.compile(r" {0,3}\$\$")
# A block rendered whole is rendered again, once longer than this, only when a quarter longer.
_WHOLE_STEP = 2048
# What markdown-it could make more of than escaped text: a piece of a paragraph without any of
# these renders as itself.
_INLINE_SYNTAX = re.compile(r"[*_`\[\]~$<>&!\\]|  \n|https?:")
# A list at the left margin (a nested one belongs to its item), and each of its item lines.
_LIST_START = re.compile(r"^(?:([-*+])|(\d{1,9})[.)])(?:[ \t]|$)")
_ITEM_LINE = re.compile(r"(?m)^(?:[-*+]|\d{1,9}[.)])(?:[ \t]|$)")
# An item line at the margin whose text starts as a paragraph's would: not a nested list, quote,
# heading, fence, table, thematic break, task box or indented code.
_SIMPLE_ITEM = re.compile(
    r"(?:[-*+]|\d{1,9}[.)])[ \t]{1,4}"
    r"(?![-*+](?:[ \t]|$)|\d{1,9}[.)](?:[ \t]|$)|[>#|<]|`{3}|~{3}|\[[ xX]\]|([-*_])[ \t]*\1[ \t]*\1)"
    r"(\S.*)"
)
# Text after a `$` that may still be a formula is held back while it is no longer than this;
# past it, it is text (a price, "$5 for"): inline formulas are short.
_FORMULA_PENDING = 120
# An item line that is so far only its marker and (part of) a task box.
_PARTIAL_BOX = re.compile(r" {0,3}((?:[-*+]|\d{1,9}[.)])[ \t]+)\[(?:[ xX]\]?)?[ \t]*$")
# A run of delimiters at the end of a piece: it may close a span, or still be being written.
_TRAILING_RUN = re.compile(r"(?:\*+|~+|`+)$")
_LIST_TAGS = re.compile(r"^\s*<(?:ul|ol)[^>]*>\n?|</(?:ul|ol)>\s*$")
# An open block whose lines are inline text: a table (a row each), a heading or a quote.
_LINE_OF_TEXT = re.compile(r" {0,3}([|#>])")
# Open blocks rendered whole on each update (more rarely once long), not piece by piece.
_WHOLE_KINDS = frozenset({"whole", "math"})
# The fresh part of the open block goes in this element; settled parts go before it.
_FRESH = ("<span data-fresh>", "</span>")


@dataclass
class _OpenBlock:
    """What the viewers were shown of the open block: its kind, its container's head, the
    settled parts' HTML and how much of the block's body they cover."""

    kind: str = ""
    head: tuple[str, str] = ("", "")
    settled: list[str] = field(default_factory=list)
    at: int = 0
    shown: bool = False
    fresh: str | None = None
    whole_size: int = 0
    math: str = ""  # display math: the last of its formula that could be read, as HTML

    @classmethod
    def of(cls, kind: str, text: str) -> _OpenBlock:
        """The open block of this kind that `text` starts."""
        if kind != "code":
            return cls(kind, _head(kind, text))
        words = text.split("\n", 1)[0].strip().lstrip("`~").split(maxsplit=1)
        language = words[0].lower() if words else ""
        # The language is named as the exact render names it: only if Pygments knows it.
        lang_attr = f' data-lang="{html.escape(language)}"' if _lexer(language) else ""
        head = f'<div class="code-block"{lang_attr}><pre><code class="highlight">'
        return cls(kind, (head, "</code></pre></div>"))

    def container(self, settled: str, fresh: str) -> str:
        return f"{self.head[0]}{settled}{_FRESH[0]}{fresh}{_FRESH[1]}{self.head[1]}"

    def show(self, *, add: str, fresh: str) -> dict | None:
        if not self.shown:
            self.shown, self.fresh = True, fresh
            return {"reset": True, "html": self.container("".join(self.settled), fresh)}
        if not add and fresh == self.fresh:
            return None
        self.fresh = fresh
        return {"add": add, "fresh": fresh}


def _display_math_line(text: str, nested: bool = False) -> str | None:
    """What a line is to dollarmath's block rule: "whole" (`$$…$$`), "open" (`$$` and maybe
    the formula's start: a later line ending with `$$` closes it), or None (not display math;
    `$$a$$ b` is text)."""
    stripped = text.strip()
    if not stripped.startswith("$$") or not (nested or _DISPLAY_MATH.match(text)):
        return None
    if len(stripped) > 3 and "$$" in stripped[2:]:
        return "whole" if stripped.endswith("$$") else None
    return "open"


def _head(kind: str, text: str) -> tuple[str, str]:
    if kind == "paragraph":
        return ("<p>", "</p>")
    if kind == "list":
        number = _LIST_START.match(text).group(2)
        if number is None:
            return ("<ul>", "</ul>")
        start = int(number)
        return (f'<ol start="{start}">' if start != 1 else "<ol>", "</ol>")
    return ('<div class="provisional">', "</div>")


@functools.lru_cache(maxsize=64)
def _lexer(language: str):
    """Pygments' lexer for a fence's language, or None. Looking one up by name costs 70 µs,
    twice a code block (its head as it streams, its exact render); a lexer keeps no state
    between calls, so one serves every block of its language."""
    try:
        return get_lexer_by_name(language) if language else None
    except ClassNotFound:
        return None


def _body(kind: str, text: str) -> str:
    """The part of the open block that is settled piece by piece: a code block's lines."""
    return text.split("\n", 1)[1] if kind == "code" and "\n" in text else text


def _render_whole(
    kind: str, shown: _OpenBlock, text: str, math_at: int = 0, *, remember: bool = True
) -> str:
    """A block shown whole: rendered with its last line's inline Markdown closed (a table's
    row, a heading, a quote's line), or display math as far as it can be read (after the
    block it ended, from `math_at` on)."""
    if kind != "math":
        line = _LINE_OF_TEXT.match(text)
        if line is None or "```" in text or "~~~" in text:  # a quote's code is not inline
            return render_markdown(text)
        if line.group(1) == "|" and text.count("\n") < 2:
            return ""  # a table shows once its delimiter row is whole; before, it is pipes
        head, newline, last = text.rpartition("\n")
        return render_markdown(head + newline + _inline_closed(last))
    before = render_markdown(text[:math_at]) if math_at else ""
    # Without its `$$` and a closing `$` or `$$` being written.
    formula = text[math_at:].strip()[2:].rstrip().rstrip("$")
    mathml = _to_mathml(formula, display=True)
    if mathml is None:
        # Half a formula (`\frac{a}{`) is no formula: what was last shown stays.
        return before + shown.math
    shown_html = _display_math(mathml)
    if remember:
        shown.math = shown_html
    return before + shown_html


def _render_piece(kind: str, piece: str) -> str:
    if not piece:
        return ""
    if kind == "list":
        piece = _without_partial_box(piece)
        items = _simple_items(piece)
        if items is not None:
            return "".join(f"<li>{_render_inline(item)}</li>\n" for item in items)
        # Its items, rendered as a list of their own, without that list's own tags.
        return _LIST_TAGS.sub("", render_markdown(_inline_closed(piece)))
    if kind == "code":
        # Plain text until the block is whole, then highlighted once, exactly. Highlighting
        # each line as it came too cost Pygments 100-500 µs a line: the largest part of
        # showing the open block, and the relay's CPU per event rose 11% with it (callgrind,
        # benchmarks/relay_instructions.py).
        return html.escape(piece, quote=False)
    return _render_inline(piece)


def _render_inline(piece: str) -> str:
    """A piece of a paragraph (or of a one-line list item), its open emphasis closed."""
    if not _INLINE_SYNTAX.search(piece):
        return html.escape(piece, quote=False)  # plain words: what markdown-it would make
    inline = _md.renderInline(_inline_closed(piece))
    # Without raw HTML (markdown-it escapes it), only links and images can carry what the
    # allow-list refuses; the rest is escaped text in tags it allows. Ten times a second per
    # reply, the sanitizer is the costly part.
    return _sanitize(inline) if "<a " in inline or "<img" in inline else inline


def _without_partial_box(piece: str) -> str:
    """A list whose last item is still being written as far as its task box (`- [`, `- [x]`):
    that item without it for now. A box shows as a checkbox once its item has text; until
    then markdown-it would show it as `[x]`."""
    line_start = piece.rfind("\n") + 1
    box = _PARTIAL_BOX.match(piece, line_start)
    return piece[: box.end(1)] if box else piece


def _simple_items(piece: str) -> list[str] | None:
    """The items of a piece of a tight list whose items are one line of text each (what most
    lists are), as that text; None for anything else (nested blocks, continuation lines, blank
    lines, task boxes), which is rendered through the whole Markdown pipeline. The open block
    is shown ten times a second, and markdown-it's block pass costs most of a list's render."""
    items = []
    for line in piece.rstrip("\n").split("\n"):
        match = _SIMPLE_ITEM.match(line)
        if match is None:
            return None
        items.append(match.group(2).rstrip())
    return items


def _code_cut(rest: str) -> int:
    """A code block settles its complete lines."""
    return rest.rfind("\n") + 1


def _list_cut(rest: str) -> int:
    """A list settles the items before the one being written (where a line starts an item at
    the list's own indent)."""
    cut = 0
    for match in _ITEM_LINE.finditer(rest):
        if match.start():
            cut = match.start()
    return cut


def _inline_cut(rest: str) -> int:
    """The last point of `rest` where its inline Markdown is balanced (before a space or a line
    break, with code spans, emphasis, strikethrough, links and math closed): what comes before
    it renders the same whatever follows. 0 when there is none."""
    return _inline_scan(rest)[0]


def _inline_closed(piece: str) -> str:
    """An unfinished piece of a paragraph as it will look: the emphasis, strikethrough and code
    spans it opened closed, and a delimiter still being written (a lone `**` at its end) left
    out, so no Markdown syntax shows while it streams. A formula not closed yet is left out
    too: it shows once whole, as math, rather than as `$` and TeX (but "$5 for" is shown: a
    `$` before a digit is most likely a price)."""
    line_start = piece.rfind("\n") + 1
    if line_start and _DISPLAY_MATH.match(piece, line_start):
        piece = piece[:line_start]  # display math being opened: it shows once its line is
    formula = _inline_scan(piece)[3]
    if formula >= 0 and not piece[formula + 1 : formula + 2].isdigit():
        piece = piece[:formula]
    body = piece.rstrip()
    space = piece[len(body) :]
    trailing = _TRAILING_RUN.search(body)
    if trailing:
        run = trailing.group()
        _, runs, code, _ = _inline_scan(body[: trailing.start()])
        if code:
            ends_something = run[0] != "`" or run == code  # text in a code span, or its end
        else:
            ends_something = run[0] != "`" and bool(runs) and runs[-1] == run
        if not ends_something:
            body = body[: trailing.start()]
    _, open_runs, code, _ = _inline_scan(body)
    return body + code + "".join(reversed(open_runs)) + space


def _inline_scan(rest: str) -> tuple[int, list[str], str, int]:
    """(the last balanced cut, the runs still open, the code span's run if one is open, where
    a formula that may still close starts or -1). A closed formula is skipped whole: dollarmath
    reads it before any other inline syntax. Nothing after a formula that may still close is
    settled; the `$` that starts it is text for the rest of the scan (no `$` follows it)."""
    cut = 0
    formula = -1
    open_runs: list[str] = []  # the emphasis and strikethrough runs not closed yet
    code = ""  # the backtick run that opened a code span
    brackets = 0
    index, size = 0, len(rest)
    while index < size:
        char = rest[index]
        if char in "`*~":
            end = index
            while end < size and rest[end] == char:
                end += 1
            run, index = rest[index:end], end
            if char == "`":
                code = "" if code == run else (code or run)
            elif not code:
                if open_runs and open_runs[-1] == run:
                    open_runs.pop()
                elif index < size and rest[index] not in " \n":
                    open_runs.append(run)  # a run before a word opens; before a space it is text
            continue
        if not code:
            if char == "$" and not _escaped(rest, index):
                end = _formula_end(rest, index)
                if end is None:
                    formula = index
                elif end > 0:
                    index = end + 1
                    continue
            elif char == "[":
                brackets += 1
            elif char == "]":
                brackets = max(0, brackets - 1)
            elif (
                char in " \n"
                and index
                and rest[index - 1] not in " \n\\"
                and not (open_runs or brackets or formula >= 0)
            ):
                cut = index
        index += 1
    return cut, open_runs, code, formula


def _formula_end(text: str, start: int) -> int | None:
    """Where the inline formula that the `$` at `start` opens ends (its closing `$`), read as
    dollarmath reads it: -1 if it opens none (a price: "$5 and $10"), None if it may open one
    whose end has not come yet (for as long as a formula is likely to be)."""
    after = start + 1
    if after == len(text):
        return None
    if text[after].isspace() or (start and text[start - 1].isdigit()):
        return -1
    end = text.find("$", after)
    while end >= 0 and _escaped(text, end):
        end = text.find("$", end + 1)
    if end < 0:
        return None if len(text) - start <= _FORMULA_PENDING else -1
    closing = end > after and not text[end - 1].isspace()
    if closing and end + 1 < len(text) and text[end + 1].isdigit():
        closing = False
    return end if closing else -1


def _escaped(text: str, index: int) -> bool:
    """Whether an odd number of backslashes comes before `text[index]`."""
    slashes = 0
    while index - slashes > 0 and text[index - slashes - 1] == "\\":
        slashes += 1
    return slashes % 2 == 1


def pygments_css() -> str:
    """Highlighting rules for `.highlight` code: light, and dark by the system's preference
    unless the person chose light, or always when they chose dark (<html data-theme>)."""
    # Token rules only: the background comes from .code-block, and Pygments' own `pre` rule
    # would reach every <pre> on the page.
    light = "\n".join(HtmlFormatter(style="default").get_token_style_defs(".highlight"))
    monokai = HtmlFormatter(style="monokai")
    preferred = ':root:not([data-theme="light"]) .highlight'
    dark = "\n".join(monokai.get_token_style_defs(preferred))
    chosen = "\n".join(monokai.get_token_style_defs(':root[data-theme="dark"] .highlight'))
    return f"{light}\n\n@media (prefers-color-scheme: dark) {{\n{dark}\n}}\n\n{chosen}\n"


_CUTS = {"paragraph": _inline_cut, "code": _code_cut, "list": _list_cut}
