"""Run claims over a scale's grid, judge them at a family-wise level, write the ledger JSON.

The run's family-wise error level ``fwer`` is split evenly (Bonferroni) over every grid point of
every selected claim, so the chance that any correct claim is judged ``fails`` in a whole run is
at most ``fwer``.
"""
from __future__ import annotations

import json
import math
import os
import platform
import tempfile
import time
from contextlib import contextmanager
from dataclasses import replace
from pathlib import Path
from typing import Any, Iterable, Iterator, Mapping

import torch
from tqdm import tqdm

from .cache import Cache
from .claims import Claim, Context
from .device import default_budget
from .judges import VACUOUS, VERDICTS, combine
from .params import ParamError

DEFAULT_FWER = 1e-3
MAX_TRIALS = {"ci": 100_000, "book": 200_000, "paper": 2_000_000}


def scale_context(scale: str, device: str, seed: int, dtype: str = "float32") -> Context:
    return Context(device=device, dtype=dtype, seed=seed, max_trials=MAX_TRIALS[scale],
                   memory_budget=default_budget(device), scale=scale)


class CheckError(RuntimeError):
    """A check raised: the message names the claim and the point, in one line."""


def point_text(point: Mapping[str, Any]) -> str:
    """A parameter point as ``name=value, ...`` (for progress and error lines)."""
    return ", ".join(f"{name}={value}" for name, value in point.items())


def check_point(claim: Claim, point: Mapping[str, Any], ctx: Context) -> tuple[dict[str, Any], float]:
    """Check ``claim`` at one grid point: the outcome's JSON as the ledger lists it (plain numbers,
    as read back from a file) and the wall-clock seconds the check took. The serial loop and the
    distributed workers both run this."""
    started = time.perf_counter()
    try:
        outcome = claim.check(point, ctx)
    except Exception as error:
        raise CheckError(f"{claim.id} at {point_text(point)}: {type(error).__name__}: {error}") from error
    result = json.loads(json.dumps(outcome.to_json(), default=float))
    return result, time.perf_counter() - started


