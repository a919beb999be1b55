"""Start-up cost of commands that must stay fast (issue: `plugins list` well under a second).

    python benchmarks/bench_startup.py [--repeat 10]

Each command runs in a fresh process; the baseline, measured in the same run, is a bare
interpreter start (`python -c pass`). Prints the median wall time and the ratio to the baseline.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import time

COMMANDS = {
    "baseline: python -c pass": ["-c", "pass"],
    "bot-core --version": ["-m", "bot_core", "--version"],
    "bot-core plugins list --json": ["-m", "bot_core", "plugins", "list", "--json"],
    "bot-core presets list --json": ["-m", "bot_core", "presets", "list", "--json"],
    "bot-core data list --json": ["-m", "bot_core", "data", "list", "--json"],
}


def _median_seconds(args: list[str], repeat: int) -> float:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        subprocess.run([sys.executable, *args], check=True, capture_output=True)
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repeat", type=int, default=10)
    args = parser.parse_args()
    baseline = None
    print(f"{'command':34} {'median s':>9} {'x baseline':>11}")
    for label, cmd in COMMANDS.items():
        seconds = _median_seconds(cmd, args.repeat)
        baseline = baseline or seconds
        print(f"{label:34} {seconds:9.3f} {seconds / baseline:11.1f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
