"""An on-disk cache of checked points, so a rerun recomputes only what changed.

One JSON file per checked point, under ``<cache dir>/<claim id>/<key>.json``. The key is the
sha256 of everything the point's outcome depends on:

- the claim id and its parameter point (sorted);
- the run's seed, scale, device (with the GPU's name on cuda, the machine type on cpu), dtype,
  the error level granted to the check (it changes with the grid size and ``fwer``), the trial
  cap, the memory budget (it sets the chunks, and chunks are seeded) and any power probe;
- the code: a hash of the source of the claim's simulation module and of every project module
  it imports, directly or through others (its proofs module, the engine, the judges, the
  statistics, the parameters, the sampling and device modules, ...). The closure is read from
  the modules' ``import`` statements, so editing one section's files recomputes that section
  only, and editing an engine module every section that imports it;
- the versions of torch, numpy, scipy and sympy.

The directory is ``$PAVLOV_CACHE`` or ``.pavlov-cache`` in the working directory; it holds its own
``.gitignore``. Files are written atomically (a temporary file, then ``os.replace``). A file that
cannot be read, or whose stored key does not match, is reported in one line on stderr and
recomputed. Deleting the directory empties the cache.
"""
from __future__ import annotations

import ast
import functools
import hashlib
import importlib.util
import json
import os
import platform
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Mapping

import numpy
import scipy
import sympy
import torch

from .claims import Context, section_of

FORMAT = 1  # bump when the layout of a cache file changes
PACKAGE = "pavlov_theory"
DEFAULT_DIR = ".pavlov-cache"


def default_dir() -> Path:
    """``$PAVLOV_CACHE`` if set, else ``.pavlov-cache`` in the working directory."""
    return Path(os.environ.get("PAVLOV_CACHE") or DEFAULT_DIR)


def _source(module: str) -> Path | None:
    """The source file of a project module, or ``None`` when it is not one (or is missing)."""
    try:
        spec = importlib.util.find_spec(module)
    except (ImportError, ValueError):
        return None
    if spec is None or spec.origin is None or not spec.origin.endswith(".py"):
        return None
    return Path(spec.origin)


def _imports(module: str, path: Path) -> set[str]:
    """Project modules named by the ``import`` statements of ``module`` (source at ``path``)."""
    tree = ast.parse(path.read_text(), str(path))
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parent = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join(parent + ([base] if base else []))
            for alias in node.names:  # `from pkg import mod` names a module when there is one
                candidate = f"{base}.{alias.name}"
                found.add(candidate if _source(candidate) is not None else base)
    return {name for name in found if name == PACKAGE or name.startswith(PACKAGE + ".")}


def dependencies(module: str) -> dict[str, Path]:
    """``module`` and every project module it imports, directly or indirectly, with their
    source files. Package ``__init__`` files count only where a module imports the package."""
    seen: dict[str, Path] = {}
    todo = [module]
    while todo:
        name = todo.pop()
        path = _source(name)
        if name in seen or path is None:
            continue
        seen[name] = path
        todo.extend(_imports(name, path) - set(seen))
    return dict(sorted(seen.items()))


def source_hash(sources: Mapping[str, Path]) -> str:
    """sha256 (hex) over the module names and the bytes of their source files."""
    digest = hashlib.sha256()
    for name, path in sorted(sources.items()):
        digest.update(f"{name}\n".encode() + hashlib.sha256(path.read_bytes()).digest())
    return digest.hexdigest()


@functools.lru_cache(maxsize=None)
def code_hash(section: str) -> str:
    """The :func:`source_hash` of the section's simulation module and its project imports
    (computed once per process: edits made during a run are not seen)."""
    return source_hash(dependencies(f"{PACKAGE}.simulations.{section}"))


def device_label(device: str) -> str:
    """The device as the key records it: the GPU's name on cuda, the machine type on cpu."""
    if device.startswith("cuda"):
        return f"{device} ({torch.cuda.get_device_name(torch.device(device))})"
    return f"cpu ({platform.machine()})"


def key_fields(claim_id: str, params: Mapping[str, Any], ctx: Context) -> dict[str, Any]:
    """Everything a checked point's outcome depends on (the cache key is their hash)."""
    return {
        "format": FORMAT, "claim": claim_id, "params": sorted(params.items()), "seed": ctx.seed,
        "scale": ctx.scale, "device": device_label(ctx.device), "dtype": ctx.dtype, "alpha": ctx.alpha,
        "max_trials": ctx.max_trials, "memory_budget": ctx.memory_budget,
        "probe": list(ctx.probe) if ctx.probe else None, "code": code_hash(section_of(claim_id)),
        "versions": {"torch": torch.__version__, "numpy": numpy.__version__, "scipy": scipy.__version__,
                     "sympy": sympy.__version__},
    }


def key_of(fields: Mapping[str, Any]) -> str:
    """The sha256 (hex) of ``fields`` written as canonical JSON (floats in full precision)."""
    text = json.dumps(fields, sort_keys=True, separators=(",", ":"), default=repr)
    return hashlib.sha256(text.encode()).hexdigest()


@dataclass(frozen=True)
class Entry:
    """A cached point: the outcome's JSON as the ledger lists it, and the seconds it took when
    it was computed."""

    result: dict[str, Any]
    seconds: float


def warn(message: str) -> None:
    """One line on stderr."""
    print(f"pavlov-theory: warning: {message}", file=sys.stderr)


@dataclass(frozen=True)
class Cache:
    """The cache directory ``root`` (created on the first write)."""

    root: Path

    def path(self, claim_id: str, key: str) -> Path:
        return self.root / claim_id / f"{key}.json"

    def get(self, claim_id: str, params: Mapping[str, Any], ctx: Context) -> Entry | None:
        """The cached outcome of ``claim_id`` at ``params`` under ``ctx``, or ``None`` (missing,
        or unreadable: then a one-line warning, and the caller recomputes and overwrites)."""
        key = key_of(key_fields(claim_id, params, ctx))
        path = self.path(claim_id, key)
        if not path.exists():
            return None
        try:
            data = json.loads(path.read_text())
            if data["key"] != key or data["result"]["claim"] != claim_id:
                raise ValueError("stored key does not match its name")
            return Entry(dict(data["result"]), float(data["seconds"]))
        except (OSError, ValueError, KeyError, TypeError) as error:
            warn(f"ignoring unreadable cache file {path} ({type(error).__name__}: {error}); recomputing")
            return None

    def put(self, claim_id: str, params: Mapping[str, Any], ctx: Context, result: Mapping[str, Any],
            seconds: float) -> Path:
        """Store a computed outcome (its JSON) atomically; returns the file written."""
        fields = key_fields(claim_id, params, ctx)
        key = key_of(fields)
        path = self.path(claim_id, key)
        path.parent.mkdir(parents=True, exist_ok=True)
        ignore = self.root / ".gitignore"
        if not ignore.exists():
            write_atomic(ignore, "# the verifier's cache of checked points: never committed\n*\n")
        text = json.dumps({"key": key, "fields": fields, "seconds": seconds, "result": result},
                          indent=1, default=repr)
        write_atomic(path, text)
        return path


def write_atomic(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` so that a reader sees the old file or the whole new one."""
    handle, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(handle, "w") as out:
            out.write(text)
        os.chmod(tmp, 0o644)  # mkstemp makes the file private; a cache file is an ordinary one
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def open_cache(where: str | Path | bool | None) -> Cache | None:
    """``None`` or ``False``: no cache; ``True``: the default directory; a path: that directory."""
    if where is None or where is False:
        return None
    return Cache(default_dir() if where is True else Path(where))
