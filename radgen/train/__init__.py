"""Training engine: train a variant on a fold, with checkpoints, early stopping and per-epoch logs."""

from radgen.train.data import FoldData, augment, class_weights
from radgen.train.engine import train_fold
from radgen.train.metrics import early_stopping_auc

__all__ = ["FoldData", "augment", "class_weights", "early_stopping_auc", "train_fold"]
