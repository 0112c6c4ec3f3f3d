"""The faster paths of issue 15 compute what the straightforward ones computed.

Each test runs the new code and a copy of the previous computation (kept here as the reference)
on fixed seeds and compares the loss values and the gradients of every parameter. Tolerance:
float32 summation-order differences only (rtol 1e-5 on losses, 1e-4 relative / 1e-7 absolute on
gradients).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import torch

from fuserec.config import from_dict
from fuserec.data.dataset import build_dataset
from fuserec.losses import info_nce_candidates, info_nce_shared
from fuserec.models import get_model
from fuserec.tensor_ops import gather_rows
from helpers import make_model


def random_dataset(n_users=120, n_items=150, per_user=12, seed=0):
    rng = np.random.default_rng(seed)
    rows = [(f"u{u}", f"i{i}", "train") for u in range(n_users)
            for i in rng.choice(n_items, rng.integers(2, per_user), replace=False)]
    return build_dataset("rand", pd.DataFrame(rows, columns=["user", "item", "split"]), source="<rand>",
                         item_universe=[f"i{i}" for i in range(n_items)])


def bpr_batch(ds, size=400, seed=1):
    g = torch.Generator().manual_seed(seed)
    train = ds.csr("train").tocoo()
    pick = torch.randint(0, train.nnz, (size,), generator=g)
    return {"users": torch.from_numpy(train.row.astype(np.int64))[pick],
            "pos": torch.from_numpy(train.col.astype(np.int64))[pick],
            "neg": torch.randint(0, ds.n_items, (size,), generator=g)}


def build(name, ds, **cfg):
    cls = get_model(name)
    torch.manual_seed(0)
    model = make_model(cls, ds, from_dict(cls.Config, cfg, prefix="model"))
    model.train()
    return model


def loss_and_grads(model, batch, seed=7):
    """Loss terms and parameter gradients of one loss evaluation at a fixed RNG state."""
    model.zero_grad(set_to_none=True)
    torch.manual_seed(seed)
    terms = model.loss(batch)
    terms["loss"].backward()
    grads = {n: p.grad.clone() for n, p in model.named_parameters() if p.grad is not None}
    return {k: v.detach().clone() for k, v in terms.items()}, grads


def assert_same(a, b):
    (ta, ga), (tb, gb) = a, b
    assert ta.keys() == tb.keys() and ga.keys() == gb.keys()
    for k in ta:
        torch.testing.assert_close(ta[k], tb[k], rtol=1e-5, atol=1e-8, msg=f"term {k}")
    for k in ga:
        torch.testing.assert_close(ga[k], gb[k], rtol=1e-4, atol=1e-7, msg=f"gradient of {k}")


def per_row_align(self, anchors, targets, nodes, temperature):
    """The previous :meth:`RLMRecCon.align`: every batch row's InfoNCE, duplicates included."""
    total = anchors.new_zeros(())
    for g in range(3):
        positives = targets[nodes.loc[g]]
        if nodes.full:
            candidates = targets[:self.n_users] if g == 0 else positives
            loss = info_nce_candidates(anchors[g], positives, candidates, temperature,
                                       chunk_size=self.cfg.chunk_size)
        else:
            cand = nodes.candidates[g]
            inside = torch.isin(nodes.loc[g], cand)
            loss = info_nce_shared(anchors[g], positives, targets[cand], inside, temperature)
        total = total + loss
    return total


TEXT = {"profile_source": "random:24", "intent_source": "random:20", "align_gate_norm": 0.0}


@pytest.mark.parametrize("name,cfg", [
    ("rlmrec_con", {"profile_source": "random:24", "align_gate_norm": 0.0, "n_negatives": 40}),
    ("irllrec", {**TEXT, "n_negatives": 40}),                 # candidates sampled from the batch
    ("irllrec", {**TEXT, "negatives": "sampled", "n_negatives": 30}),
    ("irllrec", {**TEXT, "n_negatives": 1000}),               # every batch node a candidate
])
def test_align_once_per_distinct_node_equals_per_row(name, cfg):
    ds = random_dataset()
    batch = bpr_batch(ds)
    assert len(batch["users"].unique()) < len(batch["users"])    # duplicates: the case that changed
    model = build(name, ds, dim=8, **cfg)
    new = loss_and_grads(model, batch)
    model.align = per_row_align.__get__(model)
    old = loss_and_grads(model, batch)
    assert_same(new, old)
    assert new[0]["kd"] > 0


