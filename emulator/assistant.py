"""The deterministic assistant: one prompt, always the same Markdown reply, token by token."""

from __future__ import annotations

import dataclasses
import hashlib
import json
import random
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from emulator.files import ReceivedFile

TOOL_NAME = "web_search"

_WORD = re.compile(r"[A-Za-z][A-Za-z0-9_'-]*")
_TOKEN = re.compile(r"\S+\s*")
_STOPWORDS = frozenset(
    """a about above after again all also am an and any are as at be because been before being
    below between both but by can could did do does doing down during each few for from further
    had has have having he her here hers him his how i if in into is it its itself just let me
    more most my no nor not now of off on once only or other our ours out over own please same
    she should so some such tell than that the their theirs them then there these they this
    those through to too under until up very was we were what when where which while who whom
    why will with would you your yours""".split()
)

_GREETINGS = (
    "Here is a short answer about",
    "Good question about",
    "Let me walk you through",
    "Happy to help with",
    "Here is what I know about",
)
_OPENERS = (
    "The short version: start small, check each step, and keep the moving parts few.",
    "It comes down to a few ideas that fit together once you see them side by side.",
    "Most of the work is in the details, so I will keep the overview brief.",
    "There are a couple of ways to approach it, and the simplest one usually wins.",
)
_ECHOES = (
    'You wrote "{echo}", so I will focus on that first.',
    'Since you asked "{echo}", the examples below use the same words.',
    'Taking "{echo}" as the starting point, here is how I would think about it.',
)
_POINTS = (
    "what it is and why it matters",
    "the usual pitfalls and how to avoid them",
    "a quick way to try it yourself",
    "how it fits with the rest of your setup",
    "where to read more when you need it",
)
_GENERIC_POINTS = (
    "Keep it simple and measure before optimising.",
    "Write a small test that shows the behaviour you expect.",
    "Read the error messages closely; they usually say what is wrong.",
)
_BODIES = (
    ("words = text.split()", 'return " ".join(word.capitalize() for word in words)'),
    ("cleaned = text.strip().lower()", 'return cleaned.replace(" ", "_")'),
    ("parts = [part for part in text.split() if part]", "return parts[0] if parts else text"),
)
_CLOSINGS = (
    "Let me know if you want me to go deeper on any of these points.",
    "Tell me more about your setup and I can tailor the example.",
    "If something is unclear, ask and I will expand on it.",
    "That should be enough to get started.",
)
# What a prompt may ask for beyond prose, lists and code: each adds its block (GitHub's
# Markdown and math) after the code. A prompt that asks for none gets the reply it always got.
_RICH_ASKS = (
    ("table", re.compile(r"\btables?\b", re.IGNORECASE)),
    ("checklist", re.compile(r"\b(?:checklists?|task ?lists?)\b", re.IGNORECASE)),
    ("math", re.compile(r"\b(?:maths?|formulas?|formulae|equations?)\b", re.IGNORECASE)),
)
_FILLER = (
    "the idea stays the same when the details change and a careful step at a time keeps the "
    "result easy to follow while each part does one small job well so that later changes stay "
    "cheap and the whole remains clear to anyone who reads it again next week"
).split()


@dataclass(frozen=True)
class ToolCall:
    """The one tool an agent calls before answering."""

    name: str
    arguments: dict[str, Any] = field(hash=False)
    result: dict[str, Any] = field(hash=False)


@dataclass(frozen=True)
class Usage:
    prompt_tokens: int
    completion_tokens: int
    total_tokens: int


@dataclass(frozen=True)
class Reply:
    """A reply as the emulator streams it: every delta is one element of `reasoning` or `text`."""

    reasoning: tuple[str, ...]
    text: tuple[str, ...]
    tool: ToolCall | None
    prompt_tokens: int

    @property
    def full_text(self) -> str:
        return "".join(self.text)

    @property
    def full_reasoning(self) -> str:
        return "".join(self.reasoning)

    @property
    def usage(self) -> Usage:
        completion = len(self.reasoning) + len(self.text)
        return Usage(self.prompt_tokens, completion, self.prompt_tokens + completion)


@dataclass(frozen=True)
class _Block:
    text: str
    prose: bool  # prose may be cut mid-way; lists and code blocks are kept whole or left out


