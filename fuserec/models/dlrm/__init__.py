"""The DLRM family (spec: dlrrec.md): blocks (TorchRec layout), the shared model, the variants."""