# ---------------------------------------------------------------------- DLRM: optimiser fused into the backward
def _dlrm_pair_step(fused: str | None, kind: str, pooling: str, steps: int = 4, seed: int = 0):
    """A small DLRM (blocks) trained ``steps`` steps; the tables by the fused optimiser or by
    torch's optimiser on sparse gradients. Returns the final parameters."""
    from fuserec.models.dlrm.blocks import DenseArch, InteractionArch, OverArch, SparseArch

    torch.manual_seed(seed)
    rows = [50, 7, 30]
    sparse = SparseArch(rows, 4, pooling, sparse=fused is None, fused_optimizer=fused, fused_lr=0.05)
    dense, inter = DenseArch(3, [8, 4]), InteractionArch(3)
    over = OverArch(4 + inter.output_pairs, [6, 1])
    mlps = [p for m in (dense, over) for p in m.parameters()]
    opt_cls = torch.optim.Adagrad if kind == "adagrad" else torch.optim.SGD
    outer = opt_cls(mlps if fused else mlps + list(sparse.parameters()), lr=0.05)
    g = torch.Generator().manual_seed(seed + 1)
    for _ in range(steps):
        batch = 16
        feats = []
        for n in rows:                                           # bags of 0-3 ids, repeats included
            lengths = torch.randint(0, 4, (batch,), generator=g)
            values = torch.randint(0, n, (int(lengths.sum()),), generator=g)
            offsets = torch.cat([torch.zeros(1, dtype=torch.int64), lengths.cumsum(0)[:-1]])
            feats.append((values, offsets))
        x, y = torch.randn(batch, 3, generator=g), (torch.rand(batch, generator=g) < 0.3).float()
        logits = over(inter(dense(x), sparse(feats)))
        loss = torch.nn.functional.binary_cross_entropy_with_logits(logits, y)
        outer.zero_grad(set_to_none=True)
        loss.backward()
        outer.step()
        if fused:
            assert sparse.bag.weight.grad is None                # no table gradient materialised
    return {"table": sparse.bag.weight.detach().clone(), **{f"mlp{i}": p.detach().clone() for i, p in enumerate(mlps)}}


@pytest.mark.parametrize("kind", ["adagrad", "sgd"])
@pytest.mark.parametrize("pooling", ["sum", "mean"])
def test_fused_table_optimizer_equals_torch_optimizer_on_sparse_gradients(kind, pooling):
    fused = _dlrm_pair_step(kind, kind, pooling)
    plain = _dlrm_pair_step(None, kind, pooling)
    start = _dlrm_pair_step(None, kind, pooling, steps=0)
    assert not torch.equal(fused["table"], start["table"])       # the tables did train
    for name in plain:
        torch.testing.assert_close(fused[name], plain[name], rtol=1e-5, atol=1e-6, msg=name)


def test_fused_table_optimizer_leaves_inference_and_untouched_rows_alone():
    from fuserec.models.dlrm.blocks import SparseArch

    torch.manual_seed(0)
    arch = SparseArch([10, 10], 3, fused_optimizer="adagrad", fused_lr=0.1)
    before = arch.bag.weight.detach().clone()
    feats = [(torch.tensor([1, 1, 4]), torch.tensor([0, 2])), (torch.tensor([0]), torch.tensor([0, 1]))]
    with torch.no_grad():
        plain = SparseArch.forward(arch, feats)
    out = arch(feats)
    torch.testing.assert_close(out, plain)
    out.sum().backward()
    changed = (arch.bag.weight.detach() != before).any(1).nonzero().squeeze(1).tolist()
    assert changed == [1, 4, 10]                                 # rows 1 and 4 of field 0, row 0 of field 1
    assert arch.fused.state_sum[[1, 4, 10]].gt(0).all() and arch.fused.state_sum.sum(1).gt(0).sum() == 3


