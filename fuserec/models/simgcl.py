"""SimGCL (Yu et al., SIGIR 2022): LightGCN with noise-perturbed contrastive views.

    ẽ^{l+1} = Â ẽ^l + ε · sign(Â ẽ^l) ⊙ normalize(U(0, 1))      two independent views ẽ′, ẽ″
    w = min(1, (ē / ρ)²)                                           ē: mean |e_u| of the batch's users
    L = L_bpr + λ_reg L_reg + w λ_cl [InfoNCE(ẽ′_u, ẽ″_u) + InfoNCE(ẽ′_i, ẽ″_i)]   (batch users u, positives i)

Scores use the unperturbed LightGCN embeddings. The same backbone runs under RLMRec-Con and
IRLLRec with ``backbone: simgcl``; this model is SimGCL on its own.

Defaults: the project's reference recipe for graph models (:class:`LightGCNConfig`: ``sum``
layers e⁰..e^L, Xavier init, L2 1e-6 on all parameters; the RLMRec / IRLLRec reference code's
SimGCL) without edge dropout (that SimGCL propagates its BPR pass through Â itself), ε 0.1,
λ_cl 0.1, τ 0.2, and the gate w at ρ = ``simgcl.cl_gate_norm`` = 1.

Why the gate (measured, docs/results/irllrec/README.md, "SimGCL"): without it, from Xavier init
on ML-100K BPR stays at ln 2 (old defaults, ``mean`` layers: 0.6927 after 5 epochs, test
recall@20 0.027, near a random ranking's level). In the first epoch the weighted cl term's
gradient on e⁰ is ≈ 125× BPR's with ``mean`` layers and ≈ 8× with ``sum`` (norms over the whole
table): BPR's gradient grows with |e| and the final embeddings start small (|e_u| ≈ 0.07
``mean``, 0.29 ``sum``; the propagated layers |Â e⁰| ≈ 0.03 next to ε = 0.1 of noise), and
under Adam the larger term sets every coordinate's step. The SimGCL authors' formulation (mean
of e¹..e^L, 64-d, 2 layers, λ_cl 0.5) stays at ln 2 too over its first 6 epochs. The gate lets
BPR lead until the embeddings reach norm ρ, then leaves the paper's λ_cl: w rises from 0.08 to 1
within 10 epochs and BPR falls to 0.17 by epoch 39. With ``sum`` layers the ungated loss leaves
ln 2 too, after ≈ 20 epochs, and converges to the same test recall@20 within noise (5 seeds);
with ``mean`` layers it stays stuck until early stopping. ``simgcl.cl_gate_norm: 0`` gives the
paper's loss. Trained to early stopping on ML-100K, SimGCL is below LightGCN (recall@20 0.283
against 0.347), and the same model without ``cl`` is level with LightGCN: the view contrast at
the paper's settings costs recall there (docs/results/irllrec/README.md).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from fuserec.models.lightgcn import LightGCN, LightGCNConfig
from fuserec.models.registry import register_model


@dataclass
class SimGCLModelConfig(LightGCNConfig):
    """:class:`LightGCNConfig` (``sum`` layers, Xavier init, L2 1e-6 on all parameters) with
    ``backbone: simgcl`` (its settings, the gate ``cl_gate_norm`` among them, in ``simgcl``) and
    no edge dropout (``keep_rate`` 1: the reference SimGCL propagates the BPR pass through Â itself)."""

    backbone: str = "simgcl"
    keep_rate: float = 1.0


@register_model("simgcl", "SimGCL: LightGCN + InfoNCE between two noise-perturbed graph views")
class SimGCL(LightGCN):
    """LightGCN whose backbone adds SimGCL's view-contrast loss ``cl``."""

    Config = SimGCLModelConfig

    def step_diagnostics(self) -> dict[str, torch.Tensor]:
        """``cl_gate``: the gate w on ``cl`` in the last :meth:`loss` call (absent before the first)."""
        w = self.backbone.last_gate
        return {} if w is None else {"cl_gate": w}
