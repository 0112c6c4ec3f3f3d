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


def norm_gate(rows: torch.Tensor, rho: float) -> torch.Tensor:
    """w = min(1, (ē / ρ)²), ē the mean L2 norm of ``rows`` (B, d); a detached scalar (1 when ρ ≤ 0).

    The factor the graph models put on a cosine InfoNCE term next to BPR: BPR's gradient on an
    embedding grows with its norm |e|, a cosine InfoNCE's with 1 / |e|, so from a small init the
    InfoNCE term sets Adam's steps and BPR stays at ln 2; w supplies the missing |e|² until the
    embeddings reach norm ρ and is 1 from then on (docs/results/irllrec/README.md).
    """
    if rho <= 0:
        return rows.new_ones(())
    with torch.no_grad():
        return (rows.norm(dim=1).mean() / rho).square().clamp(max=1.0)


def masked_mean(values: torch.Tensor, mask: torch.Tensor | None) -> torch.Tensor:
    """Mean of ``values`` (B,) where ``mask`` (B,) is true; 0 (with gradient path) when none is."""
    if mask is None:
        return values.mean()
    kept = torch.where(mask, values, torch.zeros_like(values))  # masked NaN/inf never leak
    return kept.sum() / mask.sum().clamp_min(1).to(values.dtype)


def swing_info_nce(anchors: torch.Tensor, positives: torch.Tensor, negatives: torch.Tensor,
                   temperature: float, mask: torch.Tensor | None = None,
                   negative_mask: torch.Tensor | None = None, in_batch_negatives: bool = False,
                   normalize: bool = True) -> torch.Tensor:
    """SwING-InfoNCE (DLRREC): each anchor against its SWING neighbour and M sampled negatives.

    ``L = mean_b -log( exp(a_b·p_b/τ) / (exp(a_b·p_b/τ) + Σ_n exp(a_b·n/τ)) )`` over the anchors
    with ``mask`` true; none selected → 0 (never NaN). With ``negative_mask`` and
    ``in_batch_negatives`` off this equals :func:`info_nce_with_negatives`.

    Args:
        anchors: (B, d) representations z of the anchors.
        positives: (B, d) representations of one sampled SWING neighbour per anchor.
        negatives: (M, d) representations of M uniformly drawn nodes, shared by the anchors.
        mask: (B,) bool, anchors that have a neighbour.
        negative_mask: (B, M) bool, False drops a negative for that anchor (e.g. the anchor itself).
        in_batch_negatives: also use the other anchors' positives (of selected anchors) as negatives.
        normalize: L2-normalise the vectors first (cosine similarity).
    """
    if normalize:
        anchors, positives, negatives = (F.normalize(t, dim=-1) for t in (anchors, positives, negatives))
    pos = (anchors * positives).sum(-1, keepdim=True) / temperature            # (B, 1)
    neg = anchors @ negatives.T / temperature                                  # (B, M)
    if negative_mask is not None:
        neg = neg.masked_fill(~negative_mask, float("-inf"))
    parts = [pos, neg]
    if in_batch_negatives:
        others = anchors @ positives.T / temperature                           # (B, B)
        drop = torch.eye(len(anchors), dtype=torch.bool, device=anchors.device)
        if mask is not None:
            drop = drop | ~mask.unsqueeze(0)
        parts.append(others.masked_fill(drop, float("-inf")))
    logits = torch.cat(parts, dim=1)
    losses = torch.logsumexp(logits, dim=1) - pos.squeeze(1)
    return masked_mean(losses, mask)


def info_nce_candidates(anchors: torch.Tensor, positives: torch.Tensor, candidates: torch.Tensor,
                        temperature: float, chunk_size: int | None = None) -> torch.Tensor:
    """InfoNCE against a candidate set, cosine similarity (RLMRec's ``cal_infonce_loss``, averaged).

    ``mean_b [ logsumexp_m(a_b·c_m / τ) − a_b·p_b / τ ]`` with every vector L2-normalised. The
    positive is *not* added to the denominator: it is counted there only when it is one of the
    candidates (in-batch use passes ``candidates = positives``).

    Args:
        anchors: (B, d); positives: (B, d); candidates: (M, d).
        chunk_size: if set and B > chunk_size, the (B, M) similarity is computed ``chunk_size``
            rows at a time and recomputed in the backward pass (activation checkpointing), so
            memory is O(chunk_size · M) instead of O(B · M).
    """
    a = F.normalize(anchors, dim=-1)
    p = F.normalize(positives, dim=-1)
    c = F.normalize(candidates, dim=-1)
    pos = (a * p).sum(-1) / temperature                                          # (B,)
    if chunk_size is None or a.shape[0] <= chunk_size:
        lse = _logsumexp_similarity(a, c, temperature)
    else:
        from torch.utils.checkpoint import checkpoint

        lse = torch.cat([checkpoint(_logsumexp_similarity, a[i:i + chunk_size], c, temperature,
                                    use_reentrant=False)
                         for i in range(0, a.shape[0], chunk_size)])
    return (lse - pos).mean()


def _logsumexp_similarity(a: torch.Tensor, c: torch.Tensor, temperature: float) -> torch.Tensor:
    """(b,) ``logsumexp_m(a_b·c_m / τ)`` for a (b, d) and c (M, d)."""
    return torch.logsumexp(a @ c.T / temperature, dim=1)


def soft_target_cross_entropy(student_logits: torch.Tensor, teacher_logits: torch.Tensor,
                              temperature: float = 1.0) -> torch.Tensor:
    """Distillation: ``−mean_i Σ_k softmax(t_i/τ)_k · log softmax(s_i/τ)_k`` over the last dim.

    Args:
        student_logits, teacher_logits: (n, K); the teacher gets no gradient (detached here).
    """
    target = F.softmax(teacher_logits.detach() / temperature, dim=-1)
    return -(target * F.log_softmax(student_logits / temperature, dim=-1)).sum(-1).mean()


def info_nce_shared(anchors: torch.Tensor, positives: torch.Tensor, candidates: torch.Tensor,
                    positive_in_candidates: torch.Tensor, temperature: float,
                    weights: torch.Tensor | None = None) -> torch.Tensor:
    """InfoNCE against one candidate set shared by all anchors, cosine similarity, no (B, M) mask.

    ``mean_b [ logsumexp({s(a_b, p_b)} ∪ {s(a_b, c_m)}_m) − s(a_b, p_b) ]`` with
    ``s(x, y) = cos(x, y) / τ``, where the positive is counted once: for the anchors whose
    positive *is* one of the candidates (``positive_in_candidates``; the caller guarantees that
    it is the identical vector, e.g. both are rows of one table) the candidates' logsumexp
    already holds it; for the others it is added with ``logaddexp``.

    Args:
        anchors: (B, d); positives: (B, d); candidates: (M, d), rows distinct entities.
        positive_in_candidates: (B,) bool.
        weights: optional (B,) row weights: the result is ``Σ_b w_b l_b / Σ_b w_b`` (the mean
            over a batch whose row b occurs w_b times, computed once per distinct row).
    """
    a = F.normalize(anchors, dim=-1) / temperature                                 # τ folded into a
    p = F.normalize(positives, dim=-1)
    c = F.normalize(candidates, dim=-1)
    pos = (a * p).sum(-1)                                                           # (B,)
    lse = torch.logsumexp(a @ c.T, dim=1)                                           # (B,)
    lse = torch.where(positive_in_candidates, lse, torch.logaddexp(lse, pos))
    if weights is None:
        return (lse - pos).mean()
    weights = weights.to(lse.dtype)
    return ((lse - pos) * weights).sum() / weights.sum()