# ---------------------------------------------------------------------- IRLLRec: the intent tower on the batch's rows
def full_tower_text_terms(self, batch, out):
    """The previous :meth:`IRLLRec.text_terms` intent part: r over all N nodes, then indexed."""
    from fuserec.models.irllrec import IRLLRec

    cfg = self.cfg
    nodes = self.batch_nodes(batch)
    terms = {}
    if cfg.use_kd:
        terms["kd"] = cfg.kd_weight * self.kd_term(out, nodes)
    intent_rows = self.rows(self._on_device("intent", out.final.device), nodes)
    z = self.intent_proj(intent_rows)
    r = self.intent_tower(out.layers) if self.intent_tower is not None else out.final     # (N, d)
    if cfg.use_pair:
        terms["pair"] = cfg.pair_weight * self.align(r[nodes.groups], z, nodes, cfg.pair_temperature)
    if cfg.use_trans:
        target = out.final if cfg.trans_target == "e" else r
        w = cfg.trans_weight + (cfg.itm_weight * cfg.itm_mix_trans if cfg.use_itm else 0.0)
        terms["trans"] = w * self.trans_term(z, self.rows(target, nodes), nodes)
    if cfg.use_itm:
        terms["itm"] = cfg.itm_weight * cfg.itm_mix_itm * self.itm_term(z, intent_rows, nodes)
    assert isinstance(self, IRLLRec)
    return terms


@pytest.mark.parametrize("cfg", [
    {**TEXT, "n_negatives": 40},
    {**TEXT, "n_negatives": 40, "trans_target": "r", "pair_weight": 1.0},
    {**TEXT, "n_negatives": 40, "layers": 1, "aggregation": "mean"},
])
def test_intent_tower_on_the_batch_rows_equals_the_full_tower(cfg):
    ds = random_dataset()
    batch = bpr_batch(ds, size=150)                 # a batch that leaves many nodes out
    model = build("irllrec", ds, dim=8, **cfg)
    new = loss_and_grads(model, batch)
    model.text_terms = full_tower_text_terms.__get__(model)
    old = loss_and_grads(model, batch)
    assert_same(new, old)
    assert new[1]["intent_tower.user_protos"].abs().sum() > 0     # the tower gets gradients


def test_row_pattern_matches_the_full_pattern_rows():
    from fuserec.graph.adjacency import SparsePattern, bipartite_adjacency

    ds = random_dataset(n_users=10, n_items=12, per_user=5)
    pattern = SparsePattern(bipartite_adjacency(ds.csr("train")))
    rows = torch.tensor([0, 3, 4, 11, 20, 21])
    sub = pattern.restrict(rows)
    x = torch.randn(pattern.n_nodes, 2, dtype=torch.float64, requires_grad=True)
    v_full = torch.rand(pattern.n_edges, dtype=torch.float64)
    mask = torch.isin(pattern.heads, rows)
    v = v_full[mask].clone().requires_grad_(True)    # the rows' edges, in the same (CSR) order
    assert torch.equal(sub.tails, pattern.tails[mask])
    torch.testing.assert_close(sub.spmm(v, x), pattern.spmm(v_full, x)[rows])
    torch.testing.assert_close(sub.edge_dot(x), pattern.edge_dot(x)[mask])
    assert torch.autograd.gradcheck(lambda v, x: sub.spmm(v, x), (v, x))
    assert torch.autograd.gradcheck(lambda x: sub.edge_dot(x), (x,))


@pytest.mark.parametrize("shape", [(7,), (3, 5)])
@pytest.mark.parametrize("row_shape", [(), (4,)])
def test_gather_rows_equals_advanced_indexing_in_values_and_gradients(shape, row_shape):
    """gather_rows (index_select forward, index_add backward) against table[ids] (index, index_put)."""
    gen = torch.Generator().manual_seed(0)
    table = torch.randn(6, *row_shape, generator=gen, dtype=torch.float64, requires_grad=True)
    ids = torch.randint(0, 6, shape, generator=gen)                 # repeated ids: gradients accumulate
    weight = torch.randn(*shape, *row_shape, generator=gen, dtype=torch.float64)
    ours = gather_rows(table, ids)
    (grad_ours,) = torch.autograd.grad((ours * weight).sum(), table)
    ref = table[ids]
    (grad_ref,) = torch.autograd.grad((ref * weight).sum(), table)
    assert ours.shape == ref.shape
    torch.testing.assert_close(ours, ref, rtol=0, atol=0)
    torch.testing.assert_close(grad_ours, grad_ref, rtol=1e-12, atol=1e-12)
