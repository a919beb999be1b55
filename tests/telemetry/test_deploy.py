"""The ops assets in deploy/, checked for real: promtool checks the rules and the scrape config
and runs the rules' unit tests, amtool checks the Alertmanager config, and a real Prometheus on
loopback scrapes a running demo bot while every alert expression and every dashboard panel query
goes through its HTTP query API.

The binaries come from Debian's ``prometheus`` and ``prometheus-alertmanager`` packages, which
``python3 dev.py test`` installs where apt-get is available; elsewhere these tests are skipped,
saying so.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.parse
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy"
RULES = DEPLOY / "prometheus" / "rules" / "bot-core.rules.yml"
RULE_TESTS = DEPLOY / "prometheus" / "tests" / "bot-core.rules.test.yml"
DASHBOARD = DEPLOY / "grafana" / "bot-core.json"
ALERTS = ("BotCoreDailyLossLimitHit", "BotCoreForcedLiquidation", "BotCoreTradingHalted",
          "BotCoreStrategyQuarantined", "BotCoreCycleLatencyOverBudget", "BotCoreSkippedBars",
          "BotCoreResourceBudgetBreached", "BotCoreJournalLag", "BotCoreScrapeTargetDown")
_INSTALL = ("Debian's prometheus and prometheus-alertmanager packages; `python3 dev.py test` "
            "installs them where apt-get is available")


def _tool(name: str) -> str:
    path = shutil.which(name)
    if path is None:
        pytest.skip(f"{name} is not installed ({_INSTALL})")
    return path


def _run(*cmd: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(list(cmd), capture_output=True, text=True, timeout=120, check=False)


def _alerts() -> list[dict[str, str]]:
    """Each rule of the rules file: alert, expr, and its annotations (our own file's layout)."""
    text = RULES.read_text()
    blocks = re.split(r"\n      - alert: ", text)[1:]
    out = []
    for block in blocks:
        name = block.split("\n", 1)[0].strip()
        expr = re.search(r"expr: (\|\n(?:          .*\n)+|.*\n)", block)
        assert expr is not None, name
        raw = expr.group(1)
        body = " ".join(line.strip() for line in raw.splitlines()[1:]) if raw.startswith("|") \
            else raw.strip()
        fields = dict(re.findall(r"\n          (summary|description|runbook_url): (.*)", block))
        out.append({"alert": name, "expr": body, **fields})
    return out


def _panel_queries() -> list[tuple[str, str]]:
    dashboard = json.loads(DASHBOARD.read_text())
    return [(panel["title"], target["expr"]) for panel in dashboard["panels"]
            for target in panel["targets"]]


# -- static checks ----------------------------------------------------------------------------


def test_every_alert_has_a_summary_a_runbook_section_and_a_unit_test() -> None:
    alerts = _alerts()
    assert [a["alert"] for a in alerts] == list(ALERTS)
    runbook = (ROOT / "docs" / "runbooks" / "alerts.md").read_text()
    headings = {h.strip().lower() for h in re.findall(r"^## (.*)$", runbook, re.M)}
    tested = set(re.findall(r"alertname: (\w+)", RULE_TESTS.read_text()))
    for alert in alerts:
        assert alert.get("summary"), alert["alert"]
        assert alert.get("description"), alert["alert"]
        path, _, anchor = alert["runbook_url"].strip('"').partition("#")
        assert (ROOT / path).is_file() and anchor in headings, alert["alert"]
        assert alert["alert"] in tested, f"{alert['alert']} has no promtool unit test"


def test_the_dashboard_and_the_compose_file_point_at_files_that_exist() -> None:
    dashboard = json.loads(DASHBOARD.read_text())
    uids = {t["datasource"]["uid"] for p in dashboard["panels"] for t in p["targets"]}
    provisioning = (DEPLOY / "grafana" / "provisioning" / "datasources" /
                    "prometheus.yml").read_text()
    assert uids == {"bot-core-prometheus"} and "uid: bot-core-prometheus" in provisioning
    titles = " ".join(p["title"] for p in dashboard["panels"]).lower()
    for topic in ("pnl", "equity", "drawdown", "trading state", "verdicts", "latency",
                  "resources"):
        assert topic in titles
    compose = (DEPLOY / "docker-compose.yml").read_text()
    mounted = re.findall(r"- \./([\w./-]+):", compose)
    assert mounted and all((DEPLOY / m).exists() for m in mounted)
    assert all(p.startswith("127.0.0.1:") for p in re.findall(r'ports: \["([^"]+)"\]', compose))


def test_promtool_checks_the_rules_and_the_scrape_config() -> None:
    promtool = _tool("promtool")
    rules = _run(promtool, "check", "rules", str(RULES))
    assert rules.returncode == 0, rules.stdout + rules.stderr
    assert f"SUCCESS: {len(ALERTS)} rules found" in rules.stdout
    config = _run(promtool, "check", "config", str(DEPLOY / "prometheus" / "prometheus.yml"))
    assert config.returncode == 0, config.stdout + config.stderr


def test_promtool_unit_tests_of_every_alert_pass() -> None:
    done = _run(_tool("promtool"), "test", "rules", str(RULE_TESTS))
    assert done.returncode == 0, done.stdout + done.stderr
    assert "SUCCESS" in done.stdout


def test_amtool_checks_the_alertmanager_config() -> None:
    done = _run(_tool("amtool"), "check-config", str(DEPLOY / "alertmanager" / "alertmanager.yml"))
    assert done.returncode == 0, done.stdout + done.stderr
    assert "SUCCESS" in done.stdout


def test_a_broken_rule_is_caught_by_promtool(tmp_path: Path) -> None:
    """The checks above can fail: promtool refuses a rule whose expression does not parse."""
    broken = tmp_path / "broken.yml"
    broken.write_text(RULES.read_text().replace("bot_core_daily_loss_limit_hit == 1",
                                                "bot_core_daily_loss_limit_hit == == 1"))
    done = _run(_tool("promtool"), "check", "rules", str(broken))
    assert done.returncode != 0


# -- a real Prometheus scraping a running demo bot ----------------------------------------------


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _query(base: str, expr: str) -> dict[str, Any]:
    url = f"{base}/api/v1/query?" + urllib.parse.urlencode({"query": expr})
    try:
        with urllib.request.urlopen(url, timeout=10) as response:
            return json.loads(response.read())  # type: ignore[no-any-return]
    except urllib.error.HTTPError as exc:  # a query that does not parse: 400 with the error
        return json.loads(exc.read())  # type: ignore[no-any-return]


@pytest.fixture
def demo_bot(bot_core_home: Path) -> Iterator[str]:
    """``bot-core run --preset balanced`` with /metrics on a free loopback port; its URL."""
    env = {**os.environ, "BOT_CORE_HOME": str(bot_core_home)}
    proc = subprocess.Popen(
        [sys.executable, "-m", "bot_core", "run", "--preset", "balanced", "--json",
         "--metrics-addr", "127.0.0.1:0", "--speed", "120", "--duration", "4h"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    drain: subprocess.Popen[bytes] | None = None
    try:
        assert proc.stdout is not None
        url = None
        deadline = time.monotonic() + 120
        while url is None and time.monotonic() < deadline:
            line = proc.stdout.readline()
            if not line:
                break
            event = json.loads(line)
            if event["event"] == "telemetry":
                url = event["metrics_url"]
        assert url is not None, proc.stderr.read() if proc.stderr else ""
        drain = subprocess.Popen(["cat"], stdin=proc.stdout, stdout=subprocess.DEVNULL)
        yield url
    finally:
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=10)
        if drain is not None:
            drain.wait(timeout=10)


@pytest.fixture
def prometheus(tmp_path: Path, demo_bot: str) -> Iterator[str]:
    """A real Prometheus on loopback scraping the demo bot every second; its base URL."""
    binary = _tool("prometheus")
    target = urllib.parse.urlparse(demo_bot).netloc
    config = tmp_path / "prometheus.yml"
    config.write_text(
        "global:\n  scrape_interval: 1s\n  evaluation_interval: 1s\n"
        f"rule_files:\n  - {RULES}\n"
        "scrape_configs:\n  - job_name: bot-core\n    static_configs:\n"
        f"      - targets: ['{target}']\n")
    port = _free_port()
    proc = subprocess.Popen(
        [binary, f"--config.file={config}", f"--storage.tsdb.path={tmp_path / 'tsdb'}",
         f"--web.listen-address=127.0.0.1:{port}", "--log.level=warn"],
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                up = _query(base, 'up{job="bot-core"}')["data"]["result"]
            except (OSError, KeyError, ValueError):
                up = []
            if up and up[0]["value"][1] == "1":
                break
            assert proc.poll() is None, proc.stderr.read() if proc.stderr else ""
            time.sleep(0.5)
        else:
            raise AssertionError("Prometheus never scraped the bot")
        time.sleep(6)  # a few scrapes, so that rates over 10 s have two points
        yield base
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=10)


def test_every_alert_and_panel_query_runs_against_a_scraped_demo_bot(prometheus: str) -> None:
    # alert expressions: each parses, and every series it reads exists (the alert itself
    # returns series only while it fires)
    for alert in _alerts():
        answer = _query(prometheus, alert["expr"])
        assert answer["status"] == "success", (alert["alert"], answer)
        names = set(re.findall(r"\b(bot_core_\w+|up)\b(?=\s*[{\[ )=>]|$)", alert["expr"]))
        assert names, alert["alert"]
        for name in names:
            found = _query(prometheus, f'count({{__name__="{name}"}})')["data"]["result"]
            assert found, f"{alert['alert']}: no series {name}"
    # dashboard panels: each parses and returns series
    for title, expr in _panel_queries():
        query = (expr.replace("$__rate_interval", "10s").replace('"$bot"', '".*"')
                 .replace('"$profile"', '".*"').replace('"$strategy"', '".*"'))
        answer = _query(prometheus, query)
        assert answer["status"] == "success", (title, answer)
        assert answer["data"]["result"], f"panel {title!r} returned no series: {query}"
    # and the rules loaded into the real Prometheus are healthy
    with urllib.request.urlopen(f"{prometheus}/api/v1/rules", timeout=10) as response:
        groups = json.loads(response.read())["data"]["groups"]
    rules = [r for g in groups for r in g["rules"]]
    assert sorted(r["name"] for r in rules) == sorted(ALERTS)
    assert {r["health"] for r in rules} == {"ok"}
