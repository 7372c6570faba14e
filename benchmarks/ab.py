"""A/B of the relay benchmark: two commits, run back to back in one sitting, interleaved.

    python benchmarks/ab.py BEFORE AFTER              # full relay.py, 3 runs each (~25 min)
    python benchmarks/ab.py BEFORE AFTER --quick      # relay.py --quick, 3 runs each
    python benchmarks/ab.py BEFORE AFTER --pages      # pages.py instead, 3 runs each

Each commit is a `git worktree` in a temporary directory, run with this checkout's Python; the
runs alternate A, B, A, B... so a slow spell of the machine falls on both. Prints, per layer and
N (or per page), the median of the runs with their min-max, and writes every run to
benchmarks/results/ab-relay.json (ab-relay-quick-markdown.json..., ab-pages.json).
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
FIELDS = ("added_p99_ms", "added_ttft_ms", "server_us_per_event", "cpu_ratio")


def worktree(rev: str, where: Path) -> Path:
    path = where / rev
    subprocess.run(["git", "worktree", "add", "--detach", str(path), rev], cwd=ROOT, check=True,
                   capture_output=True)  # fmt: skip
    return path


def run_once(tree: Path, bench: str, options: list[str]) -> dict:
    command = [sys.executable, str(tree / "benchmarks" / f"{bench}.py")]
    subprocess.run(command + options, cwd=tree, check=True)
    return json.loads((tree / "benchmarks" / "results" / f"{bench}.json").read_text())


def rows(result: dict) -> dict[tuple[str, int], dict]:
    """(layer, N) -> the run's fields; the light-load run is N=10."""
    found = {}
    for layer in ("memory", "redis"):
        if layer not in result:
            continue
        for run in [result[layer]["light"], *result[layer]["capacity"]]:
            found[(layer, run["streams"])] = run
    return found


def spread(values: list[float]) -> str:
    return f"{statistics.median(values):g} ({min(values):g}-{max(values):g})"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("before")
    parser.add_argument("after")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--pages", action="store_true", help="the pages benchmark instead")
    parser.add_argument("--markdown", action="store_true", help="relay.py --markdown")
    args = parser.parse_args()
    bench = "pages" if args.pages else "relay"
    options = ["--quick"] * args.quick + ["--markdown"] * args.markdown
    started = time.strftime("%Y-%m-%d %H:%M %Z")
    results: dict[str, list[dict]] = {"A": [], "B": []}
    with tempfile.TemporaryDirectory() as where:
        trees = {"A": worktree(args.before, Path(where)), "B": worktree(args.after, Path(where))}
        try:
            for i in range(args.runs):
                for side in ("A", "B"):
                    print(f"--- run {i + 1} of {args.runs}, {side}", flush=True)
                    results[side].append(run_once(trees[side], bench, options))
        finally:
            for tree in trees.values():
                subprocess.run(["git", "worktree", "remove", "--force", str(tree)], cwd=ROOT)
    kind = bench + "-quick" * args.quick + "-markdown" * args.markdown
    out = ROOT / "benchmarks" / "results" / f"ab-{kind}.json"
    out.parent.mkdir(exist_ok=True)
    document = {"before": args.before, "after": args.after, "started": started, "runs": results}
    out.write_text(json.dumps(document, indent=2))
    print(f"A = {args.before}, B = {args.after}; {args.runs} runs each from {started}; "
          "median (min-max)")  # fmt: skip
    if args.pages:
        print_pages(results)
        return
    print("layer    N  side  " + "  ".join(f"{f:<22}" for f in FIELDS))
    keys = sorted({key for r in results["A"] + results["B"] for key in rows(r)})
    for layer, n in keys:
        for side in ("A", "B"):
            runs = [rows(r)[(layer, n)] for r in results[side] if (layer, n) in rows(r)]
            cells = [spread([run[f] for run in runs]) for f in FIELDS]
            print(f"{layer:<7} {n:>3}  {side}     " + "  ".join(f"{c:<22}" for c in cells)
                  + f"  runs={len(runs)}")  # fmt: skip


def print_pages(results: dict[str, list[dict]]) -> None:
    print(f"{'page':<32} side  ms                      queries")
    for page in results["A"][0]["pages"]:
        for side in ("A", "B"):
            runs = [r["pages"][page] for r in results[side]]
            ms = spread([round(run["ms"], 1) for run in runs])
            queries = sorted({run["queries"] for run in runs})
            print(f"{page:<32} {side}     {ms:<22}  {queries}")


if __name__ == "__main__":
    main()
