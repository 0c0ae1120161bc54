"""Check a run's grid points on a Dask cluster (``dask.distributed``).

Each task is one ``(claim, point)`` check, run by :func:`pavlov_theory.ledger.check_point`, the
function of the serial loop, in the same context. Claims hold functions that do not pickle, so a
task ships the claim's id, the point and the context, and the worker looks the claim up in its
own registry. Every random stream is seeded from the run's seed, the claim, the point and the
batch (:func:`pavlov_theory.engine.draw`), never from the worker or the order of completion, so
the results are those of the serial loop; the caller puts them back in grid order.

A local cluster runs ``workers`` processes of one thread each, and torch in each uses one thread,
as the serial loop does, so that reductions sum in the same order; ``scheduler`` connects to a
running cluster instead (its workers need this package installed, at the same version: a result
computed from other code than the client's, by the hash of the section's sources, is refused).
Results come back as they finish; a task that raised comes back as one line naming the claim and
the point. Each section's checks prefer one home worker (:func:`home_workers`), so its derivations
are computed in one process rather than in every one; idle workers still take queued checks.
"""
from __future__ import annotations

import logging
import os
from typing import Any, Iterator, Mapping, Sequence

from .cache import code_hash
from .claims import Context, get_claim, section_of
from .device import PEAK_PER_BUDGET, processes_per_gpu
from .ledger import CheckError, check_point, point_text
from .params import ParamError

Task = tuple[int, str, Mapping[str, Any]]  # (grid index, claim id, point)
AUTO = "auto"


def usable_cores() -> int:
    """The CPU cores this process may run on (its affinity mask where the platform has one)."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # no affinity on this platform
        return os.cpu_count() or 1


def have_dask() -> bool:
    try:
        import dask.distributed  # noqa: F401
    except ImportError:
        return False
    return True


def local_workers(requested: int | str | None, points: int, device: str = "cpu") -> int:
    """How many local processes check ``points`` grid points on ``device``: ``requested`` itself, or
    for ``"auto"`` one per usable core, never more than the points, and 1 (the caller's own
    process, no cluster) where ``dask.distributed`` is not installed. On a GPU, no more than share
    its memory (:func:`pavlov_theory.device.processes_per_gpu`): ``"auto"`` stops there, and a
    larger number is refused."""
    if requested is None:
        return 1
    most = processes_per_gpu(device) if device.startswith("cuda") else None
    if requested != AUTO:
        if most is not None and int(requested) > most:
            raise ParamError(f"workers: expected 'auto' or an integer in [1, {most}] on {device} (processes "
                             f"sharing its memory, {PEAK_PER_BUDGET} chunk budgets each), got {requested}")
        return int(requested)
    count = max(1, min(usable_cores(), points)) if have_dask() else 1
    return count if most is None else min(count, most)


def check_registered(claim_id: str, point: Mapping[str, Any],
                     ctx: Context) -> tuple[dict[str, Any], float, str]:
    """On a worker: look ``claim_id`` up in the registry and check it at ``point`` (see
    :func:`pavlov_theory.ledger.check_point`); returns the outcome's JSON, the seconds taken and
    the hash of the section's code the worker ran (:func:`pavlov_theory.cache.code_hash`)."""
    code = code_hash(section_of(claim_id))
    return (*check_point(get_claim(claim_id), dict(point), ctx), code)


def single_thread() -> int:
    """On a worker: one torch thread, as every check of the serial loop has
    (:func:`pavlov_theory.ledger.one_thread`): a reduction split over another number of threads
    sums in another order, and the results would differ in their last bits. Returns the count."""
    import torch

    torch.set_num_threads(1)
    return torch.get_num_threads()


# Dask starts its workers with MALLOC_TRIM_THRESHOLD_=65536, which hands freed memory back to the
# system at once: a check that allocates and frees large tensors then faults every page in again,
# and at book scale the workers spent nearly as much time in the kernel as in the checks (43 s
# system for 53 s user on propagation.shared_heads with two workers). Local workers keep memory
# they freed, as a serial run does: large blocks come from the heap, which is trimmed only past
# 1 GiB free at its top.
WORKER_MALLOC: dict[str, int] = {"MALLOC_TRIM_THRESHOLD_": 2**30, "MALLOC_MMAP_THRESHOLD_": 2**25,
                                 "MALLOC_TOP_PAD_": 2**28}


