"""Loss functions shared by the models.

Shapes: B = batch size, d = embedding dimension, M = number of negatives per anchor.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F


def bpr_loss(pos_scores: torch.Tensor, neg_scores: torch.Tensor) -> torch.Tensor:
    """Bayesian personalised ranking: ``mean(-log σ(s⁺ - s⁻))``.

    Args:
        pos_scores: (B,) scores of observed items.
        neg_scores: (B,) scores of sampled negatives.
    """
    return F.softplus(neg_scores - pos_scores).mean()


def l2_reg(*tensors: torch.Tensor) -> torch.Tensor:
    """``Σ ||t||² / 2`` averaged over the batch dimension (the first) of the tensors given."""
    batch = tensors[0].shape[0]
    return sum(t.pow(2).sum() for t in tensors) / (2 * batch)


def info_nce_in_batch(anchors: torch.Tensor, positives: torch.Tensor, temperature: float,
                      mask: torch.Tensor | None = None) -> torch.Tensor:
    """InfoNCE with in-batch negatives, cosine similarity.

    Row b of ``anchors`` (B, d) is pulled to row b of ``positives`` (B, d) and pushed from every
    other row of ``positives``. ``mask`` (B,) bool selects the anchors that count; a batch with no
    selected anchor returns 0 (not NaN).
    """
    a = F.normalize(anchors, dim=-1)
    p = F.normalize(positives, dim=-1)
    logits = a @ p.T / temperature                               # (B, B)
    losses = torch.logsumexp(logits, dim=1) - logits.diagonal()  # (B,)
    return masked_mean(losses, mask)


def info_nce_with_negatives(anchors: torch.Tensor, positives: torch.Tensor, negatives: torch.Tensor,
                            temperature: float, mask: torch.Tensor | None = None,
                            normalize: bool = True) -> torch.Tensor:
    """InfoNCE with explicit negatives.

    ``-log( exp(a·p/τ) / (exp(a·p/τ) + Σ_n exp(a·n/τ)) )`` averaged over selected anchors.

    Args:
        anchors: (B, d).
        positives: (B, d), one positive per anchor.
        negatives: (M, d) shared by all anchors, or (B, M, d) per anchor.
        mask: (B,) bool; anchors with False are ignored; none selected → 0.
        normalize: L2-normalise all vectors first (cosine similarity).
    """
    if normalize:
        anchors, positives, negatives = (F.normalize(t, dim=-1) for t in (anchors, positives, negatives))
    pos = (anchors * positives).sum(-1, keepdim=True) / temperature            # (B, 1)
    if negatives.dim() == 2:
        neg = anchors @ negatives.T / temperature                               # (B, M)
    else:
        neg = torch.einsum("bd,bmd->bm", anchors, negatives) / temperature      # (B, M)
    logits = torch.cat([pos, neg], dim=1)
    losses = torch.logsumexp(logits, dim=1) - pos.squeeze(1)
    return masked_mean(losses, mask)


def masked_mean(values: torch.Tensor, mask: torch.Tensor | None) -> torch.Tensor:
    """Mean of ``values`` (B,) where ``mask`` (B,) is true; 0 (with gradient path) when none is."""
    if mask is None:
        return values.mean()
    kept = torch.where(mask, values, torch.zeros_like(values))  # masked NaN/inf never leak
    return kept.sum() / mask.sum().clamp_min(1).to(values.dtype)
