"""growkit: train a small network, grow it into a bigger one, and measure the compute saved."""

from .checkpoint import load_checkpoint, save_checkpoint
from .cnn import CNN, CNNConfig, TemplateCNN, TemplateCNNConfig
from .data import load_images, load_text
from .gpt import GPT, GPTConfig
from .grow import grow, measure_preservation
from .record import Record
from .speedup import speedup
from .train import TrainConfig, Trainer, accuracy, train

__all__ = [
    "CNN", "CNNConfig", "GPT", "GPTConfig", "Record", "TemplateCNN", "TemplateCNNConfig",
    "TrainConfig", "Trainer", "accuracy", "grow", "load_checkpoint", "load_images", "load_text",
    "measure_preservation", "save_checkpoint", "speedup", "train",
]
