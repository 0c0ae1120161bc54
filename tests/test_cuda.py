"""The cuda path against the cpu, on a GPU only (skipped without one): every claim at ci scale
reaches the same verdict on both devices, and their intervals meet (the draws differ: the two
devices' generators give other numbers for the same seed)."""
import pytest

from pavlov_theory import api, distributed, ledger

pytestmark = pytest.mark.gpu


@pytest.fixture(scope="module")
def ci_ledgers(tmp_path_factory):
    cpu_workers = "auto" if distributed.have_dask() else None
    cuda = api.verify("ci", device="cuda").data
    cpu = api.verify("ci", device="cpu", workers=cpu_workers).data
    base = tmp_path_factory.getbasetemp()
    ledger.write(cuda, base / "ledger-ci-cuda.json")
    ledger.write(cpu, base / "ledger-ci-cpu.json")
    return cpu, cuda


def test_the_cuda_ledger_ran_on_cuda(ci_ledgers):
    _, cuda = ci_ledgers
    assert cuda["device"].startswith("cuda")
    assert {r["device"] for r in cuda["results"]} == {cuda["device"]}


def test_cpu_and_cuda_agree_at_ci(ci_ledgers):
    assert ledger.disagreements(*ci_ledgers) == []

