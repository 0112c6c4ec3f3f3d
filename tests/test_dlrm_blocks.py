"""DLRM blocks (fuserec/models/dlrm/blocks.py) on fixed seeds, against manual computations."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

from fuserec.models.dlrm.blocks import (DenseArch, FrozenProjection, InteractionArch, OverArch, ReductionModule,
                                        SparseArch, fit_pca)


pytestmark = pytest.mark.usefixtures("one_torch_thread")


def test_interaction_arch_matches_manual_pairs():
    torch.manual_seed(0)
    b, f_s, d = 4, 3, 5
    dense = torch.randn(b, d)
    sparse = torch.randn(b, f_s, d)
    out = InteractionArch(f_s)(dense, sparse)
    assert out.shape == (b, d + (f_s + 1) * f_s // 2)
    vectors = [dense] + [sparse[:, k] for k in range(f_s)]
    manual = [dense]
    for a in range(f_s + 1):
        for c in range(a + 1, f_s + 1):
            manual.append((vectors[a] * vectors[c]).sum(-1, keepdim=True))
    torch.testing.assert_close(out, torch.cat(manual, dim=1))


def test_interaction_arch_without_sparse_features_is_the_dense_vector():
    dense = torch.randn(2, 3)
    assert torch.equal(InteractionArch(0)(dense, torch.zeros(2, 0, 3)), dense)


@pytest.mark.parametrize("pooling", ["sum", "mean"])
def test_sparse_arch_pools_bags_like_a_manual_reduction(pooling):
    torch.manual_seed(1)
    arch = SparseArch([10, 4], dim=3, pooling=pooling)
    # field 0: bags [1, 2, 2], [7]; field 1: bags [3], [0, 1]
    f0 = (torch.tensor([1, 2, 2, 7]), torch.tensor([0, 3]))
    f1 = (torch.tensor([3, 0, 1]), torch.tensor([0, 1]))
    out = arch([f0, f1])
    assert out.shape == (2, 2, 3)
    w0, w1 = arch.table(0), arch.table(1)
    assert w0.shape == (10, 3) and w1.shape == (4, 3)
    torch.testing.assert_close(arch.lookup(1, *f1), out[:, 1])
    reduce = (lambda x: x.sum(0)) if pooling == "sum" else (lambda x: x.mean(0))
    torch.testing.assert_close(out[0, 0], reduce(w0[[1, 2, 2]]))
    torch.testing.assert_close(out[1, 0], reduce(w0[[7]]))
    torch.testing.assert_close(out[0, 1], reduce(w1[[3]]))
    torch.testing.assert_close(out[1, 1], reduce(w1[[0, 1]]))


def test_sparse_arch_init_and_sparse_gradients():
    torch.manual_seed(2)
    arch = SparseArch([100, 5], dim=4, sparse=True)
    assert arch.table(0).abs().max() <= 0.1 + 1e-6                  # uniform(±sqrt(1/n)), n = 100
    assert arch.table(1).abs().max() > 0.1                           # n = 5: bound sqrt(1/5)
    out = arch([(torch.tensor([3, 4]), torch.tensor([0, 1])), (torch.tensor([1, 2]), torch.tensor([0, 1]))])
    out.sum().backward()
    grad = arch.bag.weight.grad
    assert grad.is_sparse                                            # one sparse gradient for all tables
    assert sorted(grad.coalesce().indices()[0].tolist()) == [3, 4, 101, 102]
    with pytest.raises(ValueError, match="expected 2 sparse fields"):
        arch([(torch.tensor([1]), torch.tensor([0]))])


def test_dense_and_over_arch_shapes_and_layers():
    torch.manual_seed(3)
    dense = DenseArch(7, [16, 8])
    assert dense(torch.randn(5, 7)).shape == (5, 8)
    assert (dense(torch.randn(5, 7)) >= 0).all()                     # ReLU after the last layer (TorchRec)
    over = OverArch(11, [16, 4, 1], dropout=0.1)
    assert over(torch.randn(5, 11)).shape == (5,)
    assert isinstance(over.model[-1], nn.Linear)                     # logits: no activation at the end
    assert (over.eval()(torch.randn(200, 11)) < 0).any()
    with pytest.raises(ValueError, match="one unit"):
        OverArch(11, [16, 2])


def test_reduction_module_shapes_and_structure():
    torch.manual_seed(4)
    mlp = ReductionModule(384, 32, hidden=128, dropout=0.1)
    assert [type(m) for m in mlp.net] == [nn.LayerNorm, nn.Linear, nn.GELU, nn.Dropout, nn.Linear]
    assert mlp.net[1].weight.shape == (128, 384) and mlp.net[4].weight.shape == (32, 128)
    assert mlp(torch.randn(6, 384)).shape == (6, 32)
    lin = ReductionModule(384, 16, kind="linear")
    x = torch.randn(6, 384)
    torch.testing.assert_close(lin(x), x @ lin.net[0].weight.T + lin.net[0].bias)
    with pytest.raises(ValueError):
        ReductionModule(4, 2, kind="pca")


def test_fit_pca_matches_a_numpy_eigendecomposition():
    rng = np.random.default_rng(5)
    x = rng.normal(size=(200, 12)) @ rng.normal(size=(12, 12))
    proj = fit_pca(torch.from_numpy(x).float(), 4)
    assert isinstance(proj, FrozenProjection) and proj.components.shape == (12, 4)
    cov = np.cov(x - x.mean(0), rowvar=False)
    evals, evecs = np.linalg.eigh(cov)
    top = evecs[:, ::-1][:, :4]
    got = proj.components.numpy()
    for k in range(4):                                               # same axes up to sign
        assert abs(abs(float(got[:, k] @ top[:, k])) - 1) < 1e-4
        assert got[np.argmax(np.abs(got[:, k])), k] > 0              # deterministic sign
    z = proj(torch.from_numpy(x).float()).numpy()
    np.testing.assert_allclose(z.var(0, ddof=1), evals[::-1][:4], rtol=1e-3)
    white = fit_pca(torch.from_numpy(x).float(), 4, whiten=True)(torch.from_numpy(x).float()).numpy()
    np.testing.assert_allclose(white.var(0, ddof=1), np.ones(4), rtol=1e-3)
    assert not any(p.requires_grad for p in proj.parameters()) and len(list(proj.parameters())) == 0
    with pytest.raises(ValueError, match="components"):
        fit_pca(torch.randn(3, 12), 4)
