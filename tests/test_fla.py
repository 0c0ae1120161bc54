"""The memory updates against flash-linear-attention's pure-torch reference kernels (fla-core).

Each test runs the project's form in float64 and fla's reference on the same inputs. Most fla
references cast to float32 inside, so their outputs carry float32 rounding: the tolerance is the
rounding allowance of the framework's equivalence check, ``4 (T + d_k + d_v)`` machine epsilons
(Higham: a sum of ``m`` terms is within ``m u`` of exact, relative to its terms), with the epsilon
of the precision fla computes in (float32, about 1.2e-7; float64 for the two references that keep
it). Negative controls show that a wrong convention (fla's default query scale, another decay) is
far outside it.
"""
import sys

import pytest
import torch

from pavlov_theory import fla, memory
from pavlov_theory.testing import assert_close

if fla.missing_reason() is not None:
    pytest.skip(fla.missing_reason(), allow_module_level=True)

# T crosses several chunks of every chunked reference (16 here, 32 and 64 in fla) and is a
# multiple of none of them, so the padding is exercised
B, T, D_K, D_V = 2, 100, 16, 8
GAMMA = 0.9  # the decay of eq 17 (retention) and of the gated delta rule
ALPHA = 0.7  # the delta rule's write strength (fla's beta)


def tolerance(dtype: torch.dtype) -> float:
    return 4 * (T + D_K + D_V) * torch.finfo(dtype).eps


def inputs(seed: int = 0, unit_keys: bool = False):
    """float32 draws of q, k, v of shapes (B, T, d_k), (B, T, d_k), (B, T, d_v)."""
    gen = torch.Generator().manual_seed(seed)
    q, k, v = (torch.randn(B, T, d, generator=gen) for d in (D_K, D_K, D_V))
    if unit_keys:
        k = torch.nn.functional.normalize(k, dim=-1)
    return q, k, v


def project(form, *xs, **kw):
    """The project's form in float64 on the same inputs."""
    return form(*(x.double() for x in xs), **kw)


@pytest.mark.parametrize("form", [memory.parallel_form, memory.recurrent_form, memory.chunked_form],
                         ids=["parallel", "recurrent", "chunked"])
def test_hebbian_memory_is_fla_linear_attention(form):
    q, k, v = inputs()
    got = fla.linear_attention(q, k, v, form="recurrent")
    assert got.shape == (B, T, D_V)
    assert_close("eq 8 vs naive_recurrent_linear_attn", project(form, q, k, v), got, tolerance(torch.float32))


def test_hebbian_memory_is_fla_chunked_linear_attention_in_float64():
    q, k, v = (x.double() for x in inputs())
    got = fla.linear_attention(q, k, v, form="chunk")
    assert got.dtype == torch.float64
    assert_close("eq 8 vs naive_chunk_linear_attn", memory.recurrent_form(q, k, v), got,
                 tolerance(torch.float64))


@pytest.mark.parametrize("fla_form", ["recurrent", "chunk", "parallel"])
@pytest.mark.parametrize("form", [memory.parallel_form, memory.recurrent_form, memory.chunked_form],
                         ids=["parallel", "recurrent", "chunked"])
def test_decayed_memory_is_fla_simple_gla_with_log_gamma_gate(form, fla_form):
    q, k, v = inputs(1)
    got = fla.simple_gla(q, k, v, GAMMA, form=fla_form)
    assert_close(f"eq 17 vs simple_gla {fla_form}", project(form, q, k, v, gamma=GAMMA), got,
                 tolerance(torch.float32))


@pytest.mark.parametrize("head", [0, 3])
def test_decayed_memory_is_fla_retention_at_the_heads_decay(head):
    q, k, v = inputs(2)
    gamma = fla.retention_gamma(head)
    assert_close(f"eq 17 vs naive_retention head {head}", project(memory.parallel_form, q, k, v, gamma=gamma),
                 fla.retention(q, k, v, head=head), tolerance(torch.float32))


@pytest.mark.parametrize("alpha", [ALPHA, 1.0])
@pytest.mark.parametrize("form", [memory.delta_recurrent, memory.delta_naive], ids=["recurrent", "naive"])
def test_delta_rule_is_fla_delta_rule_recurrence(form, alpha):
    q, k, v = inputs(3, unit_keys=True)
    got = fla.delta_rule(q, k, v, alpha, form="recurrent")
    assert_close("eq 22 vs delta_rule_recurrence", project(form, q, k, v, alpha=alpha), got,
                 tolerance(torch.float32))


def test_delta_rule_is_fla_delta_rule_chunkwise_in_float64():
    q, k, v = (x.double() for x in inputs(4, unit_keys=True))
    got = fla.delta_rule(q, k, v, ALPHA, form="chunk")
    assert got.dtype == torch.float64
    assert_close("eq 22 vs delta_rule_chunkwise", memory.delta_recurrent(q, k, v, alpha=ALPHA), got,
                 tolerance(torch.float64))


def test_delta_rule_agrees_without_key_normalisation():
    # neither side normalises keys: raw Gaussian keys (|k|^2 about d_k) with alpha |k|^2 well below 2
    q, k, v = inputs(5)
    alpha = 0.5 / D_K
    assert_close("eq 22 vs delta_rule_recurrence, raw keys",
                 project(memory.delta_recurrent, q, k, v, alpha=alpha), fla.delta_rule(q, k, v, alpha),
                 tolerance(torch.float32))


@pytest.mark.parametrize("fla_form", ["recurrent", "chunk"])
@pytest.mark.parametrize("form", [memory.delta_recurrent, memory.delta_naive], ids=["recurrent", "naive"])
def test_decayed_delta_rule_is_fla_gated_delta_rule(form, fla_form):
    q, k, v = inputs(6, unit_keys=True)
    got = fla.gated_delta_rule(q, k, v, ALPHA, GAMMA, form=fla_form)
    assert_close(f"eq 17 + eq 22 vs gated_delta_rule {fla_form}",
                 project(form, q, k, v, alpha=ALPHA, gamma=GAMMA), got, tolerance(torch.float32))


def test_fla_gated_delta_rule_without_decay_is_its_delta_rule():
    q, k, v = inputs(7, unit_keys=True)
    alpha = torch.rand(B, T, generator=torch.Generator().manual_seed(7))  # per-step write strengths
    assert_close("gated_delta_rule(g = 0) vs delta_rule_recurrence", fla.delta_rule(q, k, v, alpha),
                 fla.gated_delta_rule(q, k, v, alpha, 1.0), tolerance(torch.float32))


def test_default_query_scale_is_caught():
    q, k, v = inputs()
    o, _ = fla._function("linear_attention", "recurrent")(
        q=q.unsqueeze(2), k=k.unsqueeze(2), v=v.unsqueeze(2))  # scale left at fla's default K**-0.5
    with pytest.raises(AssertionError, match="relative deviation"):
        assert_close("eq 8 vs fla with its default scale", project(memory.recurrent_form, q, k, v),
                     o.squeeze(2), tolerance(torch.float32))


def test_another_heads_decay_is_caught():
    q, k, v = inputs(2)
    with pytest.raises(AssertionError, match="relative deviation"):
        assert_close("eq 17 vs naive_retention, wrong head",
                     project(memory.parallel_form, q, k, v, gamma=fla.retention_gamma(0)),
                     fla.retention(q, k, v, head=1), tolerance(torch.float32))


def test_references_load_without_importing_fla_ops():
    fla.linear_attention(*inputs())
    assert "fla.ops" not in sys.modules
