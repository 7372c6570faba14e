"""Fault and pace knobs (PROTOCOL §5): from a message directive, a request header or the server."""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, fields

# The most specific source wins: `[[emulator status=503]]` in the user's text, then the
# `X-Emulator: status=503; retry_after=2` header, then `manage.py emulator --fault "…"`.
HEADER = "x-emulator"
DEFAULT_TOKENS_PER_SECOND = 30.0

_DIRECTIVE = re.compile(r"\[\[emulator\b([^\]]*)\]\]")
_DIRECTIVE_WITH_SPACE = re.compile(r"[ \t]*\[\[emulator\b[^\]]*\]\][ \t]*")
_SEPARATORS = re.compile(r"[;,\s]+")

# Knobs that change every answer, not only streamed ones: a server-wide fault holding one of them
# is used up by any request; otherwise only by the turns it can affect.
EVERY_REQUEST = frozenset({"status", "retry_after", "first_byte_delay"})

Layer = Mapping[str, float | int]


class KnobError(ValueError):
    """A knob that does not parse; the emulator answers 400 (Orq) or 422 (Mistral) naming it."""

    def __init__(self, knob: str, problem: str) -> None:
        self.knob = knob
        self.problem = problem
        super().__init__(f"emulator knob {knob!r} {problem}")


def _integer(low: int, high: int | None = None) -> Callable[[str], int]:
    def parse(raw: str) -> int:
        value = int(raw)
        if value < low or (high is not None and value > high):
            raise ValueError
        return value

    return parse


def _seconds(raw: str) -> float:
    value = float(raw)
    if not math.isfinite(value) or value < 0:
        raise ValueError
    return value


_PARSERS: dict[str, tuple[Callable[[str], float | int], str]] = {
    "status": (_integer(400, 599), "must be an HTTP error status from 400 to 599"),
    "retry_after": (_seconds, "must be a number of seconds, 0 or more"),
    "first_byte_delay": (_seconds, "must be a number of seconds, 0 or more"),
    "first_event_delay": (_seconds, "must be a number of seconds, 0 or more"),
    "break_after": (_integer(0), "must be a whole number of events, 0 or more"),
    "malformed_at": (_integer(1), "must be an event number, 1 or more"),
    "fail_at": (_integer(1), "must be an event number, 1 or more"),
    "tokens_per_second": (_seconds, "must be a number, 0 (no pacing) or more"),
    "tokens": (_integer(1), "must be a whole number of tokens, 1 or more"),
    "times": (_integer(1), "must be a whole number of requests, 1 or more"),
    "clock": (_integer(0, 2), "must be 0, 1 or 2"),
}
NAMES = tuple(_PARSERS)


def parse(spec: str) -> dict[str, float | int]:
    """`status=503 retry_after=2` (separated by spaces, `;` or `,`) into checked values."""
    layer: dict[str, float | int] = {}
    for item in _SEPARATORS.split(spec.strip()):
        if not item:
            continue
        name, sep, raw = item.partition("=")
        name = name.strip().lower().replace("-", "_")
        if name not in _PARSERS:
            raise KnobError(name, f"is unknown (known: {', '.join(NAMES)})")
        parser, problem = _PARSERS[name]
        if not sep:
            raise KnobError(name, "needs a value, as in name=value")
        try:
            layer[name] = parser(raw.strip())
        except ValueError:
            raise KnobError(name, f"{problem}; got {raw.strip()!r}") from None
    return layer


def from_text(text: str) -> dict[str, float | int]:
    """The knobs of every `[[emulator …]]` directive in a message; later ones win."""
    layer: dict[str, float | int] = {}
    for match in _DIRECTIVE.finditer(text):
        layer.update(parse(match.group(1)))
    return layer


def strip_directives(text: str) -> str:
    """The text as it is echoed and stored: directives removed."""
    if "[[emulator" not in text:
        return text
    return _DIRECTIVE_WITH_SPACE.sub(" ", text).strip()


def format_seconds(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else str(value)


@dataclass(frozen=True)
class Knobs:
    """The knobs in force for one request."""

    status: int | None = None
    retry_after: float | None = None
    first_byte_delay: float = 0.0
    first_event_delay: float = 0.0
    break_after: int | None = None
    malformed_at: int | None = None
    fail_at: int | None = None
    tokens_per_second: float = DEFAULT_TOKENS_PER_SECOND
    tokens: int | None = None
    # Benchmarks: each text token is the wall-clock time it was sent (1), or the reply's own
    # Markdown with that time stamped on each word as `{t:…}` (2), so a client far down a relay
    # can tell how long the token took to reach it.
    clock: int = 0

    @classmethod
    def from_layers(cls, *layers: Layer) -> Knobs:
        """Later layers win; `times` only steers the server-wide fault, so it is dropped here."""
        merged: dict[str, float | int] = {}
        for layer in layers:
            merged.update(layer)
        known = {f.name for f in fields(cls)}
        return cls(**{name: value for name, value in merged.items() if name in known})

    def pace_seconds(self, tokens: int) -> float:
        """How long `tokens` tokens take at this pace (0 when unpaced)."""
        return tokens / self.tokens_per_second if self.tokens_per_second > 0 else 0.0


class ServerFault:
    """The `--fault` of the command line, optionally used up after `times` requests."""

    def __init__(self, spec: str = "") -> None:
        layer = parse(spec)
        self.remaining = layer.pop("times", None)
        self.layer: dict[str, float | int] = layer
        self.every_request = bool(EVERY_REQUEST & layer.keys())

    def take(self, *, turn: bool) -> Layer:
        """The fault for this request, counting it against `times` when the fault applies."""
        if not self.layer or not (turn or self.every_request):
            return {}
        if self.remaining is None:
            return self.layer
        if self.remaining <= 0:
            return {}
        self.remaining -= 1
        return self.layer

    def describe(self) -> str:
        if not self.layer:
            return "none"
        spec = " ".join(f"{name}={value}" for name, value in self.layer.items())
        return spec if self.remaining is None else f"{spec} (first {self.remaining} requests)"
