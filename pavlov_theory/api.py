"""The public Python API: the same claims, checks and ledgers as the command line.

    >>> import pavlov_theory as pt
    >>> [c.id for c in pt.claims()][:2]
    ['framework.equivalence', 'framework.generalization']
    >>> outcome = pt.check("capacity.noise_power", d_k=64, n=65, key_dist="gaussian")
    >>> outcome.verdict, outcome.to_json()["ci"]          # doctest: +SKIP
    >>> ledger = pt.verify(scale="ci", only="capacity.*")  # doctest: +SKIP
    >>> pandas.DataFrame(ledger.records)                  # doctest: +SKIP

Bad input raises :class:`~pavlov_theory.params.ParamError` (a ``ValueError``) with the same
one-line message the CLI prints.
"""
from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from . import ledger as ledger_mod
from . import stress as stress_mod
from .cache import open_cache
from .claims import SCALES, Claim, Outcome, get_claim, registry, select
from .device import resolve_device, resolve_dtype
from .params import ParamError


def _check_fwer(fwer: Any) -> float:
    """``fwer`` if it is a number in (0, 0.5], else :class:`ParamError`."""
    if isinstance(fwer, bool) or not isinstance(fwer, (int, float)) or not 0 < fwer <= 0.5:
        raise ParamError(f"fwer: expected a number in (0, 0.5], got {fwer!r}")
    return float(fwer)


def _check_text(name: str, value: Any) -> None:
    if not isinstance(value, str):
        raise ParamError(f"{name}: expected a string, got {value!r}")


def claims() -> list[Claim]:
    """Every registered claim, in section order."""
    return list(registry().values())


def context(scale: str, *, seed: int = 0, device: str = "auto", dtype: str = "float32"):
    """The context ``check`` and ``verify`` run in: the scale's trial cap and memory budget."""
    for name, value in (("scale", scale), ("device", device), ("dtype", dtype)):
        _check_text(name, value)
    if scale not in SCALES:
        raise ParamError(f"scale: expected one of {', '.join(SCALES)}, got {scale!r}")
    if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
        raise ParamError(f"seed: expected an integer >= 0, got {seed!r}")
    resolve_dtype(dtype)
    return ledger_mod.scale_context(scale, resolve_device(device), seed, dtype)


def check(claim_id: str, *, seed: int = 0, device: str = "auto", dtype: str = "float32",
          trials: int | None = None, fwer: float = ledger_mod.DEFAULT_FWER, **params: Any) -> Outcome:
    """Check ``claim_id`` at one parameter point (defaults updated with ``params``) at book
    scale; ``trials`` caps the Monte Carlo trials (``Context.max_trials``), ``fwer`` is the check's
    error level.
    Returns the judged :class:`~pavlov_theory.claims.Outcome` (``to_json()`` is the CLI's JSON)."""
    _check_text("claim", claim_id)
    claim = get_claim(claim_id)
    point = claim.resolve(params)
    _check_fwer(fwer)
    if trials is not None and (isinstance(trials, bool) or not isinstance(trials, int) or trials < 2):
        raise ParamError(f"trials: expected an integer >= 2, got {trials!r}")
    ctx = context("book", seed=seed, device=device, dtype=dtype)
    return claim.check(point, replace(ctx, alpha=fwer, max_trials=trials or ctx.max_trials))


@dataclass
class Ledger:
    """The result of :func:`verify`: ``data`` is the ledger JSON the book reads; ``records`` has
    one flat row per checked point (a data frame takes it as is); ``claims`` one row per claim."""

    data: dict[str, Any]

    @property
    def claims(self) -> list[dict[str, Any]]:
        return self.data["claims"]

    @property
    def records(self) -> list[dict[str, Any]]:
        rows = []
        for r in self.data["results"]:
            rows.append({"claim": r["claim"], "quantity": r["quantity"], **r["params"],
                         "theory": r["theory"], "estimate": r["estimate"], "ci_low": r["ci"][0],
                         "ci_high": r["ci"][1], "verdict": r["verdict"], "judge": r["judge"],
                         "trials": r["trials"], "seed": r["seed"], "device": r["device"]})
        return rows

    def table(self) -> str:
        """The plain-text summary ``pavlov-theory verify`` prints."""
        return ledger_mod.table(self.data)

    def write(self, path: str | Path, *, keep_same: bool = False) -> Path:
        """Write the ledger JSON to ``path`` atomically; with ``keep_same``, leave a file that
        already holds the same findings untouched (see :func:`pavlov_theory.ledger.write`)."""
        return ledger_mod.write(self.data, path, keep_same=keep_same)


