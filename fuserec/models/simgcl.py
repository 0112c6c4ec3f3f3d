"""SimGCL (Yu et al., SIGIR 2022): LightGCN with noise-perturbed contrastive views.

    ẽ^{l+1} = Â ẽ^l + ε · sign(Â ẽ^l) ⊙ normalize(U(0, 1))      two independent views ẽ′, ẽ″
    L = L_bpr + λ_reg L_reg + λ_cl [InfoNCE(ẽ′_u, ẽ″_u) + InfoNCE(ẽ′_i, ẽ″_i)]   (batch users u, positives i)

Scores use the unperturbed LightGCN embeddings. The same backbone runs under RLMRec-Con and
IRLLRec with ``backbone: simgcl``; this model is SimGCL on its own.
"""

from __future__ import annotations

from dataclasses import dataclass

from fuserec.models.lightgcn import GraphConfig, LightGCN
from fuserec.models.registry import register_model


@dataclass
class SimGCLModelConfig(GraphConfig):
    """As :class:`GraphConfig`, with ``backbone`` defaulting to ``simgcl`` (settings in ``simgcl``)."""

    backbone: str = "simgcl"


@register_model("simgcl", "SimGCL: LightGCN + InfoNCE between two noise-perturbed graph views")
class SimGCL(LightGCN):
    """LightGCN whose backbone adds SimGCL's view-contrast loss ``cl``."""

    Config = SimGCLModelConfig