@contextmanager
def one_thread() -> Iterator[None]:
    """Run the block with one torch thread (then restore the count). Every check of a run, serial
    or on a cluster's workers, has one thread: a reduction split over another number of threads
    sums in another order, and the ledger would differ in the last bits of its estimates."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(threads)


def _serial(tasks: list[tuple[int, Claim, dict[str, Any]]], ctx: Context,
            bar: Any) -> Iterator[tuple[int, dict[str, Any], float]]:
    for index, claim, point in tasks:
        bar.set_postfix_str(claim.id)
        with one_thread():
            outcome = check_point(claim, point, ctx)
        yield index, *outcome


def run(claims: Iterable[Claim], scale: str, ctx: Context, fwer: float = DEFAULT_FWER,
        progress: bool = True, cache: Cache | None = None, workers: int | str | None = None,
        scheduler: str | None = None) -> dict[str, Any]:
    """Check every grid point of ``claims`` at ``scale``; return the ledger as a dict.

    With a ``cache``, a point whose key (see :mod:`pavlov_theory.cache`) is stored is read back
    (its result marked ``"cached": true``) and every computed point is stored as soon as it is
    done. With ``workers`` of 2 or more (a local Dask cluster of that many processes; ``"auto"``:
    one per usable core when ``dask.distributed`` is installed, else this process alone) or
    ``scheduler`` (the address of a running Dask scheduler) the points are checked on the
    cluster; the ledger is the same, value for value, ordered by grid point. A claim's
    ``seconds`` is the time its points took when they were computed (a cached point keeps its
    stored time); the ledger's ``seconds`` is this run's wall-clock time."""
    tasks = [(claim, point) for claim in claims for point in claim.points(scale)]
    point_ctx = replace(ctx, alpha=fwer / max(1, len(tasks)))
    started = time.time()
    results: list[dict[str, Any]] = [{} for _ in tasks]
    seconds = [0.0] * len(tasks)
    todo = []
    for index, (claim, point) in enumerate(tasks):
        entry = cache.get(claim.id, point, point_ctx) if cache is not None else None
        if entry is None:
            todo.append((index, claim, point))
        else:
            results[index], seconds[index] = {**entry.result, "cached": True}, entry.seconds
    quiet = not progress or os.environ.get("TQDM_DISABLE", "") not in ("", "0")
    with tqdm(total=len(tasks), initial=len(tasks) - len(todo), desc=f"verify {scale}", unit="check",
              disable=quiet) as bar:
        processes = 1
        if scheduler is None and workers is not None:
            from .distributed import local_workers
            processes = local_workers(workers, len(todo), point_ctx.device)
        if scheduler is not None or processes > 1:
            from .distributed import run_points
            finished = run_points([(i, c.id, p) for i, c, p in todo], point_ctx, bar, processes, scheduler)
        else:
            finished = _serial(todo, point_ctx, bar)
        for index, result, took in finished:
            claim, point = tasks[index]
            if cache is not None:
                cache.put(claim.id, point, point_ctx, result, took)
            results[index], seconds[index] = {**result, "cached": False}, took
            bar.update()
    summary = []
    for claim in {c.id: c for c, _ in tasks}.values():
        mine = [i for i, (c, _) in enumerate(tasks) if c.id == claim.id]
        verdicts = [results[i]["verdict"] for i in mine]
        summary.append({
            "claim": claim.id, "paper_ref": claim.paper_ref, "statement": claim.statement,
            "kind": claim.kind, "judge": claim.judge, "beyond_paper": claim.beyond_paper,
            "quantity": claim.quantity, "verdict": combine(verdicts),
            "probe": claim.probe.describe(), "probe_trivial": claim.probe.trivial, "points": len(mine),
            "vacuous_points": sum(v == VACUOUS for v in verdicts),
            "cached_points": sum(results[i]["cached"] for i in mine),
            "seconds": round(sum(seconds[i] for i in mine), 3),
        })
    return {
        "scale": scale, "device": ctx.device, "device_name": device_name(ctx.device),
        "dtype": ctx.dtype, "seed": ctx.seed, "fwer": fwer, "alpha_per_check": point_ctx.alpha,
        "seconds": round(time.time() - started, 3), "torch": torch.__version__,
        "python": platform.python_version(),
        "claims": summary, "results": results,
    }


def device_name(device: str) -> str:
    if device.startswith("cuda"):
        return torch.cuda.get_device_name(torch.device(device))
    return f"cpu ({platform.processor() or platform.machine()}, {torch.get_num_threads()} threads)"


class LedgerError(ParamError):
    """A ledger file that cannot be written or read back: missing, not JSON, or not a ledger
    this version of the verifier wrote (a stale one). The message names the file and the fix."""


# run-dependent fields: how long this run took and which points it read from the cache
RUN_FIELDS = ("seconds", "cached", "cached_points")


def findings(ledger: dict[str, Any]) -> dict[str, Any]:
    """The ledger (or one of its records) without its run-dependent fields, which are dropped at
    the top level and in each claim and result record, never inside parameters or evidence:
    what two runs must agree on."""
    strip = lambda record: {k: v for k, v in record.items() if k not in RUN_FIELDS}
    out = strip(ledger)
    for key in ("claims", "results"):
        if isinstance(out.get(key), list):
            out[key] = [strip(r) if isinstance(r, dict) else r for r in out[key]]
    return out


def _interval(ci: Any) -> tuple[float, float] | None:
    """``ci`` as a finite interval of positive width, or None (a derived value, a NaN, no data)."""
    if not (isinstance(ci, (list, tuple)) and len(ci) == 2):
        return None
    try:
        low, high = float(ci[0]), float(ci[1])
    except (TypeError, ValueError):
        return None
    return (low, high) if math.isfinite(low) and math.isfinite(high) and high > low else None


def _rows(value: Any) -> bool:
    """Whether ``value`` is a list of records (an evidence list, or a row table inside one)."""
    return isinstance(value, list) and bool(value) and all(isinstance(v, dict) for v in value)


def _named(rows: list[dict[str, Any]]) -> dict[tuple[Any, int], dict[str, Any]]:
    """Evidence rows by name and occurrence, so two lists pair by what each row is."""
    seen: dict[Any, int] = {}
    out = {}
    for row in rows:
        name = row.get("name")
        seen[name] = seen.get(name, -1) + 1
        out[(name, seen[name])] = row
    return out


def _compare(where: str, a: Mapping[str, Any], b: Mapping[str, Any]) -> list[str]:
    """Where two twin records disagree: another verdict, intervals that do not meet, a usable
    interval on one side only (no data there), and the same in their evidence (paired by name)
    and in the row tables inside it (paired by position)."""
    out = []
    if ("verdict" in a or "verdict" in b) and a.get("verdict") != b.get("verdict"):
        out.append(f"{where}: verdict {a.get('verdict')} vs {b.get('verdict')}")
    if "ci" in a or "ci" in b:
        first, second = _interval(a.get("ci")), _interval(b.get("ci"))
        if first and second and (first[1] < second[0] or second[1] < first[0]):
            out.append(f"{where}: intervals [{first[0]:.6g}, {first[1]:.6g}] and "
                       f"[{second[0]:.6g}, {second[1]:.6g}] do not meet")
        elif (first is None) != (second is None):
            out.append(f"{where}: a usable interval on one side only ({a.get('ci')} vs {b.get('ci')})")
    for key in sorted(set(a) | set(b)):
        x, y = a.get(key), b.get(key)
        if not (_rows(x) or _rows(y)):
            continue
        if not (_rows(x) and _rows(y)):
            out.append(f"{where} {key}: rows on one side only")
        elif key == "evidence":
            first, second = _named(x), _named(y)
            for name in sorted(first.keys() ^ second.keys(), key=repr):
                out.append(f"{where} evidence {name[0]!r}: in one ledger only")
            for name in sorted(first.keys() & second.keys(), key=repr):
                out += _compare(f"{where} evidence {name[0]!r}", first[name], second[name])
        elif len(x) != len(y):
            out.append(f"{where} {key}: {len(x)} rows vs {len(y)}")
        else:
            for index, (r, t) in enumerate(zip(x, y)):
                out += _compare(f"{where} {key}[{index}]", r, t)
    return out


def disagreements(a: Mapping[str, Any], b: Mapping[str, Any]) -> list[str]:
    """How two ledgers of the same scale and claims, from independent draws (another device or
    seed), disagree: a claim, result, evidence row or row inside it with another verdict; an
    interval that does not meet its twin; a usable interval (or a record) on one side only. Both
    intervals cover the true value except with probability ``2 alpha_per_check``, so intervals
    that do not meet are evidence that one run estimates something else. Symmetric; empty when
    they agree."""
    out = []
    claims = lambda ledger: {c["claim"]: c for c in ledger["claims"]}
    first, second = claims(a), claims(b)
    for name in sorted(first.keys() ^ second.keys()):
        out.append(f"{name}: in one ledger only")
    for name in sorted(first.keys() & second.keys()):
        out += _compare(name, first[name], second[name])
    key = lambda r: (r["claim"], r.get("quantity"), json.dumps(r.get("params"), sort_keys=True))
    where = lambda r: f"{r['claim']} {point_text(r.get('params') or {})} {r.get('quantity')}"
    results = [{key(r): r for r in ledger["results"]} for ledger in (a, b)]
    for k in sorted(results[0].keys() ^ results[1].keys()):
        out.append(f"{where((results[0] | results[1])[k])}: in one ledger only")
    for k in sorted(results[0].keys() & results[1].keys()):
        out += _compare(where(results[0][k]), results[0][k], results[1][k])
    return out


def write(ledger: dict[str, Any], path: str | Path, *, keep_same: bool = False) -> Path:
    """Write ``ledger`` as JSON to ``path`` atomically: a temporary file in the same folder, then
    ``os.replace``, so a reader sees the old file or the whole new one, never half of it.

    With ``keep_same``, a file already holding the same findings (every field but the timings and
    cache marks) is left untouched, so that a build which depends on the file's time is not redone."""
    path = Path(path)
    text = json.dumps(ledger, indent=1, default=float)
    if path.is_dir():
        raise LedgerError(f"out: {path} is a folder; expected the path of a JSON file")
    if keep_same and path.is_file():
        try:
            if findings(json.loads(path.read_text())) == findings(json.loads(text)):
                return path
        except ValueError:
            pass  # not JSON: replace it
    tmp = None
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile("w", dir=path.parent, prefix=f".{path.name}.", suffix=".tmp",
                                         delete=False) as handle:
            tmp = Path(handle.name)
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except OSError as error:
        if tmp is not None:
            tmp.unlink(missing_ok=True)
        raise LedgerError(f"out: cannot write {path} ({error.strerror or error}); expected a writable "
                          "file path") from None
    return path


