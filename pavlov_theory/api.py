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
from .claims import SCALES, Claim, Outcome, get_claim, registry, select
from .device import resolve_device, resolve_dtype
from .params import ParamError


def claims() -> list[Claim]:
    """Every registered claim, in section order."""
    return list(registry().values())


def context(scale: str, *, seed: int = 0, device: str = "auto", dtype: str = "float32"):
    """The context ``check`` and ``verify`` run in: the scale's trial cap and memory budget."""
    if scale not in SCALES:
        raise ParamError(f"scale: expected one of {', '.join(SCALES)}, got {scale!r}")
    if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
        raise ParamError(f"seed: expected an integer >= 0, got {seed!r}")
    resolve_dtype(dtype)
    return ledger_mod.scale_context(scale, resolve_device(device), seed, dtype)


def check(claim_id: str, *, seed: int = 0, device: str = "auto", dtype: str = "float32",
          trials: int | None = None, fwer: float = ledger_mod.DEFAULT_FWER, **params: Any) -> Outcome:
    """Check ``claim_id`` at one parameter point (defaults updated with ``params``) at book
    scale; ``trials`` caps the Monte Carlo trials, ``fwer`` is the check's error level.
    Returns the judged :class:`~pavlov_theory.claims.Outcome` (``to_json()`` is the CLI's JSON)."""
    claim = get_claim(claim_id)
    point = claim.resolve(params)
    if not 0 < fwer <= 0.5:
        raise ParamError(f"fwer: expected a number in (0, 0.5], got {fwer!r}")
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

    def write(self, path: str | Path) -> Path:
        return ledger_mod.write(self.data, path)


def verify(scale: str = "book", only: str | None = None, *, seed: int = 0, device: str = "auto",
           dtype: str = "float32", fwer: float = ledger_mod.DEFAULT_FWER, progress: bool = False) -> Ledger:
    """Check every grid point of the claims matching ``only`` (a shell pattern; all by default)
    at ``scale``, at the family-wise level ``fwer``."""
    if not 0 < fwer <= 0.5:
        raise ParamError(f"fwer: expected a number in (0, 0.5], got {fwer!r}")
    ctx = context(scale, seed=seed, device=device, dtype=dtype)
    return Ledger(ledger_mod.run(select(only), scale, ctx, fwer, progress=progress))