def compose_reply(
    prompt: str,
    *,
    agent: bool = False,
    tokens: int | None = None,
    instructions: str | None = None,
    variables: dict[str, Any] | None = None,
    remembered: int = 0,
    files: Sequence[ReceivedFile | tuple] = (),
) -> Reply:
    """The reply to `prompt`; `agent` adds a tool call, `tokens` fixes the number of text tokens.

    `files` (what came with the turn), `instructions` (Mistral), `variables` and `remembered`
    (Orq agents) open the reply with a sentence each that echoes them (`preamble`); without
    them the reply is what it always was. Tests use it to know the exact text a stream must
    add up to.
    """
    if tokens is not None and tokens < 1:
        raise ValueError("tokens must be at least 1")
    opening = preamble(
        instructions=instructions, variables=variables, remembered=remembered, files=files
    )
    if not opening:
        return _compose(prompt, agent=agent, tokens=tokens)
    said = tuple(_TOKEN.findall(opening))
    # `tokens` is the whole reply's length, the opening included (the knob promises that).
    rest = None if tokens is None else max(1, tokens - len(said))
    reply = _compose(prompt, agent=agent, tokens=rest)
    return dataclasses.replace(reply, text=(said + reply.text)[:tokens])


def _compose(prompt: str, *, agent: bool, tokens: int | None) -> Reply:
    rng = random.Random(_seed(prompt))
    keywords = _keywords(prompt)
    topic = " ".join(keywords) if keywords else "your question"
    tool = _tool_call(rng, keywords, prompt) if agent else None
    blocks = _blocks(rng, prompt, keywords, topic, tool)
    if tokens is not None:
        blocks = _fit(blocks, tokens, random.Random(_seed(prompt) ^ tokens))
    text = "\n\n".join(block.text for block in blocks)
    # Short on purpose (five tokens): the first text delta comes early in every stream.
    subject = keywords[0] if keywords else "topic"
    if tool is None:
        reasoning = f"Plan: {subject} overview, then example."
    else:
        reasoning = f"Plan: search {subject}, then answer."
    return Reply(
        reasoning=tuple(_TOKEN.findall(reasoning)),
        text=tuple(_TOKEN.findall(text)),
        tool=tool,
        prompt_tokens=prompt_tokens(prompt),
    )


CLOCK_TOKEN = "@@clock@@ "
# Where the send time goes in a stamped word (clock=2): the stream writes `{t:<seconds>}` there.
CLOCK_STAMP = "@@stamp@@"
_UNSTAMPED = re.compile(r"^(?:\d+[.)]|[^\w]*)$")


def compose_for(
    prompt: str,
    *,
    agent: bool,
    tokens: int | None,
    clock: int,
    instructions: str | None = None,
    variables: dict[str, Any] | None = None,
    remembered: int = 0,
    max_tokens: int | None = None,
    files: Sequence[ReceivedFile | tuple] = (),
) -> Reply:
    """The reply a request gets: `compose_reply`; with `clock` 1 its tokens as time slots; with
    2 its Markdown with a time slot after each word (`stamp_words`); then `cut_to(max_tokens)`."""
    reply = compose_reply(
        prompt,
        agent=agent,
        tokens=tokens,
        instructions=instructions,
        variables=variables,
        remembered=remembered,
        files=files,
    )
    if clock == 1:
        reply = dataclasses.replace(reply, text=(CLOCK_TOKEN,) * len(reply.text))
    elif clock == 2:
        reply = dataclasses.replace(reply, text=stamp_words(reply.text))
    return cut_to(reply, max_tokens)


def cut_to(reply: Reply, max_tokens: int | None) -> Reply:
    """At most `max_tokens` completion tokens, as a model stops when it reaches the limit:
    text tokens go from the end first, then reasoning, so `usage.completion_tokens` is exact."""
    if max_tokens is None or max_tokens >= reply.usage.completion_tokens:
        return reply
    reasoning = reply.reasoning[:max_tokens]
    text = reply.text[: max_tokens - len(reasoning)]
    return dataclasses.replace(reply, reasoning=reasoning, text=text)


