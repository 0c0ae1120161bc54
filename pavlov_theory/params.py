"""Parameters: the checked type, range and default of every value a user can set.

The parameters shared by several sections are declared here once (``D_K``, ``N``, ``KEY_DIST``,
...); a claim that needs another range or default derives one with :meth:`Param.but`.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, replace
from typing import Any

KEY_DISTS: tuple[str, ...] = ("sphere", "gaussian", "rademacher")


class ParamError(ValueError):
    """A user-supplied parameter is unknown, malformed or out of range (CLI exit code 2)."""


@dataclass(frozen=True)
class Param:
    """One parameter of a claim: its type, allowed range or choices, and default."""

    name: str
    type: type
    default: Any
    low: float | None = None
    high: float | None = None
    choices: tuple[str, ...] | None = None
    help: str = ""
    low_open: bool = False  # the range excludes ``low``: (low, high]

    def but(self, **changes: Any) -> Param:
        """The same parameter with other fields (default, range, help) changed."""
        return replace(self, **changes)

    def allowed(self) -> str:
        if self.choices is not None:
            return "one of " + ", ".join(self.choices)
        kind = "an integer" if self.type is int else "a number"
        return f"{kind} in {'(' if self.low_open else '['}{self.low:g}, {self.high:g}]"

    def parse(self, text: str) -> Any:
        """Convert command-line text to a checked value."""
        if self.type is str:
            return self.validate(text)
        try:
            value = float(text) if self.type is float else _parse_int(text)
        except ValueError:
            raise ParamError(f"{self.name}: expected {self.allowed()}, got {text!r}") from None
        return self.validate(value)

    def validate(self, value: Any) -> Any:
        """Return ``value`` if it lies in the allowed range, else raise :class:`ParamError`."""
        if self.choices is not None:
            if value not in self.choices:
                raise ParamError(f"{self.name}: expected {self.allowed()}, got {value!r}")
            return value
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
            raise ParamError(f"{self.name}: expected {self.allowed()}, got {value!r}")
        if self.type is int and int(value) != value:
            raise ParamError(f"{self.name}: expected {self.allowed()}, got {value!r}")
        value = self.type(value)
        above_low = self.low < value if self.low_open else self.low <= value
        if not (above_low and value <= self.high):
            raise ParamError(f"{self.name}: expected {self.allowed()}, got {value!r}")
        return value


def _parse_int(text: str) -> int:
    value = float(text)
    if not value.is_integer():
        raise ValueError(text)
    return int(value)


# --------------------------------------------------------------- parameters shared by sections

D_K = Param("d_k", int, 64, 2, 65536, help="key dimension")
D_V = Param("d_v", int, 64, 1, 65536, help="value dimension (values on the unit sphere)")
N = Param("n", int, 64, 2, 10**6, help="stored CS-US pairs")
KEY_DIST = Param("key_dist", str, "sphere", choices=KEY_DISTS, help="key distribution")
SNR_MIN = Param("snr_min", float, 4.0, 1e-3, 1e6, help="required signal-to-noise ratio")
DELTA = Param("delta", float, 0.5, 1e-3, 10.0, help="noise power at which a retrieval fails (eq 36)")
EPSILON = Param("epsilon", float, 0.05, 1e-4, 0.5, help="tolerated probability that any item fails")
HOPS = Param("L", int, 3, 1, 256, help="number of stacked layers")
HEADS = Param("H", int, 2, 1, 16, help="heads per layer")
D_MODEL = Param("d_model", int, 64, 1, 65536, help="model width shared by the heads")
GAMMA = Param("gamma", float, 1.0, 0.0, 1.0, help="decay of eq 17 (1 = no decay, eq 8)", low_open=True)
BETA = Param("beta", float, 4.0, 0.0, 50.0, help="softmax inverse temperature")