def _check_cluster(workers: int | str | None, scheduler: str | None) -> None:
    if workers is not None and workers != "auto" and (
            isinstance(workers, bool) or not isinstance(workers, int) or workers < 1):
        raise ParamError(f"workers: expected 'auto' or an integer >= 1, got {workers!r}")
    if scheduler is not None and (not isinstance(scheduler, str) or not scheduler.strip()):
        raise ParamError(f"scheduler: expected an address such as tcp://host:8786, got {scheduler!r}")
    if workers is not None and scheduler is not None:
        raise ParamError("workers: not allowed with scheduler (a local cluster or a running one, not both)")


def verify(scale: str = "book", only: str | None = None, *, seed: int = 0, device: str = "auto",
           dtype: str = "float32", fwer: float = ledger_mod.DEFAULT_FWER, progress: bool = False,
           cache: str | Path | bool | None = None, workers: int | str | None = None,
           scheduler: str | None = None, power: bool = False) -> Ledger:
    """Check every grid point of the claims matching ``only`` (a shell pattern; all by default)
    at ``scale``, at the family-wise level ``fwer``.

    ``cache``: a directory of stored points to reuse and fill (``True``: ``$PAVLOV_CACHE`` or
    ``.pavlov-cache``; ``None``, the default: no cache). ``workers``: check the points on a local
    Dask cluster of that many processes (1 or ``None``, the default: in this process; ``"auto"``:
    one process per usable core when ``dask.distributed`` is installed); ``scheduler``: on the
    cluster at that address. A script that passes ``workers`` must guard its entry point with
    ``if __name__ == "__main__":`` (the worker processes import it).
    ``power``: also measure each claim's power (the smallest perturbation of its probe that its
    check rejects at the probe point, at this scale and the run's level per check) into each
    claim's ``power_measured``; it costs about a dozen extra checks per claim."""
    _check_fwer(fwer)
    if only is not None:
        _check_text("only", only)
    _check_cluster(workers, scheduler)
    if cache is not None and not isinstance(cache, (str, Path, bool)):
        raise ParamError(f"cache: expected a directory, True or None, got {cache!r}")
    ctx = context(scale, seed=seed, device=device, dtype=dtype)
    chosen = select(only)
    data = ledger_mod.run(chosen, scale, ctx, fwer, progress=progress,
                          cache=open_cache(cache), workers=workers, scheduler=scheduler)
    if power:
        point_ctx = replace(ctx, alpha=data["alpha_per_check"])
        by_id = {claim.id: claim for claim in chosen}
        for record in data["claims"]:
            record["power_measured"] = stress_mod.measure_power(by_id[record["claim"]], point_ctx)
    return Ledger(data)


def stress(scale: str = "ci", only: str | None = None, runs: int = 20, *, seed: int = 0,
           device: str = "auto", dtype: str = "float32", fwer: float = ledger_mod.DEFAULT_FWER,
           out: str | Path | None = None, cache: str | Path | bool | None = None,
           workers: int | str | None = None, scheduler: str | None = None) -> dict[str, Any]:
    """Rerun :func:`verify` ``runs`` times with seeds derived from ``seed`` and report how often
    each claim's verdict changes and the observed false-failure rate beside ``fwer`` (see
    :mod:`pavlov_theory.stress`); with ``out``, the report is written there after every run. The
    runs follow one another; ``workers`` and ``scheduler`` spread each run's points as in
    :func:`verify` (the report is the same either way)."""
    _check_fwer(fwer)
    if only is not None:
        _check_text("only", only)
    if isinstance(runs, bool) or not isinstance(runs, int) or runs < 1:
        raise ParamError(f"stress: expected an integer >= 1, got {runs!r}")
    _check_cluster(workers, scheduler)
    if cache is not None and not isinstance(cache, (str, Path, bool)):
        raise ParamError(f"cache: expected a directory, True or None, got {cache!r}")
    ctx = context(scale, seed=seed, device=device, dtype=dtype)
    return stress_mod.stress(select(only), scale, ctx, runs, fwer, out=out, cache=open_cache(cache),
                             workers=workers, scheduler=scheduler)
