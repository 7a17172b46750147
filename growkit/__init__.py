"""growkit: train a small network, grow it into a bigger one, and measure the compute saved."""

from .checkpoint import load_checkpoint, save_checkpoint
from .data import load_text
from .gpt import GPT, GPTConfig
from .grow import grow, measure_preservation
from .record import Record
from .speedup import speedup
from .train import TrainConfig, Trainer, train

__all__ = [
    "GPT", "GPTConfig", "Record", "TrainConfig", "Trainer", "grow", "load_checkpoint",
    "load_text", "measure_preservation", "save_checkpoint", "speedup", "train",
]
