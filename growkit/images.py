"""Named image data sets: the same name resolves the same way on every machine.

Each has train / val / test splits. Where the source has an official test set it is the
test split, and the validation split is every VAL_EVERY_IMAGES-th image of the official
training set (by index, so the same on every machine and library version). Images are
normalised with their train split's per-channel statistics.

    digits          8x8 grey, scikit-learn's copy (offline)
    fashion-mnist   28x28 grey, from Debian's dataset-fashion-mnist or a local copy (offline),
                    else downloaded by torchvision
    cifar10/100     32x32 colour, downloaded once by torchvision
"""

from __future__ import annotations

import dataclasses
import urllib.error
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import torch

from .data import DATA_DIR, DatasetUnavailable

VAL_EVERY_IMAGES = 10
DEBIAN_FASHION_MNIST = Path("/usr/share/datasets/fashion-mnist")
FASHION_MNIST_FILES = {
    "train": ("train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz"),
    "test": ("t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz"),
}
FASHION_MNIST_CLASSES = ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt",
                         "Sneaker", "Bag", "Ankle boot"]
OFFLINE = "'digits' (scikit-learn) and 'fashion-mnist' (Debian's package) work offline."
Split = tuple[torch.Tensor, torch.Tensor]  # uint8 images (N, C, H, W), int64 labels (N,)


@dataclass
class ImageDataset:
    name: str
    classes: list[str]
    splits: dict[str, Split]  # "train", "val", "test"
    mean: torch.Tensor  # per channel, of the train split, in the images' raw units
    std: torch.Tensor
    augment: bool = False  # random crop (zero padding `pad`) and horizontal flip on "train"
    pad: int = 4

    @property
    def num_classes(self) -> int:
        return len(self.classes)

    @property
    def image_shape(self) -> tuple[int, int, int]:
        c, h, w = self.splits["train"][0].shape[1:]
        return c, h, w

    def size(self, split: str) -> int:
        return len(self._split(split)[1])

    def _split(self, split: str) -> Split:
        if split not in self.splits:
            raise ValueError(f"split must be one of {sorted(self.splits)}, got {split!r}.")
        return self.splits[split]

    def normalise(self, images: torch.Tensor) -> torch.Tensor:
        return (images.float() - self.mean.view(-1, 1, 1)) / self.std.view(-1, 1, 1)

    def batch(self, split: str, batch_size: int, *, generator: torch.Generator | None = None
              ) -> tuple[torch.Tensor, torch.Tensor]:
        """A random batch (x normalised float, y labels) drawn with replacement from a seeded
        generator; train batches are augmented when `augment` is on."""
        images, labels = self._split(split)
        idx = torch.randint(len(labels), (batch_size,), generator=generator)
        x = images[idx].float()
        if self.augment and split == "train":
            x = crop_and_flip(x, self.pad, generator)
        return self.normalise(x), labels[idx]

    def batches(self, split: str, batch_size: int = 500) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        """The whole split in order, unaugmented (for accuracy on the full test set)."""
        images, labels = self._split(split)
        for i in range(0, len(labels), batch_size):
            yield self.normalise(images[i:i + batch_size]), labels[i:i + batch_size]


def crop_and_flip(x: torch.Tensor, pad: int, generator: torch.Generator | None) -> torch.Tensor:
    """The standard CIFAR augmentation per image: zero-pad by `pad`, crop back at a random
    offset, flip half the images left-right. Drawn from `generator` (torchvision's
    transforms draw from the global RNG, one image at a time), so batches stay reproducible."""
    B, C, H, W = x.shape
    padded = torch.nn.functional.pad(x, (pad, pad, pad, pad))
    dy = torch.randint(2 * pad + 1, (B, 1), generator=generator)
    dx = torch.randint(2 * pad + 1, (B, 1), generator=generator)
    rows = (dy + torch.arange(H))[:, None, :, None]
    cols = (dx + torch.arange(W))[:, None, None, :]
    out = padded[torch.arange(B)[:, None, None, None], torch.arange(C)[None, :, None, None], rows, cols]
    flip = torch.rand(B, generator=generator) < 0.5
    return torch.where(flip[:, None, None, None], out.flip(3), out)


def split_every(n: int, every: int, offset: int = 0) -> torch.Tensor:
    """Boolean mask of the indices i < n with i % every == every - 1 - offset."""
    return torch.arange(n) % every == every - 1 - offset


def image_dataset(name: str, classes: list[str], train: Split, test: Split, pad: int = 4
                  ) -> ImageDataset:
    """Train / val / test from an official train / test pair; statistics from train."""
    val = split_every(len(train[1]), VAL_EVERY_IMAGES)
    tr = (train[0][~val], train[1][~val])
    # Per channel, in float32 one channel at a time: CIFAR's train split as float64 is 1 GB.
    chans = [tr[0][:, c].float() for c in range(tr[0].shape[1])]
    mean = torch.stack([c.mean() for c in chans])
    std = torch.stack([c.std() for c in chans])
    return ImageDataset(name, classes, {"train": tr, "val": (train[0][val], train[1][val]),
                                        "test": test}, mean, std, pad=pad)


