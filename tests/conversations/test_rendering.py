"""Markdown from a model becomes safe HTML, whole or block by block; what a person typed stays text."""

from __future__ import annotations

import random
import re
from html import escape
from html.parser import HTMLParser
from pathlib import Path

import pytest

from conversations import rendering
from conversations.rendering import (
    RenderUpdate,
    StreamingRenderer,
    pygments_css,
    render_markdown,
    render_user_text,
    safe_url,
    snapshot_html,
)
from emulator.assistant import compose_reply

REPLY_LINES = [
    "Sure! Here is how to **double** a number in Python.\n",  # 0
    "\n",  # 1: closes the paragraph
    "Steps:\n",  # 2
    "- write a function\n",  # 3
    "- call it with `x`\n",  # 4
    "\n",  # 5: a list stays open across a blank line
    "- print the result\n",  # 6
    "\n",  # 7
    "## Example\n",  # 8: closes the list, then the heading on its own
    "```python\n",  # 9
    "def double(x: int) -> int:\n",  # 10
    "\n",  # 11: a blank line inside a fence closes nothing
    "    return x * 2\n",  # 12
    "```\n",  # 13: closes the fence
    "\n",  # 14
    "| input | output |\n",  # 15
    "|------:|-------:|\n",  # 16
    "| 2 | 4 |\n",  # 17
    "\n",  # 18: closes the table
    "1. It is *pure*.\n",  # 19
    "2. See [the docs](https://docs.python.org/3/).\n",  # 20
    "\n",  # 21
    "> That's all.\n",  # 22: closes the ordered list
    "\n",  # 23: closes the quote
    "Anything else?",  # 24: open at the end
]
REPLY = "".join(REPLY_LINES)
CLOSING_LINES = {1, 8, 13, 18, 22, 23}


