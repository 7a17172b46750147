"""growkit: train a small network, grow it into a bigger one, and measure the compute saved.

The student's API is below; the figures are in `growkit.plots`, the MixtureGrowth
experiment in `growkit.mixture_study`, the widgets in `growkit.explorer`. `RunOptions` says
how runs are run (seeds, workers, folder, checkpoints), never what they compute
(`growkit.runs`).
"""

from .checkpoint import load_checkpoint, save_checkpoint
from .cnn import CNN, CNNConfig, TemplateCNN, TemplateCNNConfig
from .data import load_text
from .gpt import GPT, GPTConfig
from .grow import grow, llama_pro, measure_preservation, solar, train_only
from .images import load_images
from .record import Record
from .runs import RunOptions
from .speedup import speedup
from .study import Study, StudyConfig, Variant
from .train import TrainConfig, Trainer, accuracy, train

__all__ = [
    "CNN", "CNNConfig", "GPT", "GPTConfig", "Record", "RunOptions", "Study", "StudyConfig",
    "TemplateCNN", "TemplateCNNConfig", "TrainConfig", "Trainer", "Variant", "accuracy", "grow",
    "load_checkpoint", "llama_pro", "load_images", "load_text", "measure_preservation", "plots",
    "save_checkpoint", "solar", "speedup", "train", "train_only",
]
