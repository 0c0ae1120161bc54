"""Grid points on a Dask cluster: the same ledger, value for value, as the serial loop; failures
named in one line; finished points cached as they come back."""
from dataclasses import replace

import pytest

from pavlov_theory import cache as cache_mod
from pavlov_theory import ledger
from pavlov_theory.claims import get_claim

distributed = pytest.importorskip("dask.distributed", reason="dask.distributed is not installed")

CHEAP = ("framework.selectivity", "capacity.designed_keys", "capacity.decoding", "rules.delta")



def differences(a, b, where=""):
    """Where two JSON values differ, as ``path: a != b`` lines (empty when they agree)."""
    if isinstance(a, dict) and isinstance(b, dict):
        return [d for k in sorted(set(a) | set(b)) for d in differences(a.get(k), b.get(k), f"{where}.{k}")]
    if isinstance(a, list) and isinstance(b, list) and len(a) == len(b):
        return [d for i, (x, y) in enumerate(zip(a, b)) for d in differences(x, y, f"{where}[{i}]")]
    return [] if a == b else [f"{where}: {a!r} != {b!r}"]


class NoBar:
    """Stands in for the progress bar."""

    def set_postfix_str(self, text):
        pass


def cheap_run(**spread):
    ctx = ledger.scale_context("ci", "cpu", 0)
    return ledger.run([get_claim(c) for c in CHEAP], "ci", ctx, progress=False, **spread)


@pytest.fixture(scope="module")
def cluster():
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                  dashboard_address=":0") as local:
        yield local


def test_a_two_worker_cluster_gives_the_serial_ledger_value_for_value(cluster, tmp_path):
    serial = cheap_run()
    spread = cheap_run(scheduler=cluster.scheduler_address, cache=cache_mod.Cache(tmp_path))
    assert differences(ledger.findings(spread), ledger.findings(serial)) == []
    assert len(list(tmp_path.rglob("*.json"))) == len(serial["results"])  # each cached as it came back


def test_a_local_cluster_of_workers_gives_the_serial_ledger():
    one = [get_claim("capacity.decoding")]
    ctx = ledger.scale_context("ci", "cpu", 0)
    serial = ledger.run(one, "ci", ctx, progress=False)
    spread = ledger.run(one, "ci", ctx, progress=False, workers=2)
    assert differences(ledger.findings(spread), ledger.findings(serial)) == []


def test_a_stress_run_on_a_cluster_reports_what_the_serial_one_does(cluster, monkeypatch):
    from pavlov_theory import api
    from pavlov_theory import distributed as spread_mod

    timeless = lambda report: {k: v for k, v in report.items() if k not in ("seconds", "wall_seconds")}
    serial = api.stress("ci", "capacity.decoding", 2, seed=5, device="cpu")
    sent = []
    run_points = spread_mod.run_points
    monkeypatch.setattr(spread_mod, "run_points", lambda tasks, *a, **k: sent.append(len(tasks)) or
                        run_points(tasks, *a, **k))
    spread = api.stress("ci", "capacity.decoding", 2, seed=5, device="cpu",
                        scheduler=cluster.scheduler_address)
    assert len(sent) == 2 and all(sent)  # each run's points went to the cluster
    assert differences(timeless(spread), timeless(serial)) == []


def test_auto_workers_use_one_process_per_core_and_never_more_than_the_points(monkeypatch):
    from pavlov_theory import distributed as spread

    monkeypatch.setattr(spread, "usable_cores", lambda: 4)
    assert [spread.local_workers("auto", points) for points in (0, 1, 3, 10)] == [1, 1, 3, 4]
    assert spread.local_workers(3, 10) == 3 and spread.local_workers(None, 10) == 1


def test_a_gpu_of_100_gib_holds_six_processes_of_four_4_gib_budgets(monkeypatch):
    from types import SimpleNamespace

    from pavlov_theory import device

    monkeypatch.setattr(device.torch.cuda, "get_device_properties",
                        lambda _: SimpleNamespace(total_memory=100 * 2**30))
    assert device.PEAK_PER_BUDGET * device.default_budget("cuda") == 16 * 2**30
    assert device.processes_per_gpu("cuda") == 6


def test_workers_on_a_gpu_stop_at_what_its_memory_holds(monkeypatch):
    from pavlov_theory import distributed as spread
    from pavlov_theory.params import ParamError

    monkeypatch.setattr(spread, "usable_cores", lambda: 16)
    monkeypatch.setattr(spread, "have_dask", lambda: True)
    monkeypatch.setattr(spread, "processes_per_gpu", lambda device: 3)
    assert spread.local_workers("auto", 100, "cuda") == 3 and spread.local_workers("auto", 2, "cuda") == 2
    assert spread.local_workers(3, 100, "cuda") == 3 and spread.local_workers(12, 100, "cpu") == 12
    with pytest.raises(ParamError, match=r"^workers: expected 'auto' or an integer in \[1, 3\] on cuda"):
        spread.local_workers(12, 100, "cuda")


def test_auto_workers_run_in_this_process_without_dask(monkeypatch):
    from pavlov_theory import distributed as spread

    monkeypatch.setattr(spread, "have_dask", lambda: False)
    assert spread.local_workers("auto", 10) == 1


def test_the_command_line_spreads_over_every_core_by_default(monkeypatch):
    from pavlov_theory import cli

    monkeypatch.delenv("PAVLOV_WORKERS", raising=False)
    assert cli.default_workers() == "auto"
    monkeypatch.setenv("PAVLOV_WORKERS", "3")
    assert cli.default_workers() == 3


def test_auto_workers_give_the_serial_ledger():
    one = [get_claim("capacity.decoding")]
    ctx = ledger.scale_context("ci", "cpu", 0)
    serial = ledger.run(one, "ci", ctx, progress=False)
    spread = ledger.run(one, "ci", ctx, progress=False, workers="auto")
    assert differences(ledger.findings(spread), ledger.findings(serial)) == []


