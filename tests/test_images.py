"""Image data sets, and the training loop and ledger on images."""

import gzip
import sys
import types
import urllib.error

import pytest
import torch

from growkit import CNN, CNNConfig, TemplateCNN, TemplateCNNConfig, TrainConfig, Trainer, accuracy
from growkit import images as images_mod
from growkit.data import DatasetUnavailable
from growkit.images import crop_and_flip, load_images, read_idx
from growkit.train import training_flops


@pytest.fixture(scope="module")
def digits():
    return load_images("digits")


def sgd(**kw) -> TrainConfig:
    return TrainConfig(**{**dict(steps=60, batch_size=32, lr=0.05, optimizer="sgd",
                                 weight_decay=5e-4, warmup=5, min_lr_ratio=0.0, grad_clip=0,
                                 eval_every=30, eval_batches=2), **kw})


# ---- data ---------------------------------------------------------------------------------

def test_digits_splits_are_fixed_disjoint_and_normalised(digits):
    assert digits.image_shape == (1, 8, 8) and digits.num_classes == 10
    sizes = {s: digits.size(s) for s in ("train", "val", "test")}
    assert sum(sizes.values()) == 1797 and sizes["test"] == 359  # every 5th image is test
    again = images_mod._digits()
    assert torch.equal(again.splits["val"][0], digits.splits["val"][0])
    x, _ = digits.batch("train", 512, generator=torch.Generator().manual_seed(0))
    assert abs(float(x.mean())) < 0.1 and 0.9 < float(x.std()) < 1.1
    with pytest.raises(ValueError, match="split must be one of"):
        digits.batch("dev", 2)
    with pytest.raises(ValueError, match="known: .*fashion-mnist"):
        load_images("mnist")


def test_batches_are_reproducible_and_augmentation_crops_and_flips(digits):
    a = digits.batch("train", 8, generator=torch.Generator().manual_seed(3))
    b = digits.batch("train", 8, generator=torch.Generator().manual_seed(3))
    assert torch.equal(a[0], b[0]) and torch.equal(a[1], b[1])
    img = torch.arange(16.0).view(1, 1, 4, 4).repeat(64, 1, 1, 1)
    out = crop_and_flip(img, 1, torch.Generator().manual_seed(0))
    assert out.shape == img.shape
    # Without padding the only change is a left-right flip, of about half the images.
    flipped = crop_and_flip(img, 0, torch.Generator().manual_seed(0))
    is_flipped = [(f == img[0].flip(2)).all() for f in flipped]
    assert all(bool(f) or torch.equal(g, img[0]) for f, g in zip(is_flipped, flipped))
    assert 10 < sum(bool(f) for f in is_flipped) < 54
    aug = load_images("digits", augment=True)
    assert aug.augment and not digits.augment and aug.splits is digits.splits
    plain, _ = digits.batch("train", 8, generator=torch.Generator().manual_seed(3))
    augmented, _ = aug.batch("train", 8, generator=torch.Generator().manual_seed(3))
    assert not torch.equal(plain, augmented)


def write_idx(path, array: torch.Tensor) -> None:
    header = bytes([0, 0, 8, array.dim()]) + b"".join(n.to_bytes(4, "big") for n in array.shape)
    path.write_bytes(gzip.compress(header + array.to(torch.uint8).numpy().tobytes()))


def test_fashion_mnist_is_read_from_the_data_cache_first(tmp_path, monkeypatch):
    folder = tmp_path / "fashion-mnist"
    folder.mkdir()
    images = torch.randint(256, (20, 28, 28), generator=torch.Generator().manual_seed(0))
    for split, n in (("train", 20), ("test", 5)):
        img_name, lbl_name = images_mod.FASHION_MNIST_FILES[split]
        write_idx(folder / img_name, images[:n])
        write_idx(folder / lbl_name, torch.arange(n) % 10)
    assert torch.equal(read_idx(folder / img_name), images[:5].to(torch.uint8))
    monkeypatch.setattr(images_mod, "DATA_DIR", tmp_path)
    monkeypatch.setattr(images_mod, "_image_cache", {})
    ds = load_images("fashion-mnist")
    assert ds.image_shape == (1, 28, 28) and ds.classes[0] == "T-shirt/top"
    assert (ds.size("train"), ds.size("val"), ds.size("test")) == (18, 2, 5)  # every 10th is val
    assert torch.equal(ds.splits["val"][1], torch.tensor([9, 9]))


