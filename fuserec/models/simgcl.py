"""SimGCL (Yu et al., SIGIR 2022): LightGCN with noise-perturbed contrastive views.

    ẽ^{l+1} = Â ẽ^l + ε · sign(Â ẽ^l) ⊙ normalize(U(0, 1))      two independent views ẽ′, ẽ″
    L = L_bpr + λ_reg L_reg + λ_cl [InfoNCE(ẽ′_u, ẽ″_u) + InfoNCE(ẽ′_i, ẽ″_i)]   (batch users u, positives i)

Scores use the unperturbed LightGCN embeddings. The same backbone runs under RLMRec-Con and
IRLLRec with ``backbone: simgcl``; this model is SimGCL on its own.
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
