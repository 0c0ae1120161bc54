"""pavlov-theory: a symbolic-plus-numeric verifier for the conditioning theory of attention.

The public API: :func:`claims`, :func:`check`, :func:`verify`, :func:`stress` (see :mod:`pavlov_theory.api`).
"""
from .api import Ledger, check, claims, stress, verify
from .params import ParamError

__all__ = ["Ledger", "ParamError", "check", "claims", "stress", "verify"]
