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
from pathlib import Path
from typing import Sequence

from . import api, ledger
from .claims import ParamError, get_claim, registry
from .stress import table as stress_table

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


def _workers(text: str) -> int | str:
    """``auto`` or an integer >= 1 (the ``--workers`` option and ``$PAVLOV_WORKERS``)."""
    if text.strip() == "auto":
        return "auto"
    try:
        value = int(text)
    except ValueError:
        value = None
    if value is None or value < 1:
        raise argparse.ArgumentTypeError(f"expected 'auto' or an integer >= 1, got {text!r}")
    return value


def default_workers() -> int | str:
    """``$PAVLOV_WORKERS`` if set, else ``auto`` (one process per usable core)."""
    text = os.environ.get("PAVLOV_WORKERS", "").strip()
    try:
        return _workers(text) if text else "auto"
    except argparse.ArgumentTypeError as error:
        raise ParamError(f"PAVLOV_WORKERS: {error}") from None


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="pavlov-theory", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)
    sub.add_parser("list", help="list every claim")

    common = _Parser(add_help=False)
    seeds = common.add_mutually_exclusive_group()
    seeds.add_argument("--seed", type=_positive_int(0), default=0, help="base seed (default 0)")
    seeds.add_argument("--fresh", action="store_true", help="draw a fresh random seed and report it")
    common.add_argument("--device", default="auto", help="auto (cuda if present), cpu or cuda")
    common.add_argument("--dtype", default="float32", help="float32 or float64")

    check = sub.add_parser("check", parents=[common], help="check one claim at one parameter point")
    check.add_argument("claim")
    check.add_argument("--set", action="append", default=[], metavar="NAME=VALUE")
    check.add_argument("--trials", type=_positive_int(2), default=None,
                       help="most Monte Carlo trials per judged interval (head_count: of its first look)")
    check.add_argument("--fwer", type=_probability, default=ledger.DEFAULT_FWER,
                       help="error level of the check")
    check.add_argument("--json", action="store_true", help="print the outcome as JSON")

    verify = sub.add_parser("verify", parents=[common], help="check every claim over a scale's grid")
    verify.add_argument("--scale", default="book", help="ci, book (default) or paper")
    verify.add_argument("--only", default=None, metavar="PATTERN",
                        help="claim ids matching PATTERN (shell-style; a comma list matches any of them)")
    verify.add_argument("--out", default=None, metavar="PATH", help="write the ledger JSON here")
    verify.add_argument("--fwer", type=_probability, default=ledger.DEFAULT_FWER,
                        help="family-wise error level")
    verify.add_argument("--quiet", action="store_true", help="no progress bar")
    stored = verify.add_mutually_exclusive_group()
    stored.add_argument("--cache", default=None, metavar="DIR",
                        help="reuse and fill the cache of checked points in DIR "
                             "(default $PAVLOV_CACHE or .pavlov-cache; --fresh bypasses it)")
    stored.add_argument("--no-cache", action="store_true", help="neither read nor write the cache")
    verify.add_argument("--stress", type=_positive_int(1), default=None, metavar="K",
                        help="rerun the scale with K seeds derived from the base seed; report how often "
                             "each verdict changes and the observed false-failure rate (--out: its JSON)")
    verify.add_argument("--power", action="store_true",
                        help="also measure each claim's power: the smallest probe perturbation it rejects")
    spread = verify.add_mutually_exclusive_group()
    spread.add_argument("--workers", type=_workers, default=None, metavar="N",
                        help="check the grid points in N local processes (a Dask cluster when N > 1); "
                             "'auto' (default, or $PAVLOV_WORKERS): one per usable core; with --stress, "
                             "each run in turn, in this process unless N is given")
    spread.add_argument("--scheduler", default=None, metavar="ADDRESS",
                        help="check the grid points on the Dask cluster whose scheduler is at ADDRESS")
    return parser


def _parse_sets(claim, items: Sequence[str]) -> dict:
    values = {}
    for item in items:
        name, sep, text = item.partition("=")
        if not sep or not name:
            raise ParamError(f"set: expected NAME=VALUE, got {item!r}")
        if name in values:
            raise ParamError(f"set: {name} given twice; expected each parameter at most once")
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


def _check_out(text: str | None) -> None:
    """Refuse an ``--out`` path that cannot be written before any work is done."""
    if text is None:
        return
    path = Path(text)
    if path.is_dir() or not path.name:
        raise ParamError(f"out: {text!r} is a folder; expected the path of a JSON file")
    parent = next((p for p in path.absolute().parents if p.exists()), None)
    if parent is None or not parent.is_dir() or not os.access(parent, os.W_OK):
        raise ParamError(f"out: cannot write {text!r}: its folder is not writable; "
                         "expected a writable file path")


def cmd_stress(args, cache) -> int:
    if args.power:
        raise ParamError("power: not allowed with --stress (measure power in a plain verify run)")
    seed = _seed(args)
    print(f"stress: {args.stress} runs at scale {args.scale}, base seed {seed}", file=sys.stderr)
    report = api.stress(args.scale, args.only, args.stress, seed=seed, device=args.device, dtype=args.dtype,
                        fwer=args.fwer, out=args.out, cache=cache, workers=args.workers,
                        scheduler=args.scheduler)
    print(stress_table(report))
    if args.out:
        print(f"stress report written to {args.out}")
    return 0


def cmd_verify(args) -> int:
    _check_out(args.out)
    cache = None if args.no_cache or args.fresh else (args.cache or True)
    workers = args.workers or default_workers()  # a bad $PAVLOV_WORKERS is refused before any work
    if args.stress is not None:
        return cmd_stress(args, cache)
    if args.scheduler is not None:
        workers = None
    result = api.verify(args.scale, args.only, seed=_seed(args), device=args.device, dtype=args.dtype,
                        fwer=args.fwer, progress=not args.quiet, cache=cache, workers=workers,
                        scheduler=args.scheduler, power=args.power)
    print(result.table())
    if args.out:
        before = os.stat(args.out).st_mtime_ns if os.path.isfile(args.out) else None
        path = result.write(args.out, keep_same=True)
        same = before is not None and os.stat(path).st_mtime_ns == before
        print(f"ledger unchanged (same findings): {path}" if same else f"ledger written to {path}")
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