def test_a_failed_task_comes_back_naming_the_claim_and_the_point(cluster):
    from pavlov_theory.distributed import run_points

    claim = get_claim("rules.delta")
    point = claim.points("ci")[0]
    ctx = replace(ledger.scale_context("ci", "cpu", 0), dtype="float16")  # no such dtype: the check raises

    with pytest.raises(ledger.CheckError) as caught:
        list(run_points([(0, claim.id, point)], ctx, NoBar(), scheduler=cluster.scheduler_address))
    message = str(caught.value)
    assert "\n" not in message and message.startswith(f"rules.delta at {ledger.point_text(point)}: KeyError")


def test_workers_compute_with_one_thread_as_the_serial_loop_does(cluster):
    from pavlov_theory.distributed import single_thread

    client = distributed.Client(cluster)
    try:
        threads = client.run(single_thread)
    finally:
        client.close()
    assert len(threads) == 2 and set(threads.values()) == {1}


def test_the_serial_loop_checks_with_one_thread_and_restores_the_count():
    import torch

    before = torch.get_num_threads()
    with ledger.one_thread():
        inside = torch.get_num_threads()
    assert inside == 1 and torch.get_num_threads() == before


def test_a_result_from_other_code_than_the_clients_is_refused(cluster, monkeypatch):
    from pavlov_theory import distributed as spread

    claim = get_claim("rules.delta")
    monkeypatch.setattr(spread, "code_hash", lambda section: "not the workers' code")  # the client side only

    ctx = ledger.scale_context("ci", "cpu", 0)
    with pytest.raises(ledger.CheckError, match="the worker ran other code than this client"):
        list(spread.run_points([(0, claim.id, claim.points("ci")[0])], ctx, NoBar(),
                               scheduler=cluster.scheduler_address))


class KillOnFirstResult:
    """A progress bar that kills every worker process of ``client`` when the first result is in."""

    def __init__(self, client):
        self.client, self.killed = client, False

    def __call__(self, *args, **kwargs):
        return self

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False

    def set_postfix_str(self, text):
        pass

    def update(self, *args):
        if not self.killed:
            import os
            import signal

            for pid in self.client.run(os.getpid).values():
                os.kill(pid, signal.SIGKILL)
            self.killed = True


def test_a_killed_worker_loses_no_finished_point_and_the_rerun_resumes_from_the_cache(tmp_path, monkeypatch):
    import dask

    claims = [get_claim(c) for c in ("rules.oja", *CHEAP)]
    ctx = ledger.scale_context("ci", "cpu", 0)
    serial = ledger.run(claims, "ci", ctx, progress=False)
    store = cache_mod.Cache(tmp_path)
    with dask.config.set({"distributed.scheduler.allowed-failures": 0}):
        with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                      dashboard_address=":0") as local, distributed.Client(local) as client:
            with monkeypatch.context() as patch:
                patch.setattr(ledger, "tqdm", KillOnFirstResult(client))
                try:
                    first = ledger.run(claims, "ci", ctx, progress=False, cache=store,
                                       scheduler=local.scheduler_address)
                except ledger.CheckError as error:  # a task that was running on a killed worker
                    assert "\n" not in str(error) and "KilledWorker" in str(error)
                    first = None
    finished = len(list(tmp_path.rglob("*.json")))
    assert finished >= 1  # the result that came back before the kill was stored at once
    again = ledger.run(claims, "ci", ctx, progress=False, cache=store)
    assert sum(r["cached"] for r in again["results"]) == finished  # every stored point read back
    assert differences(ledger.findings(again), ledger.findings(serial)) == []
    if first is not None:  # the cluster recovered on its own: its ledger is the serial one too
        assert differences(ledger.findings(first), ledger.findings(serial)) == []


def _malloc_environ():
    import os

    from pavlov_theory.distributed import WORKER_MALLOC

    return {k: os.environ.get(k) for k in WORKER_MALLOC}


def test_local_workers_keep_the_memory_they_free():
    """Dask's default trims the heap at 64 KiB, which made the workers fault every page in again."""
    from pavlov_theory.distributed import WORKER_MALLOC, local_cluster

    with local_cluster(1) as cluster, distributed.Client(cluster) as client:
        seen = list(client.run(_malloc_environ).values())
    assert seen == [{k: str(v) for k, v in WORKER_MALLOC.items()}]


def test_each_section_has_one_home_worker_and_the_points_are_balanced():
    from pavlov_theory.distributed import home_workers

    tasks = [(i, claim, {}) for i, claim in enumerate(["a.x"] * 5 + ["b.y"] * 3 + ["b.z"] + ["c.w"] * 4)]
    home = home_workers(tasks, ["w1", "w2"])
    # a (5 points) to w1, then b and c (4 each) to the lighter w2
    assert home == {"a.x": "w1", "b.y": "w2", "b.z": "w2", "c.w": "w2"}


def test_homes_are_claims_where_the_sections_are_fewer_than_the_workers():
    from pavlov_theory.distributed import home_workers

    tasks = [(0, "a.x", {}), (1, "a.x", {}), (2, "a.y", {}), (3, "b.z", {})]
    assert home_workers(tasks, ["w1", "w2", "w3"]) == {"a.x": "w1", "a.y": "w2", "b.z": "w3"}


def test_no_homes_where_the_claims_are_fewer_than_the_workers_or_none_is_connected():
    from pavlov_theory.distributed import home_workers

    tasks = [(0, "a.x", {}), (1, "b.y", {})]
    assert home_workers(tasks, ["w1", "w2", "w3"]) == {} and home_workers(tasks, []) == {}
