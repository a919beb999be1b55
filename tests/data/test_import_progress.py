"""``bot-core data import`` shows a progress bar to a person at a terminal, and nothing else to
anyone else: the real CLI on a pseudo-terminal, then with --json, then piped."""

from __future__ import annotations

import os
import pty
import select
import subprocess
import sys
from pathlib import Path

from bot_core.data.library import load_dataset


def _on_a_terminal(args: list[str], home: Path) -> tuple[int, str]:
    """Run the CLI with stdout and stderr on one pseudo-terminal; its exit code and output."""
    main, child = pty.openpty()
    proc = subprocess.Popen([sys.executable, "-m", "bot_core", *args], stdin=subprocess.DEVNULL,
                            stdout=child, stderr=child, env={**os.environ,
                                                             "BOT_CORE_HOME": str(home)})
    os.close(child)
    out = b""
    try:
        while select.select([main], [], [], 120)[0]:
            try:
                chunk = os.read(main, 65536)
            except OSError:  # the child closed its end
                break
            if not chunk:
                break
            out += chunk
    finally:
        os.close(main)
        code = proc.wait(timeout=60)
    return code, out.decode("utf-8", "replace")


def test_import_draws_its_progress_on_a_terminal_only(run_cli, bot_core_home: Path,
                                                      tmp_path: Path) -> None:
    src = tmp_path / "btc.csv"
    load_dataset("demo-btc-usdt-1m").head(2000).to_csv(src)
    args = ["data", "import", str(src), "--venue", "venue_a", "--instrument", "BTC/USDT",
            "--timeframe", "1m"]
    code, out = _on_a_terminal([*args, "--id", "tty"], bot_core_home)
    assert code == 0, out
    # the bar, redrawn in place under each stage's name, then the result
    assert "\x1b[2K" in out and "reading btc.csv" in out and "━" in out
    assert "imported tty: 2,000 ohlcv rows" in out
    code, out = _on_a_terminal([*args, "--id", "tty-json", "--json"], bot_core_home)
    assert code == 0 and out.lstrip().startswith("{") and "\x1b" not in out, out[:300]
    piped = run_cli(*args, "--id", "piped")
    assert piped.returncode == 0, piped.stderr
    assert piped.stderr == "" and "\x1b" not in piped.stdout and "reading" not in piped.stdout
