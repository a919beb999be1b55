"""Run every benchmark in turn (`tox -e bench`); `--quick` runs smaller sizes.

Figures go to docs/performance.md by hand, with the command that produced them.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
QUICK = {
    "bench_startup.py": ["--repeat", "3"],
    "bench_data.py": ["--rows", "200000", "--repeat", "1"],
    "bench_kernels.py": ["--points", "1000000", "--repeat", "2"],
    "bench_risk.py": ["--quick"],
    "bench_journal.py": ["--quick"],
    "bench_backtest.py": ["--bars", "100000"],
    "bench_sweep.py": ["--bars", "100000"],
    "bench_scheduler.py": ["--duration", "3"],
    "bench_telemetry.py": ["--quick"],
}


def main(argv: list[str]) -> int:
    quick = "--quick" in argv
    failed = []
    for script, quick_args in QUICK.items():
        print(f"\n=== {script} ===", flush=True)
        code = subprocess.call([sys.executable, str(HERE / script), *(quick_args if quick else [])])
        if code:
            failed.append(script)
    if failed:
        print(f"failed: {', '.join(failed)}", file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