def _digits() -> ImageDataset:
    try:
        from sklearn.datasets import load_digits
    except ImportError as err:
        raise DatasetUnavailable(
            "the 'digits' images come with scikit-learn: pip install 'growkit[images]' "
            "(or pip install scikit-learn)."
        ) from err
    d = load_digits()
    images = torch.from_numpy(d.images).to(torch.uint8)[:, None]  # values 0..16, 8x8
    labels = torch.from_numpy(d.target).long()
    test = split_every(len(labels), 5)  # no official test set: every 5th image
    return image_dataset("digits", [str(c) for c in d.target_names],
                         (images[~test], labels[~test]), (images[test], labels[test]), pad=1)


def read_idx(path: Path) -> torch.Tensor:
    """An IDX file (MNIST's format, gzipped): a big-endian header, then uint8 data."""
    import gzip

    import numpy as np

    raw = gzip.decompress(path.read_bytes())
    ndim = raw[3]
    shape = [int.from_bytes(raw[4 + 4 * i:8 + 4 * i], "big") for i in range(ndim)]
    return torch.from_numpy(np.frombuffer(raw, np.uint8, offset=4 + 4 * ndim).reshape(shape).copy())


def _fashion_mnist() -> ImageDataset:
    """The four IDX files from the data folder, else Debian's package, else torchvision
    (which downloads them into data/fashion-mnist/FashionMNIST/raw)."""
    local = DATA_DIR / "fashion-mnist"
    downloaded = local / "FashionMNIST" / "raw"
    files = [f for pair in FASHION_MNIST_FILES.values() for f in pair]
    folder = next((d for d in (local, DEBIAN_FASHION_MNIST, downloaded) if all((d / f).exists() for f in files)),
                  None)
    if folder is None:
        torchvision_download("fashion-mnist", "FashionMNIST", local, how=(
            f"Without torchvision: apt-get install dataset-fashion-mnist (Debian/Ubuntu, files in "
            f"{DEBIAN_FASHION_MNIST}), or copy the four *-ubyte.gz files into {local}."))
        folder = downloaded
    splits = {split: (read_idx(folder / images)[:, None], read_idx(folder / labels).long())
              for split, (images, labels) in FASHION_MNIST_FILES.items()}
    return image_dataset("fashion-mnist", FASHION_MNIST_CLASSES, splits["train"], splits["test"], pad=2)


def torchvision_download(name: str, cls_name: str, root: Path, how: str) -> None:
    """Download `name` with torchvision (which verifies the archive's checksum) into root;
    `how` says how to do without."""
    try:
        import torchvision.datasets
    except ImportError as err:
        raise DatasetUnavailable(
            f"{name!r} is not on this machine, and fetching it needs torchvision: pip install "
            f"torchvision (the build matching your torch {torch.__version__}). {how} {OFFLINE}"
        ) from err
    try:
        for train in (True, False):
            getattr(torchvision.datasets, cls_name)(str(root), train=train, download=True)
    except (urllib.error.URLError, TimeoutError, OSError, RuntimeError) as err:
        raise DatasetUnavailable(f"could not download {name!r} with torchvision ({err}). {how} {OFFLINE}") from err


def _cifar(name: str, cls_name: str, archive: str) -> ImageDataset:
    root = DATA_DIR / name
    torchvision_download(name, cls_name, root, how=(
        f"Offline, put {archive} in {root} first: torchvision verifies its checksum and extracts it."))
    import torchvision.datasets

    def split(train: bool) -> tuple[Split, list[str]]:
        ds = getattr(torchvision.datasets, cls_name)(str(root), train=train, download=False)
        images = torch.from_numpy(ds.data).permute(0, 3, 1, 2).contiguous()  # NHWC -> NCHW
        return (images, torch.tensor(ds.targets, dtype=torch.long)), list(ds.classes)

    (train, classes), (test, _) = split(True), split(False)
    ds = image_dataset(name, classes, train, test, pad=4)
    ds.augment = True  # crop-and-flip, the standard CIFAR recipe (and the paper's)
    return ds


IMAGE_DATASETS: dict[str, Callable[[], ImageDataset]] = {
    "digits": _digits,
    "fashion-mnist": _fashion_mnist,
    "cifar10": lambda: _cifar("cifar10", "CIFAR10", "cifar-10-python.tar.gz"),
    "cifar100": lambda: _cifar("cifar100", "CIFAR100", "cifar-100-python.tar.gz"),
}
_image_cache: dict[str, ImageDataset] = {}


def load_images(name: str = "digits", augment: bool | None = None) -> ImageDataset:
    """The named image data set (cached in memory after the first load). `augment`
    overrides its default (on for CIFAR, off for the small grey-scale sets)."""
    if name not in IMAGE_DATASETS:
        raise ValueError(f"unknown image data set {name!r}; known: {sorted(IMAGE_DATASETS)}.")
    if name not in _image_cache:
        _image_cache[name] = IMAGE_DATASETS[name]()
    ds = _image_cache[name]
    return ds if augment is None else dataclasses.replace(ds, augment=augment)