def preamble(
    *,
    instructions: str | None = None,
    variables: dict[str, Any] | None = None,
    remembered: int = 0,
    files: Sequence[ReceivedFile | tuple] = (),
) -> str:
    """The opening paragraph that shows what a turn was given; empty when it was given nothing."""
    sentences = []
    if files:
        sentences.append(files_sentence(files))
    if instructions and instructions.strip():
        sentences.append(instructions_sentence(instructions))
    if variables:
        sentences.append(variables_sentence(variables))
    if remembered > 0:
        sentences.append(memory_sentence(remembered))
    return " ".join(sentences) + "\n\n" if sentences else ""


def files_sentence(files: Sequence[ReceivedFile | tuple]) -> str:
    """`I received 2 files: a.png (image/png, 1234 bytes), notes.pdf (could not fetch it:
    timed out).` Items are `ReceivedFile`s or `(name, mime, size)` tuples."""
    described = [_file_description(ReceivedFile(*item)) for item in files]
    count = len(described)
    return f"I received {count} file{'' if count == 1 else 's'}: {', '.join(described)}."


def _file_description(file: ReceivedFile) -> str:
    name = _shorten(file.name, 80) or "file"
    if file.problem is not None:
        return f"{name} (could not fetch it: {_shorten(file.problem, 80)})"
    size = f"{file.size} byte{'' if file.size == 1 else 's'}"
    return f"{name} ({file.mime}, {size})" if file.mime else f"{name} ({size})"


def instructions_sentence(instructions: str) -> str:
    return f'Following your instructions ("{_shorten(instructions, 80)}"), here goes.'


def variables_sentence(variables: dict[str, Any]) -> str:
    listed = ", ".join(
        f"{name}={_shorten(_plain(variables[name]), 40)}" for name in sorted(variables)
    )
    return f"With your variables ({listed}), here goes."


def memory_sentence(earlier: int) -> str:
    return f"I remember you: {earlier} earlier message{'' if earlier == 1 else 's'}."


def _plain(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)


def _shorten(text: str, limit: int) -> str:
    # One line, so the echo stays one paragraph whatever the caller sent.
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


def stamp_words(tokens: tuple[str, ...]) -> tuple[str, ...]:
    """A time slot after each word, where it leaves the Markdown what it was: not on list
    markers or other punctuation-only tokens, nor on a code fence's line."""
    stamped = []
    line = ""  # the line the token is on, up to it
    for token in tokens:
        word = token.rstrip()
        if _UNSTAMPED.match(word) or (line + word).lstrip().startswith(("```", "~~~")):
            stamped.append(token)
        else:
            stamped.append(word + CLOCK_STAMP + token[len(word) :])
        line = (line + token).rsplit("\n", 1)[-1]
    return tuple(stamped)


def prompt_tokens(prompt: str) -> int:
    return max(1, len(prompt.split()))


def compose_title(context: str) -> str:
    """The short title `generate-name` gives a conversation: the first words of `context`."""
    words = context.split()[:6]
    if not words:
        return "New conversation"
    words[-1] = words[-1].rstrip("?!.,;:")
    title = " ".join(word for word in words if word)
    return (title[:1].upper() + title[1:])[:100] or "New conversation"


def _seed(prompt: str) -> int:
    # Python's hash() is salted per process; the reply must be the same in every process.
    return int.from_bytes(hashlib.sha256(prompt.encode("utf-8")).digest()[:8], "big")


def _keywords(prompt: str) -> list[str]:
    seen: dict[str, str] = {}
    for word in _WORD.findall(prompt):
        # "What's" and "Paris's" count as "what" and "Paris".
        word = word.split("'")[0].strip("-")
        if len(word) >= 3 and word.lower() not in _STOPWORDS:
            seen.setdefault(word.lower(), word)
    return list(seen.values())[:3]


def _tool_call(rng: random.Random, keywords: list[str], prompt: str) -> ToolCall:
    query = " ".join(keywords) or " ".join(prompt.split()[:6]) or "help"
    slug = re.sub(r"[^a-z0-9-]", "-", "-".join(keywords).lower()) or "overview"
    hits = rng.randint(2, 9)
    return ToolCall(
        name=TOOL_NAME,
        arguments={"query": query},
        result={
            "hits": hits,
            "top": {
                "title": f"{query.capitalize()} explained",
                "url": f"https://docs.example.org/{slug}",
            },
        },
    )


