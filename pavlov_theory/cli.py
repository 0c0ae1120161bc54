"""Command line: ``pavlov-theory list | check ID --set k=v ... | verify --scale S``.

Bad input (unknown id or parameter, malformed or out-of-range value) prints one line on stderr
and exits with code 2; no traceback reaches the user.
"""
from __future__ import annotations

import argparse
import json
import os
import secrets
import sys
from typing import Sequence

from . import api, ledger
from .claims import ParamError, get_claim, registry

USAGE_ERROR = 2


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # one line, exit code 2
        raise ParamError(message)


def _positive_int(low: int = 1):
    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected an integer >= {low}, got {text!r}") from None
        if value < low:
            raise argparse.ArgumentTypeError(f"expected an integer >= {low}, got {value}")
        return value
    return parse


def _probability(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number in (0, 0.5], got {text!r}") from None
    if not 0 < value <= 0.5:
        raise argparse.ArgumentTypeError(f"expected a number in (0, 0.5], got {value}")
    return value


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="pavlov-theory", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)
    sub.add_parser("list", help="list every claim")

    common = _Parser(add_help=False)
    common.add_argument("--seed", type=_positive_int(0), default=0, help="base seed (default 0)")
    common.add_argument("--fresh", action="store_true", help="draw a fresh random seed and report it")
    common.add_argument("--device", default="auto", help="auto (cuda if present), cpu or cuda")
    common.add_argument("--dtype", default="float32", help="float32 or float64")

    check = sub.add_parser("check", parents=[common], help="check one claim at one parameter point")
    check.add_argument("claim")
    check.add_argument("--set", action="append", default=[], metavar="NAME=VALUE")
    check.add_argument("--trials", type=_positive_int(2), default=None, help="most Monte Carlo trials")
    check.add_argument("--fwer", type=_probability, default=ledger.DEFAULT_FWER,
                       help="error level of the check")
    check.add_argument("--json", action="store_true", help="print the outcome as JSON")

    verify = sub.add_parser("verify", parents=[common], help="check every claim over a scale's grid")
    verify.add_argument("--scale", default="book", help="ci, book (default) or paper")
    verify.add_argument("--only", default=None, metavar="PATTERN", help="claim ids matching PATTERN")
    verify.add_argument("--out", default=None, metavar="PATH", help="write the ledger JSON here")
    verify.add_argument("--fwer", type=_probability, default=ledger.DEFAULT_FWER,
                        help="family-wise error level")
    verify.add_argument("--quiet", action="store_true", help="no progress bar")
    return parser


def _parse_sets(claim, items: Sequence[str]) -> dict:
    values = {}
    for item in items:
        name, sep, text = item.partition("=")
        if not sep or not name:
            raise ParamError(f"set: expected NAME=VALUE, got {item!r}")
        values[name] = claim.param(name).parse(text)
    return values


def _seed(args) -> int:
    return secrets.randbits(32) if args.fresh else args.seed


def cmd_list() -> int:
    for claim in registry().values():
        print(f"{claim.id:28s} {claim.judge:9s} {claim.paper_ref}")
        print(f"{'':28s} {claim.statement}")
        print(f"{'':28s} power probe: {claim.probe.describe()}")
    return 0


def cmd_check(args) -> int:
    claim = get_claim(args.claim)
    outcome = api.check(claim.id, seed=_seed(args), device=args.device, dtype=args.dtype, trials=args.trials,
                        fwer=args.fwer, **_parse_sets(claim, args.set))
    if args.json:
        print(json.dumps(outcome.to_json(), indent=1, default=float))
    else:
        lo, hi = outcome.ci
        print(f"{claim.id}: {outcome.quantity} theory {outcome.theory:.6g}, estimate {outcome.estimate:.6g} "
              f"[{lo:.6g}, {hi:.6g}] from {outcome.trials} trials -> {outcome.verdict}")
    return 0


def cmd_verify(args) -> int:
    result = api.verify(args.scale, args.only, seed=_seed(args), device=args.device, dtype=args.dtype,
                        fwer=args.fwer, progress=not args.quiet)
    print(result.table())
    if args.out:
        print(f"ledger written to {result.write(args.out)}")
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    try:
        args = build_parser().parse_args(argv)
        if args.command == "list":
            return cmd_list()
        if args.command == "check":
            return cmd_check(args)
        return cmd_verify(args)
    except ParamError as error:
        print(f"pavlov-theory: error: {error}", file=sys.stderr)
        return USAGE_ERROR
    except BrokenPipeError:  # output piped into a command that stopped reading (e.g. head)
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
    except Exception as error:  # an internal failure: one line, the traceback only on request
        if os.environ.get("PAVLOV_DEBUG"):
            raise
        print(f"pavlov-theory: internal error: {type(error).__name__}: {error} "
              "(set PAVLOV_DEBUG=1 for the traceback)", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("pavlov-theory: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