def share_gpu(workers: int, device: str) -> float:
    """On a worker of a local cluster on one GPU: hold this process's caching allocator to its
    ``1/workers`` share of the GPU's memory (past it, the allocator frees its cached blocks before
    it asks for more, rather than keep what the other processes need). Returns the share."""
    import torch

    index = torch.device(device).index
    index = torch.cuda.current_device() if index is None else index
    torch.cuda.set_per_process_memory_fraction(1 / workers, index)
    return 1 / workers


def local_cluster(workers: int) -> Any:
    """A Dask LocalCluster of ``workers`` single-threaded processes on this machine, with the
    workers' memory settings of :data:`WORKER_MALLOC`. The nanny reads those settings from this
    process's environment before its configuration (and leaves its own there after starting a
    worker), so they are set here for the start and restored after."""
    import dask
    from dask.distributed import LocalCluster

    saved = {k: os.environ.get(k) for k in WORKER_MALLOC}
    os.environ.update({k: str(v) for k, v in WORKER_MALLOC.items()})
    try:
        settings = {f"distributed.nanny.pre-spawn-environ.{k}": v for k, v in WORKER_MALLOC.items()}
        with dask.config.set(settings):
            return LocalCluster(n_workers=workers, threads_per_worker=1, processes=True,
                                dashboard_address=":0", silence_logs=logging.ERROR)
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


def home_workers(tasks: Sequence[Task], addresses: Sequence[str]) -> dict[str, str]:
    """A home worker for each claim of ``tasks``: groups of checks, most points first, each to the
    worker with the fewest points so far. A group is a section (whose claims share derivations)
    where there are at least as many sections as workers, else a claim; where even the claims are
    fewer than the workers, or no worker is connected, no claim gets a home (an empty mapping).

    A worker derives each derivation its checks need once (they are cached in its process), so
    checks kept on one worker derive their section's derivations once, not once per worker. A home
    is a preference: idle workers still take (steal) queued checks from busy ones."""
    sections = {section_of(claim_id) for _, claim_id, _ in tasks}
    group = section_of if len(sections) >= len(addresses) else (lambda claim_id: claim_id)
    counts: dict[str, int] = {}
    for _, claim_id, _ in tasks:
        counts[group(claim_id)] = counts.get(group(claim_id), 0) + 1
    if not addresses or len(counts) < len(addresses):
        return {}
    load = {address: 0 for address in addresses}
    home = {}
    for name in sorted(counts, key=lambda g: (-counts[g], g)):
        address = min(load, key=lambda a: (load[a], a))
        home[name], load[address] = address, load[address] + counts[name]
    return {claim_id: home[group(claim_id)] for _, claim_id, _ in tasks}


def run_points(tasks: Sequence[Task], ctx: Context, bar: Any, workers: int | None = None,
               scheduler: str | None = None) -> Iterator[tuple[int, dict[str, Any], float]]:
    """Check ``tasks`` on a local cluster of ``workers`` processes or on the cluster whose
    scheduler is at ``scheduler``; yield ``(index, outcome JSON, seconds)`` as each finishes,
    naming the finished claim on the progress ``bar``. A failed task raises
    :class:`~pavlov_theory.ledger.CheckError` (the tasks already yielded are kept by the caller)."""
    try:
        from dask.distributed import Client, as_completed
    except ImportError:
        option = "workers" if scheduler is None else "scheduler"
        raise ParamError(f"{option}: needs dask.distributed (pip install 'pavlov-theory[dask]')") from None
    if not tasks:
        return
    cluster = local_cluster(workers or 1) if scheduler is None else None
    try:
        with Client(cluster if cluster is not None else scheduler) as client:
            client.run(single_thread)
            if cluster is not None and ctx.device.startswith("cuda"):
                client.run(share_gpu, workers or 1, ctx.device)
            home = home_workers(tasks, sorted(client.nthreads()))
            futures = {client.submit(check_registered, claim_id, dict(point), ctx, pure=False,
                                     **({"workers": [home[claim_id]], "allow_other_workers": True}
                                        if claim_id in home else {})):
                       (index, claim_id, point) for index, claim_id, point in tasks}
            for future in as_completed(futures):
                index, claim_id, point = futures[future]
                if future.status != "finished":
                    error = future.exception()
                    if isinstance(error, CheckError):
                        raise error
                    raise CheckError(f"{claim_id} at {point_text(point)}: {type(error).__name__}: {error}")
                result, took, code = future.result()
                if code != code_hash(section_of(claim_id)):  # else its result would be cached under our key
                    raise CheckError(f"{claim_id} at {point_text(point)}: the worker ran other code than "
                                     "this client (another version, or files edited during the run)")
                bar.set_postfix_str(claim_id)
                yield index, result, took
    finally:
        if cluster is not None:
            cluster.close()
