"""The open block's cost per event: short replies against one 5,000-token paragraph or code block.

Each event is one token fed to the streaming renderer; every fifth event the open block is shown
(what the runner does every 100 ms at 50 tokens/s). Prints the median µs per event of 7 runs with
min-max, per kind of text. Pure CPU in this process: no server, no socket.

    python benchmarks/streaming_render.py
"""

from __future__ import annotations

import os
import platform
import re
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "webchat.settings")
os.environ.setdefault("WEBCHAT_DEMO", "1")

import django  # noqa: E402

django.setup()

from conversations.rendering import StreamingRenderer  # noqa: E402
from emulator.assistant import CLOCK_STAMP, compose_for, compose_reply  # noqa: E402

RUNS = 7
SHOW_EVERY = 5


def tokens_of(text: str) -> list[str]:
    return re.findall(r"\S+\s*", text)


def paragraph(tokens: int) -> str:
    return " ".join(f"word{i} **bold{i}** and `code{i}`" if i % 50 == 0 else f"word{i}"
                    for i in range(tokens))  # fmt: skip


def code_block(tokens: int) -> str:
    # Four tokens a line.
    return "```python\n" + "".join(f"value_{i} = compute({i})\n" for i in range(tokens // 4))


def relay_replies() -> list[list[str]]:
    """What `relay.py --markdown` streams: the emulator's replies with each word stamped."""
    stamp = "{t:1764547200.123456}"
    return [
        [
            t.replace(CLOCK_STAMP, stamp)
            for t in compose_for(f"q {i}", agent=False, tokens=150, clock=2).text
        ]
        for i in range(40)
    ]


def texts() -> dict[str, list[list[str]]]:
    """Each long text beside short ones of its kind: the same tokens, cut into 40 blocks."""
    replies = [tokens_of(compose_reply(f"question {i}", tokens=150).full_text) for i in range(40)]
    return {
        "replies of 150 tokens (the emulator's)": replies,
        "relay.py --markdown replies, shown every 2nd": relay_replies(),
        "paragraphs of 125 tokens, 40 of them": [tokens_of(paragraph(125)) for _ in range(40)],
        "one paragraph of 5,000 tokens": [tokens_of(paragraph(5000))],
        "code blocks of 125 tokens, 40 of them": [tokens_of(code_block(125)) for _ in range(40)],
        "one code block of 5,000 tokens": [tokens_of(code_block(5000))],
    }


def per_event(replies: list[list[str]], show_every: int = SHOW_EVERY) -> float:
    events = 0
    started = time.process_time()
    for tokens in replies:
        renderer = StreamingRenderer()
        for index, token in enumerate(tokens):
            renderer.feed(token)
            if index % show_every == show_every - 1:
                renderer.provisional()
        renderer.finish()
        events += len(tokens)
    return (time.process_time() - started) / events * 1e6


def main() -> None:
    print(f"{platform.node()} · {platform.machine()} · {os.cpu_count()} cores · "
          f"{time.strftime('%Y-%m-%d %H:%M %Z')}")  # fmt: skip
    for name, replies in texts().items():
        # At 20 tokens/s (the relay's capacity runs) one token in two carries an update.
        every = 2 if "every 2nd" in name else SHOW_EVERY
        runs = sorted(per_event(replies, every) for _ in range(RUNS))
        print(f"{name:<40} {statistics.median(runs):6.1f} µs/event "
              f"({runs[0]:.1f}-{runs[-1]:.1f}, {RUNS} runs)")  # fmt: skip


if __name__ == "__main__":
    main()
