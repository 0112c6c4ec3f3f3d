"""Training: the one Trainer, tasks (data side), checkpoints, run directories, seeding."""

from fuserec.train.config import EvalConfig, TrainConfig
from fuserec.train.tasks import PointwiseTask, RankingTask, Task, make_task
from fuserec.train.trainer import Trainer, TrainResult

__all__ = ["EvalConfig", "PointwiseTask", "RankingTask", "Task", "TrainConfig", "TrainResult", "Trainer",
           "make_task"]
