"""The text side of the LLM-aligned graph models: the projector from text space to CF space.

Text embeddings are inputs, prepared outside the model (:mod:`fuserec.prepare.text`): the model
receives an (N, D) float32 tensor, users first then items (N = n_users + n_items), and maps it
to the CF space with a :func:`projector` MLP ``D → (D + d) / 2 → d`` with LeakyReLU (RLMRec /
IRLLRec reference shape).
"""

from __future__ import annotations

from torch import nn


def projector(in_dim: int, out_dim: int) -> nn.Sequential:
    """MLP ``in_dim → (in_dim + out_dim) // 2 → out_dim`` with LeakyReLU; Xavier-uniform weights.

    Input (n, in_dim) → output (n, out_dim).
    """
    hidden = (in_dim + out_dim) // 2
    mlp = nn.Sequential(nn.Linear(in_dim, hidden), nn.LeakyReLU(), nn.Linear(hidden, out_dim))
    for layer in mlp:
        if isinstance(layer, nn.Linear):
            nn.init.xavier_uniform_(layer.weight)
    return mlp