class ElementsFound(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.found: list[tuple[str, list]] = []

    def handle_starttag(self, tag, attrs) -> None:
        self.found.append((tag, attrs))


def squeeze(html: str) -> str:
    return re.sub(r">\s+<", "><", html).strip()


def stream(text: str, sizes: list[int]) -> tuple[list[RenderUpdate], StreamingRenderer]:
    renderer = StreamingRenderer()
    updates, start = [], 0
    for size in sizes:
        updates.append(renderer.feed(text[start : start + size]))
        start += size
    assert start >= len(text)
    return updates, renderer


def random_sizes(text: str, seed: int) -> list[int]:
    rng = random.Random(seed)
    sizes, total = [], 0
    while total < len(text):
        sizes.append(rng.choice([1, 1, 2, 3, 4, 7, 12, 40]))
        total += sizes[-1]
    return sizes


# --- safety ----------------------------------------------------------------------------------


XSS = [
    "<script>alert(1)</script>",
    "<img src=x onerror=alert(1)>",
    "Inline <img src=x onerror=alert(1)> in a paragraph.",
    '<div onclick="alert(1)">\nraw html block\n</div>',
    '<a href="https://example.com" onclick="alert(1)">x</a>',
    '- [ok](https://example.com) <a href="https://example.com" onclick="alert(1)">x</a>',
    "<iframe src=https://evil.example></iframe>",
    "![img](https://example.com/x.png)",
    "[x](javascript:alert(1))",
    "[x](JAVASCRIPT:alert(1))",
    "[x](data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==)",
    "[x](vbscript:msgbox)",
    "<javascript:alert(1)>",
    '```"><script>alert(1)</script>\nx\n```',
]


@pytest.mark.parametrize("source", XSS)
def test_nothing_in_model_output_can_run(source):
    tags = ElementsFound()
    tags.feed(render_markdown(source))

    assert not {"script", "img", "iframe"} & {tag for tag, _ in tags.found}
    for tag, attrs in tags.found:
        for name, value in attrs:
            assert not name.startswith("on")
            assert (
                not (value or "").strip().lower().startswith(("javascript:", "data:", "vbscript:"))
            )
            assert tag != "a" or name != "href" or value == "https://example.com"


@pytest.mark.parametrize(
    "source",
    [
        "<script>alert(1)</script>",
        "<img src=x onerror=alert(1)>",
        '<div onclick="alert(1)">\nraw html block\n</div>',
        '<a href="https://example.com" onclick="alert(1)">x</a>',
    ],
)
def test_raw_html_is_shown_as_text(source):
    assert render_markdown(source) == f"<p>{escape(source, quote=False)}</p>\n"


def test_relative_link_loses_its_href():
    assert "href" not in render_markdown("[admin](/admin/)")


def test_markdown_image_is_dropped():
    html = render_markdown("![a cat](https://example.com/cat.png) meow")

    assert "<img" not in html
    assert "meow" in html


def test_fence_language_cannot_inject_attributes():
    html = render_markdown('```"><script>alert(1)</script>\nx\n```')

    assert "<script" not in html
    assert "data-lang" not in html


def test_links_open_in_a_new_tab_without_referrer():
    html = render_markdown("Read [the docs](https://docs.python.org/3/) or <mailto:a@b.example>.")

    assert (
        '<a href="https://docs.python.org/3/" target="_blank" rel="noopener noreferrer nofollow">'
        "the docs</a>"
    ) in html
    assert 'href="mailto:a@b.example"' in html


# --- Markdown features -----------------------------------------------------------------------


def test_code_fence_is_highlighted_with_classes_kept():
    html = render_markdown("```python\ndef f():\n    return 1\n```")

    assert html.startswith(
        '<div class="code-block" data-lang="python"><pre><code class="highlight">'
    )
    assert '<span class="k">def</span>' in html
    assert '<span class="nf">f</span>' in html


def test_fence_without_language_is_plain_escaped_text():
    html = render_markdown("```\n<b>x</b> = 1\n```")

    assert html.startswith('<div class="code-block"><pre><code class="highlight">')
    assert "&lt;b&gt;x&lt;/b&gt; = 1" in html
    assert "<span" not in html


def test_fence_with_unknown_language_is_plain():
    html = render_markdown("```nosuchlanguage\nx = 1\n```")

    assert "data-lang" not in html
    assert "<span" not in html
    assert "x = 1" in html


def test_table_keeps_its_alignment_as_a_class_not_an_inline_style():
    """Our Content-Security-Policy applies no inline style: an aligned column is a class."""
    html = render_markdown("| a | b | c |\n|---|--:|:-:|\n| 1 | 2 | 3 |")

    assert "<table>" in html
    assert "<th>a</th>" in html
    assert '<td class="align-right">2</td>' in html
    assert '<td class="align-center">3</td>' in html
    assert "style" not in html


@pytest.mark.parametrize(
    "url",
    [
        "https://example.com/docs?q=1#top",
        "http://example.com",
        "mailto:someone@example.com",
        "  https://example.com/padded  ",
    ],
)
def test_a_url_on_the_allow_list_may_be_a_link(url):
    assert safe_url(url) == url.strip()
    assert f'href="{url.strip()}"' in render_markdown(f"[x]({url.strip()})")


@pytest.mark.parametrize(
    "url",
    [
        "javascript:alert(1)",
        "JavaScript:alert(1)",
        " javascript:alert(1)",
        "java\tscript:alert(1)",  # browsers drop the tab
        "java\nscript:alert(1)",
        "\x01javascript:alert(1)",
        "data:text/html,<script>alert(1)</script>",
        "vbscript:msgbox",
        "file:///etc/passwd",
        "//evil.example.com/",  # relative: Markdown links refuse those too
        "/admin/",
        "https:example.com",
        "http://[",
        "",
        None,
        42,
        ["https://example.com"],
    ],
)
def test_any_other_url_from_upstream_is_no_link(url):
    assert safe_url(url) == ""


def test_everyday_markdown():
    html = render_markdown(
        "# Title\n\n*em* **strong** ~~gone~~ `code`  \nnext\n\n> quote\n\n---\n\n1. one\n2. two"
    )

    for fragment in [
        "<h1>Title</h1>",
        "<em>em</em>",
        "<strong>strong</strong>",
        "<del>gone</del>",
        "<code>code</code>",
        "<br>",
        "<blockquote>",
        "<hr>",
        "<ol>",
        "<li>two</li>",
    ]:
        assert fragment in html


def test_empty_text_renders_nothing():
    assert render_markdown("") == ""
    assert render_markdown("\n \n") == ""


# --- what a user typed -----------------------------------------------------------------------


def test_user_text_is_escaped_never_html():
    html = render_user_text("<script>alert(1)</script>\n<img src=x onerror=alert(1)> **not bold**")

    assert html == (
        "<p>&lt;script&gt;alert(1)&lt;/script&gt;<br>"
        "&lt;img src=x onerror=alert(1)&gt; **not bold**</p>"
    )


def test_user_text_keeps_paragraphs_and_line_breaks():
    assert render_user_text("one\ntwo\r\n\r\nthree\n") == "<p>one<br>two</p><p>three</p>"


# --- streaming -------------------------------------------------------------------------------


def sample_text(seed: int) -> str:
    if seed % 2:
        return REPLY
    if seed % 4 == 2:
        # A GFM table, a task list, strikethrough, inline and display math.
        return compose_reply(
            f"a table, a checklist and math {seed}", agent=bool(seed % 3)
        ).full_text
    return compose_reply(f"prompt {seed}", agent=bool(seed % 3)).full_text


@pytest.mark.parametrize("seed", range(20))
def test_any_split_streams_the_same_html_as_rendering_whole(seed):
    text = sample_text(seed)
    updates, renderer = stream(text, random_sizes(text, seed))
    streamed = "".join(u.closed_html for u in updates) + renderer.finish()

    assert squeeze(streamed) == squeeze(render_markdown(text))
    whole = StreamingRenderer()
    assert streamed == whole.feed(text).closed_html + whole.finish()


@pytest.mark.parametrize("seed", range(6))
def test_updates_let_the_browser_follow_the_open_block(seed):
    full = sample_text(seed)
    renderer = StreamingRenderer()
    text, html, tail = "", "", ""
    for size in random_sizes(full, seed):
        delta = full[len(text) : len(text) + size]
        text += delta
        update = renderer.feed(delta)
        html += update.closed_html
        tail = update.tail if update.reset else tail + update.tail

        assert update.reset or update.closed_html == ""
        assert tail == renderer.tail
        assert (html, tail) == snapshot_html(text)


def test_a_blank_line_closes_a_paragraph_and_the_tail_is_the_open_block():
    renderer = StreamingRenderer()

    assert renderer.feed("Hello ") == RenderUpdate("", "Hello ", reset=False)
    assert renderer.feed("world.\n") == RenderUpdate("", "world.\n", reset=False)
    assert renderer.feed("\nNext") == RenderUpdate("<p>Hello world.</p>\n", "Next", reset=True)
    assert renderer.feed(" para") == RenderUpdate("", " para", reset=False)


def test_blank_lines_between_blocks_leave_the_tail():
    renderer = StreamingRenderer()
    renderer.feed("# Title\n")

    assert renderer.feed("\n") == RenderUpdate("", "", reset=True)
    assert renderer.tail == ""


def test_tail_is_the_open_block():
    renderer = StreamingRenderer()
    renderer.feed("First paragraph.\n\nSecond para")

    assert renderer.tail == "Second para"
    assert snapshot_html("First paragraph.\n\nSecond para") == (
        "<p>First paragraph.</p>\n",
        "Second para",
    )


def test_html_arrives_exactly_when_a_block_closes():
    renderer = StreamingRenderer()
    closing = {i for i, line in enumerate(REPLY_LINES) if renderer.feed(line).closed_html}

    assert closing == CLOSING_LINES
    assert renderer.finish() == "<p>Anything else?</p>\n"


def test_list_items_stay_together_across_blank_lines():
    text = "- a\n\n- b\n  continued\n\n  more of b\n\nafter"
    updates, renderer = stream(text, [1] * len(text))
    closed = [u.closed_html for u in updates if u.closed_html]

    assert len(closed) == 1
    assert squeeze(closed[0]) == squeeze(render_markdown("- a\n\n- b\n  continued\n\n  more of b"))
    assert renderer.tail == "after"


def test_a_line_that_cannot_continue_a_list_closes_it_at_once():
    renderer = StreamingRenderer()
    renderer.feed("- a\n- b\n\n")

    assert renderer.feed("T").closed_html == "<ul>\n<li>a</li>\n<li>b</li>\n</ul>\n"
    assert renderer.tail == "T"


def test_fence_inside_a_list_item_stays_in_the_item():
    text = "- step one\n\n  ```sh\n  ls\n\n  ```\n- step two\n\nDone.\n"
    updates, renderer = stream(text, [1] * len(text))
    streamed = "".join(u.closed_html for u in updates) + renderer.finish()

    assert squeeze(streamed) == squeeze(render_markdown(text))
    assert streamed.count("<ul>") == 1


def test_unclosed_fence_at_the_end_is_rendered_by_finish():
    renderer = StreamingRenderer()
    update = renderer.feed("```python\nx = 1\n\ny = 2\n")

    assert update.closed_html == ""
    assert renderer.tail == "```python\nx = 1\n\ny = 2\n"
    html = renderer.finish()
    assert html.startswith('<div class="code-block" data-lang="python">')
    assert '<span class="n">y</span>' in html


def test_inline_triple_backticks_do_not_open_a_fence():
    renderer = StreamingRenderer()

    assert renderer.feed("Use ```x``` here.\n\n").closed_html == "<p>Use <code>x</code> here.</p>\n"


def test_long_reply_renders_each_block_once(monkeypatch):
    calls: list[int] = []
    real = rendering.render_markdown

    def counting(text: str) -> str:
        calls.append(len(text))
        return real(text)

    monkeypatch.setattr(rendering, "render_markdown", counting)
    block = "A paragraph of about ten words goes here for testing.\n\n"
    text = block * 1000 + "```python\n" + "x = 1\n" * 1000 + "```\n"
    tokens = re.findall(r"\S+|\s+", text)
    assert len(tokens) > 20_000

    renderer = StreamingRenderer()
    closed = sum(1 for token in tokens if renderer.feed(token).closed_html)
    renderer.finish()

    assert closed == 1001
    assert len(calls) == 1002  # once per block, and the empty remainder at finish()
    assert sum(calls) == len(text)


def test_a_long_emulator_reply_renders_each_block_once(monkeypatch):
    calls: list[int] = []
    real = rendering.render_markdown
    monkeypatch.setattr(rendering, "render_markdown", lambda t: calls.append(len(t)) or real(t))
    reply = compose_reply("a long answer", tokens=20_000)
    renderer = StreamingRenderer()

    for token in reply.text:
        renderer.feed(token)
    renderer.finish()

    assert len(reply.text) == 20_000
    assert len(calls) <= reply.full_text.count("\n\n") + 1
    assert sum(calls) <= len(reply.full_text), "each character rendered at most once"


def test_long_open_fence_is_not_rendered_per_delta(monkeypatch):
    calls: list[str] = []
    real = rendering.render_markdown
    monkeypatch.setattr(rendering, "render_markdown", lambda text: calls.append(text) or real(text))
    renderer = StreamingRenderer()

    renderer.feed("```\n")
    for _ in range(20_000):
        renderer.feed("y")
    renderer.feed("\n```\n")

    assert len(calls) == 1
    assert calls[0] == "```\n" + "y" * 20_000 + "\n```\n"


# --- highlight CSS ---------------------------------------------------------------------------


def test_highlight_css_has_light_and_dark_rules_and_is_up_to_date():
    css = pygments_css()

    assert ".highlight .k {" in css
    _, dark = css.split("@media (prefers-color-scheme: dark) {")
    preferred, chosen = dark.split("\n}\n")
    # The system's dark, unless the person chose light; and dark whenever they chose it.
    assert ':root:not([data-theme="light"]) .highlight .k {' in preferred
    assert ':root[data-theme="dark"] .highlight .k {' in chosen
    assert not re.search(r"^pre\b", css, re.M)
    static = Path(__file__).resolve().parents[2] / "static" / "css" / "highlight.css"
    assert static.read_text() == css


# --- the open block, formatted while it streams ----------------------------------------------

FRESH_OPEN = "<span data-fresh>"


class OpenBlockPage:
    """What chat.js's showOpen makes of the updates, as one string."""

    def __init__(self) -> None:
        self.before = self.fresh = self.after = ""
        self.settled = ""

    def apply(self, update: dict) -> None:
        if update.get("reset"):
            before, rest = update["html"].split(FRESH_OPEN, 1)
            end = rest.rfind("</span>")
            self.before, self.fresh, self.after = before, rest[:end], rest[end + 7 :]
            self.settled = ""
        self.settled += update.get("add", "")
        if "fresh" in update:
            self.fresh = update["fresh"]

    def html(self) -> str:
        return f"{self.before}{self.settled}{FRESH_OPEN}{self.fresh}</span>{self.after}"


def visible_text(markup: str) -> str:
    return re.sub(r"<[^>]+>", "", markup)


def stream_open_blocks(text: str, *, every: int = 3):
    """Feed `text` token by token, showing the open block every `every` tokens, as the runner
    does every 100 ms; yield (the page's open block, the renderer's own view of it)."""
    renderer, page = StreamingRenderer(), OpenBlockPage()
    for index, token in enumerate(re.findall(r"\S+\s*", text)):
        if renderer.feed(token).reset:
            page = OpenBlockPage()  # the block closed: its HTML came with the delta
        if index % every == 0 and (update := renderer.provisional()) is not None:
            page.apply(update)
            yield page.html(), renderer.open_html()


@pytest.mark.parametrize("seed", range(6))
def test_the_open_block_shows_formatted_never_as_markdown_syntax(seed):
    text = compose_reply(f"streaming markdown example {seed}", tokens=160).full_text
    shown = 0
    for page, own in stream_open_blocks(text, every=1 + seed % 4):
        # The page, built from the updates alone, is what a snapshot would show.
        assert page == own
        visible = visible_text(page)
        assert "**" not in visible and "```" not in visible
        assert not re.search(r"^\s*- ", visible, re.M), "a list item shows as a list"
        shown += 1
    assert shown > 20


@pytest.mark.parametrize("seed", range(8))
def test_no_delimiter_shows_whatever_the_tokens_cut(seed):
    # Tokens of a real model end anywhere: just after a closing `**`, inside one, after an
    # opening backtick. None of it may show as syntax, in a paragraph or in a list item.
    text = (
        "Use **bold** and *it* and `code` and ~~gone~~ here.\n\n"
        "- **first** item with `x`\n- second *one*\n- ~~third~~ **4**\n\n" + sample_text(seed)
    )
    renderer, page, done = StreamingRenderer(), OpenBlockPage(), 0
    for size in random_sizes(text, seed):
        if renderer.feed(text[done : done + size]).reset:
            page = OpenBlockPage()
        done += size
        if (update := renderer.provisional()) is not None:
            page.apply(update)
            assert page.html() == renderer.open_html()
            outside_code = visible_text(re.sub(r"<code.*?</code>", "", page.html(), flags=re.S))
            for syntax in ("**", "`", "~~"):
                assert syntax not in outside_code, (text[:done], page.html())


def test_the_open_block_is_sanitized_like_the_rest():
    text = "A paragraph with <script>alert(1)</script> and [a](javascript:alert(2)) in it\n"
    renderer = StreamingRenderer()
    renderer.feed(text[:-1])
    html = renderer.provisional()["html"]
    assert "<script>" not in html and 'href="javascript' not in html
    assert "&lt;script&gt;" in html
    # Links and images pass the same allow-list as in a finished reply.
    renderer = StreamingRenderer()
    renderer.feed(
        "See [here](/admin/) and ![x](https://evil.example/p.png) and [ok](https://ok.example) now"
    )
    html = renderer.provisional()["html"]
    assert 'href="/admin/"' not in html and "<img" not in html
    assert 'href="https://ok.example"' in html and 'rel="noopener noreferrer nofollow"' in html


@pytest.mark.parametrize(
    ("kind", "token"),
    [("paragraph", "word{} "), ("code", "value_{} = compute({})\n")],
)
def test_a_long_open_block_costs_no_more_per_update_than_a_short_one(kind, token, monkeypatch):
    """What each update renders stays short however long the block grows: 5,000 tokens of one
    paragraph or one code block, shown every 5 tokens."""
    rendered: list[int] = []
    real = rendering._render_piece

    def measured(kind, piece):
        rendered.append(len(piece))
        return real(kind, piece)

    monkeypatch.setattr(rendering, "_render_piece", measured)
    renderer = StreamingRenderer()
    if kind == "code":
        renderer.feed("```python\n")
    per_update = []
    for index in range(5000):
        renderer.feed(token.format(index, index))
        if index % 5 == 4:
            rendered.clear()
            renderer.provisional()
            per_update.append(sum(rendered))
    # Every update renders about the last five tokens, at the start as at the end.
    assert max(per_update) < 5 * 30
    assert sum(per_update[-100:]) <= 1.5 * sum(per_update[:100])


def test_a_long_list_costs_no_more_per_update_than_a_short_one(monkeypatch):
    rendered: list[int] = []
    real = rendering._render_piece
    monkeypatch.setattr(
        rendering,
        "_render_piece",
        lambda kind, piece: rendered.append(len(piece)) or real(kind, piece),
    )
    renderer, page = StreamingRenderer(), OpenBlockPage()
    for index in range(2000):
        for token in ("- item **number", f" {index}** of", " the list\n"):
            renderer.feed(token)
            rendered.clear()
            if (update := renderer.provisional()) is not None:
                page.apply(update)
            # Each update renders the item being written and the one just finished, at most.
            assert sum(rendered) <= 2 * 40
            assert "**" not in visible_text(page.html())
    assert page.html() == renderer.open_html()
    assert page.html().count("<li>") == 2000
