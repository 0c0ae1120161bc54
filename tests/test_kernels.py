"""Every Monte Carlo kernel against its naive reference, on the same samples (float64)."""
import pytest
import torch

from pavlov_theory.claims import section_modules
from pavlov_theory.sampling import generator
from pavlov_theory.testing import assert_close

KERNELS = {k.name: k for module in section_modules() for k in getattr(module, "KERNELS", ())}


def test_every_section_declares_its_kernels():
    assert KERNELS and all(hasattr(m, "KERNELS") for m in section_modules())


@pytest.mark.parametrize("name", KERNELS)
def test_kernel_matches_its_naive_reference(name):
    kernel = KERNELS[name]
    got = kernel.fn(kernel.example, 3, generator(7, "cpu"), torch.float64)
    ref = kernel.naive(kernel.example, 3, generator(7, "cpu"), torch.float64)
    assert len(got) == len(ref)
    for index, (a, b) in enumerate(zip(ref, got)):
        assert_close(f"{name}[{index}]", a, b, 1e-9)