def test_fashion_mnist_falls_back_to_torchvision_and_says_how_to_do_without(tmp_path, monkeypatch):
    monkeypatch.setattr(images_mod, "DATA_DIR", tmp_path)
    monkeypatch.setattr(images_mod, "DEBIAN_FASHION_MNIST", tmp_path / "not-installed")
    monkeypatch.setattr(images_mod, "_image_cache", {})
    monkeypatch.setitem(sys.modules, "torchvision", None)  # as if not installed
    with pytest.raises(DatasetUnavailable, match="pip install torchvision.*apt-get install dataset-fashion-mnist"):
        load_images("fashion-mnist")
    # Where torchvision puts the files is the last place looked, before downloading.
    folder = tmp_path / "fashion-mnist" / "FashionMNIST" / "raw"
    folder.mkdir(parents=True)
    for split, n in (("train", 10), ("test", 3)):
        img_name, lbl_name = images_mod.FASHION_MNIST_FILES[split]
        write_idx(folder / img_name, torch.zeros(n, 28, 28))
        write_idx(folder / lbl_name, torch.arange(n))
    assert load_images("fashion-mnist").size("test") == 3


def test_fashion_mnist_loads():
    try:
        ds = load_images("fashion-mnist")
    except DatasetUnavailable as err:
        pytest.skip(f"fashion-mnist is not installed here ({err}); .ci/run installs Debian's "
                    "dataset-fashion-mnist")
    assert (ds.size("train"), ds.size("val"), ds.size("test")) == (54_000, 6_000, 10_000)
    assert ds.splits["train"][0].dtype == torch.uint8 and ds.image_shape == (1, 28, 28)
    assert torch.bincount(ds.splits["test"][1]).tolist() == [1000] * 10


def test_cifar_without_torchvision_or_network_is_a_clear_error(tmp_path, monkeypatch):
    monkeypatch.setattr(images_mod, "DATA_DIR", tmp_path)
    monkeypatch.setattr(images_mod, "_image_cache", {})
    monkeypatch.setitem(sys.modules, "torchvision", None)  # as if not installed
    with pytest.raises(DatasetUnavailable, match="pip install torchvision.*cifar-10-python.tar.gz"):
        load_images("cifar10")

    def offline(*args, **kwargs):
        raise urllib.error.URLError("no network")

    fake = types.ModuleType("torchvision")
    fake.datasets = types.SimpleNamespace(CIFAR10=offline, CIFAR100=offline)
    monkeypatch.setitem(sys.modules, "torchvision", fake)
    monkeypatch.setitem(sys.modules, "torchvision.datasets", fake.datasets)
    with pytest.raises(DatasetUnavailable, match="could not download 'cifar100'.*no network.*"
                                                 "cifar-100-python.tar.gz.*'digits'"):
        load_images("cifar100")


# ---- training on images -------------------------------------------------------------------------

def test_digits_trains_above_chance_in_seconds_with_samples_flops_and_accuracy(digits):
    torch.manual_seed(0)
    model = CNN(CNNConfig(in_channels=1, num_classes=10, widen=0.5, stem=8))
    trainer = Trainer(model, digits, sgd(), progress=False)
    assert isinstance(trainer.optimizer, torch.optim.SGD)
    assert trainer.optimizer.param_groups[0]["nesterov"]
    rec = trainer.fit().record
    assert accuracy(model, digits, "test") > 0.5  # chance is 0.1
    assert rec.history[-1]["val_acc"] > 0.5 and rec.history[0]["val_acc"] < 0.5
    x, y = digits.batch("val", 32, generator=torch.Generator())
    assert rec.total_flops == pytest.approx(60 * training_flops(model, x, y))
    assert rec.history[-1]["samples"] == rec.total_tokens == 60 * 32
    assert rec.phases[0]["flops_per_sample"] == pytest.approx(training_flops(model, x, y) / 32)


def test_flops_are_counted_by_pytorch_and_cover_the_backward_pass(digits):
    from torch.utils.flop_counter import FlopCounterMode

    model = CNN(CNNConfig(in_channels=1, num_classes=10))
    x, y = digits.batch("val", 4, generator=torch.Generator())
    with FlopCounterMode(display=False) as counter, torch.no_grad():
        model(x)
    forward = counter.get_total_flops()
    stem = 2 * model.stem.weight.numel() * 8 * 8 * 4  # multiply-adds of the first conv
    # Backward costs two forwards (input and weight gradients), except the stem's input
    # gradient, which nothing needs.
    assert training_flops(model, x, y) == 3 * forward - stem
    # Each member of a TemplateCNN costs about a quarter of the full-width net.
    members = TemplateCNN(TemplateCNNConfig(in_channels=1))
    assert 0.2 < training_flops(members, x, y, member=0) / training_flops(model, x, y) < 0.3


def test_optimizer_groups_and_bad_optimizer():
    with pytest.raises(ValueError, match="optimizer must be one of"):
        TrainConfig(steps=1, optimizer="lion")
    from growkit.train import make_optimizer

    model = TemplateCNN(TemplateCNNConfig(in_channels=1))
    opt = make_optimizer(model, TrainConfig(steps=1, optimizer="sgd", weight_decay=5e-4),
                         torch.device("cpu"))
    decayed = {id(p) for p in opt.param_groups[0]["params"]}
    for name, p in model.named_parameters():
        assert (id(p) in decayed) == name.endswith("templates"), name  # coefs and norms do not
