"""``bot-core control ADDR ACTION [ARG]``: operator commands to a running bot over gRPC.

=================  ===========================================  ======================
action             what it does                                 role it needs
=================  ===========================================  ======================
``status``         bots, risk status and strategies             viewer
``pause S``        stop strategy S deciding (it keeps its       operator
                   positions; fills still reach it)
``resume S``       let strategy S decide again                  operator
``halt REASON``    trading state HALTED (only cancels)          admin
``reduce REASON``  trading state REDUCING (only reducing        admin
                   orders)
``clear REASON``   end REDUCING (a drawdown liquidation or an   admin
                   operator's reduce)
``promote MODE``   promote the bot to paper or live through     admin
                   the promotion gates
=================  ===========================================  ======================

Exit codes: 0 done; 1 refused (a gate failed, no such bot, unreachable); 2 bad arguments; 3 TLS
handshake refused; 4 permission denied (``permission denied (role viewer may not halt)``).
"""

from __future__ import annotations

import argparse
import json
from typing import Any

from bot_core.cli.remote_args import add_connection_arguments, connection_options
from bot_core.errors import UsageError

__all__ = ["ACTIONS", "add_parser"]

ACTIONS = {"status": None, "pause": "STRATEGY", "resume": "STRATEGY", "halt": "REASON",
           "reduce": "REASON", "clear": "REASON", "promote": "MODE"}


def add_parser(sub: Any) -> None:
    p = sub.add_parser(
        "control", help="operator commands to a running bot (status, pause, halt, promote...)",
        description="Send one operator command to a bot's gRPC server (bot-core run "
        "--grpc-addr). ACTION: status | pause STRATEGY | resume STRATEGY | halt REASON | "
        "reduce REASON | clear REASON | promote MODE. TLS options fall back to "
        "BOT_CORE_GRPC_TLS_CA/_CERT/_KEY; NONE, NULL, DEFAULT or empty mean not set. Exit "
        "codes: 3 TLS handshake refused, 4 permission denied.")
    add_connection_arguments(p)
    p.add_argument("action", metavar="ACTION", choices=sorted(ACTIONS),
                   help=", ".join(ACTIONS))
    p.add_argument("argument", metavar="ARG", nargs="?", default=None,
                   help="the strategy, the reason or the mode, as ACTION needs")
    p.add_argument("--bot", default="", metavar="NAME",
                   help="the bot to act on (default: every bot for halt/reduce/clear, the one "
                   "bot running the strategy for pause/resume)")
    p.add_argument("--reason", default=None, metavar="TEXT",
                   help="pause/resume: why (journaled; default: the action's name)")
    p.add_argument("--lift-daily-loss-halt", action="store_true",
                   help="clear: also lift today's daily-loss halt (to reduce positions)")
    p.add_argument("--confirm", default="", metavar="BOT",
                   help="promote to live: the bot's name")
    p.add_argument("--json", action="store_true", help="print JSON")
    p.set_defaults(handler=control)


def control(args: argparse.Namespace) -> int:
    from bot_core.control.client import RemoteClient

    needs = ACTIONS[args.action]
    if needs is not None and not (args.argument or "").strip():
        raise UsageError(f"{args.action} needs a {needs}: bot-core control ADDR {args.action} "
                         f"{needs}")
    if needs is None and args.argument is not None:
        raise UsageError(f"{args.action} takes no argument (got {args.argument!r})")
    options = connection_options(args)
    with RemoteClient(options) as client:
        if args.action == "status":
            return _status(client, args)
        if args.action in ("pause", "resume"):
            return _strategy_action(client, args)
        if args.action == "promote":
            return _promote(client, args)
        return _trading_state(client, args)


