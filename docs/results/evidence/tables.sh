#!/bin/bash
# Prints every table of README.md from the CSVs and per-user files in this folder (run from the repository root).
# Run folders (for the curves, the gate weights and the representation probe) are under RUNS (default runs/evidence).
set -e
E="python -m fuserec.evidence summary"
D=docs/results/evidence
RUNS=${RUNS:-runs/evidence}
echo "## DLRREC family, synthetic world: paired differences of test ROC-AUC"
$E $D/a-inf1.csv $D/a-inf0.csv $D/b.csv $D/cold.csv $D/dense-dlrm.csv --contrasts dlrrec:dlrm dlrrec:two_step dlrrec:dlrrec-shuffled two_step:dlrm \
   --cells inf0-sparse inf0.25-sparse inf0.5-sparse inf1-sparse inf0-dense inf0.25-dense inf0.5-dense inf1-dense inf1-sparse-coldusers inf1-sparse-colditems
echo "## per variant"
$E $D/a-inf1.csv $D/a-inf0.csv $D/b.csv $D/cold.csv $D/dense-dlrm.csv --baseline dlrm
echo "## no ids"
$E $D/a-inf1.csv $D/a-noids.csv --cells inf1-sparse --contrasts dlrrec-noids:dlrm dlrrec-noids:dlrrec-noids-shuffled dlrm-noids:dlrm
echo "## denoising"
$E $D/c.csv --contrasts dlrrec:dlrm dlrrec:two_step dlrrec:dlrrec-shuffled two_step:dlrm --cells inf1-nuis0.0-sparse inf1-nuis0.5-sparse inf1-nuis1.0-sparse
echo "## real data"
$E $D/uci.csv --baseline dlrm
$E $D/uci.csv --contrasts dlrrec:dlrm dlrrec:two_step dlrrec:dlrrec-shuffled dlrrec-random:dlrm dlrrec-shuffled:dlrm two_step:dlrm dlrm_raw:dlrm
$E $D/ml.csv --baseline dlrm
$E $D/ml.csv --contrasts dlrrec:dlrm dlrrec:two_step dlrrec:dlrrec-shuffled two_step:dlrm dlrm_raw:dlrm
echo "## leaky"
for m in test_roc_auc test_accuracy test_fpr test_tuned_accuracy test_tuned_fpr; do $E $D/leaky.csv $D/a-inf1.csv --metric $m --baseline dlrrec; done
echo "## graph family (per-user bootstrap)"
$E $D/d.csv --metric test_recall@20 --baseline lightgcn --per-user recall@20
$E $D/d.csv --metric test_ndcg@20 --baseline lightgcn --per-user ndcg@20
$E $D/d.csv --metric test_recall@20 --baseline lightgcn --per-user coldrank_recall@20
echo "## the gate"
python -m fuserec.evidence_curves $RUNS/gate/inf1-sparse --column align_gate
python -m fuserec.evidence_curves $RUNS/d/inf1-sparse --column align_gate --variants irllrec
echo "## compute-matched"
python -m fuserec.evidence_curves $RUNS/a/inf1-sparse --metric valid_roc_auc
python -m fuserec.evidence_curves $RUNS/d/inf1-sparse --metric valid_recall@20 --variants lightgcn rlmrec_con irllrec
echo "## representation probe"
python -m fuserec.evidence_probe $RUNS/a/inf1-sparse
python -m fuserec.evidence_probe $RUNS/cold/inf1-sparse-coldusers
