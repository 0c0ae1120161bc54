"""Shared test settings: the family-wise level of the Monte Carlo tests, GPU and slow-test skipping
(``--runslow`` runs the tests marked ``slow``), and a result cache of the tests' own (never the
working directory's).

Every Monte Carlo test is marked ``mc`` and uses ``mc_alpha``: the suite's family-wise level
``SUITE_FWER`` split evenly over the collected ``mc`` tests, so a run of the whole suite wrongly
fails a correct claim with probability at most ``SUITE_FWER``.
"""
from __future__ import annotations

import pytest
import torch

from pavlov_theory.claims import Context

SUITE_FWER = 1e-3


def pytest_addoption(parser):
    parser.addoption("--runslow", action="store_true", default=False, help="also run the tests marked slow")


def pytest_configure(config):
    config.addinivalue_line("markers", "mc: a Monte Carlo test sharing the suite's error budget")


def pytest_collection_modifyitems(config, items):
    config._mc_count = max(1, sum(1 for item in items if item.get_closest_marker("mc")))
    if not config.getoption("--runslow"):
        skip_slow = pytest.mark.skip(reason="slow (--runslow)")
        for item in items:
            if item.get_closest_marker("slow"):
                item.add_marker(skip_slow)
    if not torch.cuda.is_available():
        skip = pytest.mark.skip(reason="needs a CUDA device")
        for item in items:
            if item.get_closest_marker("gpu"):
                item.add_marker(skip)


@pytest.fixture(autouse=True)
def private_cache(tmp_path_factory, monkeypatch):
    """Every test caches into a directory of its own session, never into the repository, and
    runs ``verify`` in its own process unless it asks for workers (tests/test_distributed.py
    covers the cluster)."""
    monkeypatch.setenv("PAVLOV_CACHE", str(tmp_path_factory.getbasetemp() / "pavlov-cache"))
    monkeypatch.setenv("PAVLOV_WORKERS", "1")


@pytest.fixture
def mc_alpha(request) -> float:
    return SUITE_FWER / request.config._mc_count


@pytest.fixture
def ctx(mc_alpha) -> Context:
    """A ci-scale context on the CPU with this test's share of the error budget."""
    return Context(device="cpu", seed=0, alpha=mc_alpha, max_trials=100_000, scale="ci")
