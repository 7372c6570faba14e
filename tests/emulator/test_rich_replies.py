"""The assistant answers a prompt that asks for a table, a checklist or math with one."""

from __future__ import annotations

import re

import pytest

from conversations.rendering import render_markdown
from emulator.assistant import compose_reply

TABLE = re.compile(r"^\|.*\|\n\|(?::?-+:?\|)+$", re.M)


def test_a_prompt_that_asks_for_a_table_gets_an_aligned_gfm_table():
    text = compose_reply("Compare the plans in a table, please").full_text

    assert TABLE.search(text)
    assert "|:-----|:---:|-----:|" in text
    assert "~~long~~" in text
    assert "- [x]" not in text and "$" not in text


def test_a_prompt_that_asks_for_a_checklist_gets_one_done_and_one_open_item():
    for prompt in ("Give me a checklist for the release", "A TASK LIST for Monday?"):
        text = compose_reply(prompt).full_text

        assert len(re.findall(r"^- \[x\] ", text, re.M)) == 1
        assert len(re.findall(r"^- \[ \] ", text, re.M)) == 1
        assert not TABLE.search(text) and "$" not in text


@pytest.mark.parametrize("word", ["math", "Maths", "formula", "equations"])
def test_a_prompt_that_asks_for_math_gets_inline_and_display_math(word):
    text = compose_reply(f"Explain the {word} behind it").full_text

    assert re.search(r"\$[^$\s][^$]*[^$\s]\$", text)  # inline
    assert "\n\n$$\n" in text and text.count("$$") == 2  # display, on lines of its own
    assert "~~slow~~" in text
    assert not TABLE.search(text) and "- [" not in text


def test_all_three_render_as_table_checkboxes_strikethrough_and_mathml():
    html = render_markdown(compose_reply("Show me a table, a checklist and some math").full_text)

    assert '<th class="align-left">Step</th>' in html
    assert '<td class="align-right">10 min</td>' in html
    assert html.count('type="checkbox"') == 2 and html.count('checked="checked"') == 1
    assert html.count("<del>") == 3
    assert html.count("<math>") == 3 and html.count('<math display="block">') == 1
    assert "$" not in re.sub(r"<[^>]+>", "", html)


def test_the_rich_reply_is_deterministic_and_fits_a_token_budget():
    prompt = "Show me a table, a checklist and some math"

    assert compose_reply(prompt) == compose_reply(prompt)
    short = compose_reply(prompt, tokens=30)
    assert len(short.text) == 30
    # A table, a list or a formula is kept whole or left out, never cut into broken Markdown.
    assert short.full_text.count("$$") in (0, 2)
    assert short.full_text.count("$") % 2 == 0


@pytest.mark.parametrize(
    "prompt",
    [
        "How do cursors paginate?",
        "A stable tabletop for mathematical tasks",  # the words only inside longer ones
        "prompt 7",
    ],
)
def test_other_prompts_get_no_rich_blocks(prompt):
    text = compose_reply(prompt).full_text

    assert "|" not in text and "- [" not in text and "$" not in text and "~~" not in text