# What a ledger must hold (key: type) for the table, the book and the stress report to read it.
LEDGER_KEYS: dict[str, type | tuple[type, ...]] = {
    "scale": str, "device_name": str, "seed": int, "fwer": (int, float), "alpha_per_check": (int, float),
    "seconds": (int, float), "claims": list, "results": list}
CLAIM_KEYS = ("claim", "verdict", "judge", "points", "probe", "probe_trivial", "paper_ref", "seconds")
RESULT_KEYS = ("claim", "params", "verdict", "ci", "trials", "theory", "estimate")


def validate(ledger: Any, where: str = "ledger") -> dict[str, Any]:
    """Return ``ledger`` if it has the shape :func:`run` writes and names only registered claims
    and known verdicts; else raise :class:`LedgerError` naming what is wrong."""
    from .claims import registry

    rerun = "rerun `pavlov-theory verify --out PATH` to rewrite it"
    if not isinstance(ledger, dict):
        raise LedgerError(f"{where}: expected a JSON object (a ledger), got {type(ledger).__name__}; {rerun}")
    for key, kind in LEDGER_KEYS.items():
        if key not in ledger:
            raise LedgerError(f"{where}: missing key {key!r} (not a ledger, or a stale one); {rerun}")
        if not isinstance(ledger[key], kind) or isinstance(ledger[key], bool):
            raise LedgerError(f"{where}: {key!r} has the wrong type ({type(ledger[key]).__name__}); {rerun}")
    known, verdicts = set(registry()), {*VERDICTS, VACUOUS}
    for part, keys in (("claims", CLAIM_KEYS), ("results", RESULT_KEYS)):
        for row in ledger[part]:
            missing = [k for k in keys if not isinstance(row, dict) or k not in row]
            if missing:
                raise LedgerError(f"{where}: an entry of {part!r} lacks {missing[0]!r} (stale or corrupt); "
                                  f"{rerun}")
            if row["claim"] not in known:
                raise LedgerError(f"{where}: claim {row['claim']!r} is not registered (a stale ledger); "
                                  f"{rerun}")
            if row["verdict"] not in verdicts:
                raise LedgerError(f"{where}: verdict {row['verdict']!r} of {row['claim']} is not one of "
                                  f"{', '.join(sorted(verdicts))}; {rerun}")
    return ledger


