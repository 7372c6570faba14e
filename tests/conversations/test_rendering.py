"""Markdown from a model becomes safe HTML; what a person typed stays text."""

from __future__ import annotations

import random
import re
from html.parser import HTMLParser

import pytest

from conversations import rendering
from conversations.rendering import (
    StreamingRenderer,
    render_markdown,
    render_user_text,
    snapshot_html,
)
from emulator.assistant import compose_reply

SAMPLE = """# Plan

Here is **the idea**, with `inline code` and a [link](https://example.com/docs).

- first item
- second item
  continued on an indented line

- a loose third item

```python
def greet(name: str) -> str:

    return f"hello {name}"
```

1. one
2. two

| a | b |
|---|---|
| 1 | 2 |

> quoted

That is all."""


class ElementsFound(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.found: list[tuple[str, list]] = []

    def handle_starttag(self, tag, attrs) -> None:
        self.found.append((tag, attrs))


def squash(html: str) -> str:
    return re.sub(r">\s+<", "><", html).strip()


@pytest.mark.parametrize(
    "source",
    [
        "<script>alert(1)</script>",
        "<img src=x onerror=alert(1)>",
        "[click](javascript:alert(1))",
        '<div onclick="alert(1)">raw block</div>',
        '<a href="https://x" onclick="alert(1)">x</a>',
        "![img](https://example.com/x.png)",
        "<iframe src=https://evil.example></iframe>",
    ],
)
def test_nothing_in_model_output_can_run(source):
    tags = ElementsFound()
    tags.feed(render_markdown(source))
    assert not {"script", "img", "iframe"} & {tag for tag, _ in tags.found}
    for _, attrs in tags.found:
        for name, value in attrs:
            assert not name.startswith("on")
            assert not (value or "").strip().lower().startswith("javascript:")


def test_raw_html_is_shown_as_text():
    assert render_markdown("<b>bold?</b>") == "<p>&lt;b&gt;bold?&lt;/b&gt;</p>\n"


def test_code_is_highlighted_with_classes_kept():
    html = render_markdown("```python\ndef f():\n    return 1\n```")
    assert '<div class="code-block" data-lang="python">' in html
    assert '<span class="k">def</span>' in html


def test_unknown_or_missing_language_is_plain_escaped_code():
    html = render_markdown("```nosuchlang\n<b>x</b>\n```")
    assert '<div class="code-block">' in html and "&lt;b&gt;x&lt;/b&gt;" in html


def test_links_open_safely_in_a_new_tab():
    html = render_markdown("[docs](https://example.com)")
    assert 'target="_blank"' in html and 'rel="noopener noreferrer nofollow"' in html


def test_tables_and_strikethrough():
    html = render_markdown("| a |\n|---|\n| 1 |\n\n~~old~~")
    assert "<table>" in html and "<s>old</s>" in html


def test_user_text_is_never_html():
    html = render_user_text('<script>alert(1)</script>\n<img src=x onerror="x()">\n\nnext')
    assert html == (
        "<p>&lt;script&gt;alert(1)&lt;/script&gt;<br>&lt;img src=x onerror=&quot;x()&quot;&gt;</p>"
        "<p>next</p>"
    )


def feed_all(pieces):
    renderer = StreamingRenderer()
    html, tail = "", ""
    for piece in pieces:
        update = renderer.feed(piece)
        if update.reset:
            html += update.closed_html
            tail = update.tail
        else:
            assert update.closed_html == ""
            tail += update.tail
    assert tail == renderer.tail
    return html, tail, renderer


def random_split(text: str, rng: random.Random) -> list[str]:
    cuts = sorted(rng.sample(range(1, len(text)), min(len(text) - 1, rng.randint(1, 80))))
    return [text[a:b] for a, b in zip([0, *cuts], [*cuts, len(text)], strict=True)]


@pytest.mark.parametrize("seed", range(25))
def test_any_split_streams_to_the_same_html_as_rendering_whole(seed):
    rng = random.Random(seed)
    text = SAMPLE if seed % 2 else compose_reply(f"prompt {seed}", agent=bool(seed % 3)).full_text
    html, tail, renderer = feed_all(random_split(text, rng))
    assert (html, tail) == snapshot_html(text)
    assert squash(html + renderer.finish()) == squash(render_markdown(text))


def test_a_block_closes_when_the_next_one_starts_and_the_tail_is_the_open_block():
    renderer = StreamingRenderer()
    assert renderer.feed("Hello ").reset is False
    assert renderer.feed("world.\n\n").reset is False
    # Whether the next line continues the block is known once that line is complete.
    assert renderer.feed("Next para").reset is False
    update = renderer.feed(" goes on\nand on")
    assert update.reset and update.closed_html == "<p>Hello world.</p>\n"
    assert update.tail == "Next para goes on\nand on"


def test_a_list_stays_together_across_blank_lines():
    html, tail, _ = feed_all(["- a\n", "\n", "- b\n", "\n", "After\n"])
    assert html.count("<ul>") == 1 and tail == "After\n"


def test_a_code_fence_closes_on_its_closing_line_even_with_blank_lines_inside():
    html, tail, _ = feed_all(["```js\nlet a;\n", "\n", "let b;\n", "```\n", "x"])
    assert html.count("code-block") == 1 and html.count('class="kd">let<') == 2 and tail == "x"


def test_an_unclosed_fence_is_rendered_when_the_reply_ends():
    renderer = StreamingRenderer()
    renderer.feed("```python\nprint(1)\n")
    assert "code-block" in renderer.finish()


def test_streaming_renders_each_block_once_not_once_per_token(monkeypatch):
    calls = []
    real = rendering.render_markdown
    monkeypatch.setattr(rendering, "render_markdown", lambda t: calls.append(len(t)) or real(t))
    reply = compose_reply("a long answer", tokens=20_000)
    renderer = StreamingRenderer()
    for token in reply.text:
        renderer.feed(token)
    renderer.finish()
    blocks = reply.full_text.count("\n\n") + 1
    assert len(calls) <= blocks
    assert sum(calls) <= len(reply.full_text) + blocks, "each character rendered once"
