"""The emulator's benchmark clock: stamped Markdown is the same Markdown."""


def test_stamped_markdown_stays_the_same_markdown():
    from emulator.assistant import CLOCK_STAMP, compose_for, compose_reply

    prompt = "how do lists and code render"
    plain = "".join(compose_reply(prompt, tokens=120).text)
    stamped = compose_for(prompt, agent=False, tokens=120, clock=2).text
    assert "".join(stamped).replace(CLOCK_STAMP, "") == plain
    assert sum(CLOCK_STAMP in t for t in stamped) > 80, "most words carry their send time"
    # The list markers and the fence lines are left as they are.
    assert "\n- **" in "".join(stamped) and "```python\n" in "".join(stamped)