def load(path: str | Path) -> dict[str, Any]:
    """Read a ledger written by :func:`write` and check it (:func:`validate`); a missing,
    unreadable, corrupt or stale file raises :class:`LedgerError` with a one-line message."""
    path = Path(path)
    where = f"ledger {path}"
    try:
        text = path.read_text()
    except FileNotFoundError:
        raise LedgerError(f"{where}: no such file; write it with `pavlov-theory verify --out {path}`"
                          ) from None
    except (OSError, UnicodeDecodeError) as error:
        raise LedgerError(f"{where}: cannot be read ({getattr(error, 'strerror', None) or error})") from None
    try:
        data = json.loads(text)
    except json.JSONDecodeError as error:
        raise LedgerError(f"{where}: not valid JSON ({error.msg} at line {error.lineno}, "
                          f"column {error.colno}); rerun `pavlov-theory verify --out {path}` to rewrite it"
                          ) from None
    return validate(data, where)


def table(ledger: dict[str, Any]) -> str:
    """A plain-text summary, one line per claim."""
    rows = [("claim", "verdict", "points", "seconds", "probe", "paper")]
    probe = lambda c: c["probe"] + (" (trivial)" if c["probe_trivial"] else "")
    rows += [(c["claim"], c["verdict"], str(c["points"]), f"{c['seconds']:.1f}", probe(c), c["paper_ref"])
             for c in ledger["claims"]]
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    lines = ["  ".join(cell.ljust(w) for cell, w in zip(row, widths)).rstrip() for row in rows]
    lines.insert(1, "  ".join("-" * w for w in widths))
    lines.append(f"scale {ledger['scale']}, seed {ledger['seed']}, device {ledger['device_name']}, "
                 f"{ledger['seconds']:.1f} s, family-wise level {ledger['fwer']:g}")
    powers = [(c["claim"], c["power_measured"]["text"]) for c in ledger["claims"] if "power_measured" in c]
    lines += [f"power measured, {name}: {text}" for name, text in powers]
    return "\n".join(lines)