def _blocks(
    rng: random.Random, prompt: str, keywords: list[str], topic: str, tool: ToolCall | None
) -> list[_Block]:
    echo = " ".join(prompt.replace("`", "").split()[:5]) or "nothing in particular"
    first = f"{rng.choice(_GREETINGS)} **{topic}**. {rng.choice(_OPENERS)}"
    second = rng.choice(_ECHOES).format(echo=echo)
    if tool is not None:
        second = (
            f'I searched with `{tool.name}` for "{tool.arguments["query"]}" and found '
            f"{tool.result['hits']} relevant sources. {second}"
        )
    points = rng.sample(_POINTS, k=3)
    bullets = [
        f"- **{word.capitalize()}**: {point}" for word, point in zip(keywords, points, strict=False)
    ]
    bullets += [f"- {item}" for item in _GENERIC_POINTS[: 3 - len(bullets)]]
    ident = re.sub(r"[^a-z0-9_]", "_", keywords[0].lower()) if keywords else "topic"
    setup, result = rng.choice(_BODIES)
    code = "\n".join(
        (
            "```python",
            f"def handle_{ident}(text: str) -> str:",
            f'    """Answer a question about {topic}."""',
            f"    {setup}",
            f"    {result}",
            "```",
        )
    )
    return [
        _Block(first, prose=True),
        _Block(second, prose=True),
        _Block("\n".join(bullets), prose=False),
        _Block(code, prose=False),
        *_rich_blocks(prompt, topic),
        _Block(rng.choice(_CLOSINGS), prose=True),
    ]


def _rich_blocks(prompt: str, topic: str) -> list[_Block]:
    """A table, a task list, math: whichever the prompt asks for, each with a struck word."""
    asked = {name for name, pattern in _RICH_ASKS if pattern.search(prompt)}
    blocks = []
    if "table" in asked:
        rows = (
            "| Step | Who | Time |",
            "|:-----|:---:|-----:|",
            f"| Read about **{topic}** | you | 10 min |",
            "| Try the ~~long~~ short example | you | 5 min |",
            "| Review the result | me | 2 min |",
        )
        blocks.append(_Block("\n".join(rows), prose=False))
    if "checklist" in asked:
        items = (f"- [x] Read the ~~old~~ current notes on {topic}", "- [ ] Try the example")
        blocks.append(_Block("\n".join(items), prose=False))
    if "math" in asked:
        blocks.append(
            _Block(
                "For $n$ items the ~~slow~~ fast way takes $O(n \\log n)$ steps, and the "
                "first $n$ numbers add up to:",
                prose=False,
            )
        )
        blocks.append(_Block("$$\n\\sum_{i=1}^{n} i = \\frac{n(n+1)}{2}\n$$", prose=False))
    return blocks


def _count(text: str) -> int:
    return len(_TOKEN.findall(text))


def _fit(blocks: list[_Block], tokens: int, rng: random.Random) -> list[_Block]:
    """Exactly `tokens` text tokens: whole blocks while they fit, prose cut short, filler to pad."""
    natural = sum(_count(block.text) for block in blocks)
    if tokens >= natural:
        filler = _filler(rng, tokens - natural)
        return blocks[:-1] + filler + blocks[-1:]
    kept: list[_Block] = []
    left = tokens
    for block in blocks:
        size = _count(block.text)
        if size <= left:
            kept.append(block)
            left -= size
        elif block.prose and left:
            kept.append(_Block(_sentence_end(" ".join(block.text.split()[:left])), prose=True))
            left = 0
        if not left:
            break
    return kept + _filler(rng, left)


def _filler(rng: random.Random, words: int) -> list[_Block]:
    if words <= 0:
        return []
    start = rng.randrange(len(_FILLER))
    picked = [_FILLER[(start + i) % len(_FILLER)] for i in range(words)]
    paragraphs = [picked[i : i + 40] for i in range(0, words, 40)]
    return [_Block(_sentence_end(" ".join(chunk).capitalize()), prose=True) for chunk in paragraphs]


def _sentence_end(text: str) -> str:
    if text.count("**") % 2:
        text += "**"
    return text if text.endswith((".", "!", "?")) else text.rstrip(",;:") + "."
