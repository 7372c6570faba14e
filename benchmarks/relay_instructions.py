"""Instructions per relayed event, counted by callgrind: the relay's cost in a unit that does not
drift with the machine (CPU seconds on a shared VM differ by 30% between identical runs).

The server runs under valgrind's callgrind with instrumentation off, so it starts at a usable
speed. For each turn, once its websocket is open, counting is switched on; one stream asks for
a reply of TOKENS tokens of the emulator's Markdown (`relay.py --markdown`) at RATE tokens/s,
slow enough that the server, fifty times slower under callgrind, keeps up and every token goes
out in a frame of its own; when the reply is done the count is dumped and switched off. What is
counted: the turn's start, every event relayed and the final frames, in the server process
only (not the emulator, not the client). Not counted: signing in, the socket's handshake and
snapshot. Python's hash seed is fixed, so two runs of one commit agree to within a fraction of a
percent (the script prints each turn).

    python benchmarks/relay_instructions.py            # 3 turns, about 4 minutes
    python benchmarks/relay_instructions.py --turns 5

Compare two commits by running this script in a worktree of each (copy it, with relay.py, into
an older one), one after the other: the counts do not depend on what else the machine does.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "benchmarks"))

import relay  # noqa: E402

RATE, TOKENS = 20, 150
EVENTS = TOKENS + 7  # started, 5 reasoning deltas, the tokens, done (as relay.py counts)


def callgrind(*args: str, pid: int) -> None:
    subprocess.run(["callgrind_control", *args, str(pid)], check=True, capture_output=True)


def dumped(dumps: Path) -> set[Path]:
    return set(dumps.iterdir())


def total(dump: Path) -> int:
    # "totals": this dump's own count ("summary" runs on from the start, and wraps).
    for line in dump.read_text().splitlines():
        if line.startswith("totals:"):
            return int(line.split()[1])
    raise ValueError(f"no totals in {dump}")


async def one_turn(stack: relay.Stack, dumps: Path) -> int:
    before = dumped(dumps)
    (conversation,) = stack.new_conversations(1)
    ready = asyncio.Barrier(2)
    # The stream sends its message 3 s after it is connected: counting is on by then.
    stream = asyncio.create_task(relay.relay_stream(stack, conversation, RATE, TOKENS, ready, 3.0))
    await ready.wait()
    await asyncio.to_thread(callgrind, "--instr=on", pid=stack.server.pid)
    latencies, _, stall, frames = await stream
    await asyncio.to_thread(callgrind, "--dump", pid=stack.server.pid)
    await asyncio.to_thread(callgrind, "--instr=off", pid=stack.server.pid)
    if stall >= relay.SILENCE or not latencies:
        raise RuntimeError(f"the turn did not finish: {frames} frames, stall {stall:.1f} s")
    (dump,) = dumped(dumps) - before
    return total(dump)


def current_revision() -> str:
    git = ["git", "rev-parse", "--short", "HEAD"]
    return subprocess.run(git, cwd=ROOT, capture_output=True, text=True).stdout.strip()


def write(result: dict) -> None:
    relay.RESULTS.mkdir(exist_ok=True)
    (relay.RESULTS / "relay_instructions.json").write_text(json.dumps(result, indent=2) + "\n")


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--turns", type=int, default=3)
    args = parser.parse_args()
    relay.MARKDOWN = True
    dumps = Path(tempfile.mkdtemp(prefix="webchat-callgrind-"))
    plain = relay.WebchatProcess

    def under_callgrind(env, log, *, prefix=()):
        valgrind = ("valgrind", "--tool=callgrind", "--instr-atstart=no",
                    f"--callgrind-out-file={dumps}/callgrind.out")  # fmt: skip
        return plain({**env, "PYTHONHASHSEED": "0"}, log, prefix=(*prefix, *valgrind), timeout=600)

    relay.WebchatProcess = under_callgrind
    revision = current_revision()
    print(f"{platform.node()} · {platform.machine()} · {revision} · "
          f"{time.strftime('%Y-%m-%d %H:%M %Z')}", flush=True)  # fmt: skip
    stack = relay.Stack("memory")
    try:
        await one_turn(stack, dumps)  # warm-up: first imports, templates, caches
        counts = []
        for turn in range(args.turns):
            counts.append(await one_turn(stack, dumps))
            print(f"turn {turn + 1}: {counts[-1]:,} instructions, "
                  f"{counts[-1] / EVENTS:,.0f} per event", flush=True)  # fmt: skip
    finally:
        stack.stop()
    per_event = [c / EVENTS for c in counts]
    median = statistics.median(per_event)
    spread = (max(per_event) - min(per_event)) / median * 100
    print(
        f"median {median:,.0f} instructions per event ({spread:.2f}% spread, {len(counts)} turns)"
    )
    write({
        "machine": platform.node(), "date": time.strftime("%Y-%m-%d"), "revision": revision,
        "rate": RATE, "tokens": TOKENS, "events": EVENTS, "turns": counts,
        "median_per_event": median,
    })  # fmt: skip


if __name__ == "__main__":
    asyncio.run(main())
