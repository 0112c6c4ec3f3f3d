"""Datasets: the Dataset type, loaders (one module per source format), splits, storage."""

from fuserec.data.dataset import Dataset, FieldSpec, build_dataset
from fuserec.data.sources import DatasetConfig, load_dataset, parse_source
from fuserec.data.splits import SplitConfig

__all__ = ["Dataset", "DatasetConfig", "FieldSpec", "SplitConfig", "build_dataset", "load_dataset",
           "parse_source"]