def _status(client: Any, args: argparse.Namespace) -> int:
    from google.protobuf.json_format import MessageToDict

    from bot_core.control.protos import bot_core_pb2 as pb

    bots = client.call("ListBots", pb.ListBotsRequest(), pb.ListBotsResponse, action="status")
    risk = client.call("GetRiskStatus", pb.RiskStatusRequest(bot=args.bot),
                       pb.RiskStatusResponse, action="status")
    strategies = client.call("ListStrategies", pb.ListStrategiesRequest(bot=args.bot),
                             pb.ListStrategiesResponse, action="status")
    if args.json:
        print(json.dumps({name: MessageToDict(message, preserving_proto_field_name=True)
                          for name, message in (("bots", bots), ("risk", risk),
                                                ("strategies", strategies))},
                         indent=2, sort_keys=True))
        return 0
    from rich.table import Table

    from bot_core.cli.output import console

    out = console()
    modes = {b.name: b.mode for b in bots.bots}
    table = Table(title=f"bots at {client.options.target}")
    for column in ("bot", "profile", "mode", "state", "equity", "pnl", "drawdown",
                   "daily loss used", "open orders", "cause"):
        table.add_column(column)
    for r in risk.bots:
        table.add_row(r.bot, r.profile, modes.get(r.bot, ""),
                      pb.TradingState.Name(r.trading_state).lower(), f"{r.equity:,.2f}",
                      f"{r.pnl:+,.2f}", f"{r.drawdown_ratio:.2%}",
                      f"{r.daily_loss_limit_used_ratio:.0%}", str(r.open_orders), r.cause)
    out.print(table)
    table = Table(title="strategies")
    for column in ("bot", "strategy", "plugin", "state", "decisions", "skipped bars", "faults",
                   "why"):
        table.add_column(column)
    for s in strategies.strategies:
        table.add_row(s.bot, s.name, s.plugin, s.state, str(s.decisions), str(s.skipped_bars),
                      str(s.faults), s.quarantined or s.paused)
    out.print(table)
    return 0


def _print_outcomes(response: Any, as_json: bool) -> None:
    from google.protobuf.json_format import MessageToDict

    if as_json:
        print(json.dumps(MessageToDict(response, preserving_proto_field_name=True), indent=2,
                         sort_keys=True))
        return
    for outcome in response.outcomes:
        print(f"{outcome.bot}: {outcome.subject}: {outcome.message}")


def _strategy_action(client: Any, args: argparse.Namespace) -> int:
    from bot_core.control.protos import bot_core_pb2 as pb

    method = "PauseStrategy" if args.action == "pause" else "ResumeStrategy"
    request = pb.StrategyActionRequest(bot=args.bot, strategy=args.argument,
                                       reason=args.reason or f"bot-core control {args.action}")
    response = client.call(method, request, pb.ActionResponse, action=args.action)
    _print_outcomes(response, args.json)
    return 0


def _trading_state(client: Any, args: argparse.Namespace) -> int:
    from bot_core.control.protos import bot_core_pb2 as pb

    if args.action == "clear":
        request: Any = pb.ClearReducingRequest(
            bot=args.bot, reason=args.argument,
            lift_daily_loss_halt=args.lift_daily_loss_halt)
        response = client.call("ClearReducing", request, pb.ActionResponse, action="clear")
    else:
        state = pb.HALTED if args.action == "halt" else pb.REDUCING
        request = pb.SetTradingStateRequest(bot=args.bot, state=state, reason=args.argument)
        response = client.call("SetTradingState", request, pb.ActionResponse,
                               action=args.action)
    _print_outcomes(response, args.json)
    return 0


def _promote(client: Any, args: argparse.Namespace) -> int:
    from google.protobuf.json_format import MessageToDict

    from bot_core.control.protos import bot_core_pb2 as pb

    mode = args.argument.strip().lower()
    if mode not in ("paper", "live"):
        raise UsageError(f"promote {args.argument}: the mode is paper or live")
    response = client.call("Promote", pb.PromoteRequest(bot=args.bot, to_mode=mode,
                                                        confirm=args.confirm),
                           pb.PromoteResponse, action="promote")
    if args.json:
        print(json.dumps(MessageToDict(response, preserving_proto_field_name=True), indent=2,
                         sort_keys=True))
    else:
        for gate in response.gates:
            print(f"  {'pass' if gate.passed else 'FAIL'}  {gate.gate}: {gate.evidence}")
        print(response.message)
    return 0 if response.promoted else 1
