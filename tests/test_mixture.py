"""MixtureGrowth and the plain CNN's width baselines (random, zero, Net2Wider)."""

import pytest
import torch

from growkit import CNN, CNNConfig, TemplateCNN, TemplateCNNConfig, grow, load_checkpoint
from growkit.grow import grow_with_sources, measure_preservation, resolve
from growkit.grow.mixture import COEF_VARIANTS


def warm_up_norms(model, members=(None,)):
    """A few training-mode passes (no weight update), so the BatchNorms' running
    statistics are the model's own rather than the defaults."""
    model.train()
    with torch.no_grad():
        for member in members:
            for _ in range(2):
                kwargs = {} if member is None else {"member": member}
                model(torch.randn(8, 1, 8, 8), **kwargs)
    return model.eval()


def mixed(templates, coefs):
    return sum(c * t for c, t in zip(coefs, templates))


@pytest.fixture
def x():
    return torch.randn(4, 1, 8, 8, generator=torch.Generator().manual_seed(0))


@pytest.fixture
def members() -> TemplateCNN:
    torch.manual_seed(0)
    return warm_up_norms(TemplateCNN(TemplateCNNConfig(in_channels=1, templates=3)), (0, 1))


@pytest.fixture
def cnn() -> CNN:
    torch.manual_seed(0)
    return warm_up_norms(CNN(CNNConfig(in_channels=1)))


# ---- MixtureGrowth ----------------------------------------------------------------------

def test_block_layout_after_growth(members):
    big = grow(members, "mixture", dim="width", coefs="random", seed=0)
    assert big.config.grown and big.config.channels == members.config.channels
    old, new = members.stages[1][0].conv1, big.stages[1][0].conv1
    c = new.coefs
    assert torch.equal(c[:2], old.coefs)
    w = new.weight()
    o, i = old.templates.shape[2:4]
    T0, T1 = old.templates
    torch.testing.assert_close(w[:o, :i], mixed(T0, c[0]))  # W0: member 0
    torch.testing.assert_close(w[o:, i:], mixed(T1, c[1]))  # W1: member 1
    torch.testing.assert_close(w[:o, i:], mixed(T0, c[2]))  # W2: member 0's templates anew
    torch.testing.assert_close(w[o:, :i], mixed(T1, c[3]))  # W3: member 1's templates anew
    # The stem stacks the members (both read the whole image), the head sums them.
    stem = big.stem.weight()
    torch.testing.assert_close(stem, torch.cat([members.stem.weight(0), members.stem.weight(1)], 0))
    head = big.head.weight()
    torch.testing.assert_close(head, torch.cat([members.head.weight(0), members.head.weight(1)], 1))
    # BatchNorms concatenate, running statistics included.
    bn_old, bn_new = members.stages[2][0].bn2, big.stages[2][0].bn2.norm
    for key in ("weight", "bias", "running_mean", "running_var"):
        torch.testing.assert_close(getattr(bn_new, key), torch.cat(
            [getattr(bn_old.members[0], key), getattr(bn_old.members[1], key)]))


def test_zero_coefficients_preserve_the_members_summed_logits_exactly(members, x):
    big = grow(members, "mixture", dim="width", coefs="zero").eval()
    summed = members(x, member=0)[0] + members(x, member=1)[0]
    torch.testing.assert_close(big(x)[0], summed, rtol=1e-5, atol=1e-5)
    assert measure_preservation(members, big, x)["max_abs_logits"] < 1e-4
    # In training mode too: the zero blocks keep every channel's batch statistics.
    members.train()
    big.train()
    torch.testing.assert_close(big(x)[0], members(x)[0], rtol=1e-5, atol=1e-5)


def test_coefficient_variants(members, x):
    old = members.stages[0][0].conv2.coefs.detach()
    new = {c: grow(members, "mixture", dim="width", coefs=c, scale=0.5, seed=0)
           .stages[0][0].conv2.coefs.detach() for c in COEF_VARIANTS}
    for member, block in ((0, 2), (1, 3)):
        ortho = new["orthogonal"][block]
        assert torch.dot(ortho, old[member]).abs() < 1e-5 and float(ortho.norm()) == pytest.approx(0.5)
        assert torch.equal(new["copy"][block], old[member])
        assert not new["zero"][block].any()
        assert ((new["random"][block] >= 0) & (new["random"][block] < 0.5)).all()
    noisy = grow(members, "mixture", dim="width", coefs="copy", noise=0.1, seed=0)
    assert float((noisy.stages[0][0].conv2.coefs[2].detach() - old[0]).norm()) == pytest.approx(0.1)
    for c in ("orthogonal", "copy", "random"):
        g = grow(members, "mixture", dim="width", coefs=c, seed=0).eval()
        assert (g(x)[0] - members(x)[0]).abs().max() > 1e-3, c  # new blocks change the function


def test_grown_net_trains_every_block(members, x):
    big = grow(members, "mixture", dim="width", coefs="orthogonal").train()
    big(x, torch.tensor([1, 2, 3, 4]))[1].backward()
    for name, p in big.named_parameters():
        assert p.grad is not None and p.grad.abs().sum() > 0, name
    assert big.n_params() > members.n_params()  # two more coefficient rows per inner layer


def test_mixture_is_pure_and_reports_sources(members):
    before = {k: v.clone() for k, v in members.state_dict().items()}
    g = grow_with_sources(members, "mixture", dim="width", coefs="copy")
    with torch.no_grad():
        for p in g.model.parameters():
            p.add_(1.0)
    for k, v in members.state_dict().items():
        assert torch.equal(v, before[k]), k
    assert g.sources["stem.templates"] == "stem.templates" and "stem.coefs" not in g.sources
    assert g.info["coefs"] == "copy" and not resolve("mixture", "width", members).preserves_function


def test_mixture_bad_input_names_the_fix(members, tiny_gpt):
    with pytest.raises(ValueError, match="factor must be 2"):
        grow(members, "mixture", dim="width", factor=3)
    grown = grow(members, "mixture", dim="width")
    with pytest.raises(ValueError, match="already grown"):
        grow(grown, "mixture", dim="width")
    with pytest.raises(ValueError, match="without member="):
        grown(torch.randn(1, 1, 8, 8), member=0)
    with pytest.raises(ValueError, match="coefs="):
        grow(members, "mixture", dim="width", coefs="ones")
    one = TemplateCNN(TemplateCNNConfig(in_channels=1, templates=1))
    with pytest.raises(ValueError, match="at least 2 templates"):
        grow(one, "mixture", dim="width", coefs="orthogonal")
    with pytest.raises(ValueError, match=r"'mixture' for a GPT \('mixture' grows a TemplateCNN"):
        grow(tiny_gpt, "mixture", dim="width")
    with pytest.raises(ValueError, match="for a TemplateCNN use dim='width' with op='mixture'"):
        grow(members, "random", dim="width")


# ---- the plain CNN's baselines ------------------------------------------------------------

@pytest.mark.parametrize("op", ["zero", "net2wider", "random"])
@pytest.mark.parametrize("factor", [2, 1.5])
def test_cnn_width_shapes_and_preservation(cnn, x, op, factor):
    g = grow_with_sources(cnn, op, dim="width", factor=factor, seed=0)
    big = g.model.eval()
    assert big.config.channels == [round(c * factor) for c in cnn.config.channels]
    assert big.config.depth == cnn.config.depth and isinstance(big, CNN)
    conv = big.stages[2][0].conv1.weight
    assert conv.shape[:2] == (cnn.stages[2][0].conv1.weight.shape[0] * factor,
                              cnn.stages[2][0].conv1.weight.shape[1] * factor)
    preserved = resolve(op, "width", cnn).preserves_function
    assert preserved == (op != "random")
    diff = (big(x)[0] - cnn(x)[0]).abs().max()
    if preserved:
        assert diff < 1e-4, f"{op} changed the logits by {diff}"
        # Both preserving operators hold in training mode too (batch statistics included).
        torch.testing.assert_close(big.train()(x)[0], cnn.train()(x)[0], rtol=1e-4, atol=1e-4)
    else:
        assert diff > 1e-3


def test_zero_and_random_keep_the_small_weights_in_the_corner(cnn):
    for op in ("zero", "random"):
        big = grow(cnn, op, dim="width", factor=2, seed=0)
        w_small, w_big = cnn.stages[1][0].conv2.weight, big.stages[1][0].conv2.weight
        o, i = w_small.shape[:2]
        assert torch.equal(w_big[:o, :i], w_small)
        assert torch.equal(big.norm.running_var[: len(cnn.norm.running_var)], cnn.norm.running_var)
        if op == "zero":
            assert not w_big[:, i:].any() and not big.head.weight[:, cnn.head.weight.shape[1]:].any()
            assert w_big[o:, :i].std() > 0  # new units' incoming weights are random: they learn


def test_net2wider_copies_units_and_splits_their_outgoing_weights(cnn):
    big = grow(cnn, "net2wider", dim="width", factor=2, seed=0)
    small, block = cnn.stages[0][0], big.stages[0][0]
    n, out = small.conv1.weight.shape[0], small.conv2.weight.shape[0]  # inner, stream widths
    rows = block.conv1.weight.flatten(1)  # incoming weights of each inner unit
    for j in range(n, 2 * n):  # every new unit is a copy of an old one, BatchNorm included
        i = next(i for i in range(n) if torch.equal(rows[i], rows[j]))
        for key in ("weight", "bias", "running_mean", "running_var"):
            assert getattr(block.bn2, key)[j] == getattr(block.bn2, key)[i]
    for i in range(n):  # the copies' outgoing weights add up to the original's
        copies = [k for k in range(2 * n) if torch.equal(rows[k], rows[i])]
        torch.testing.assert_close(sum(block.conv2.weight[:out, k] for k in copies),
                                   small.conv2.weight[:, i])
    noisy = grow(cnn, "net2wider", dim="width", factor=2, seed=0, noise=0.1).eval()
    x = torch.randn(2, 1, 8, 8)
    assert (noisy(x)[0] - cnn(x)[0]).abs().max() > 1e-4  # symmetry broken, exactness lost


def test_cnn_width_bad_input(cnn):
    with pytest.raises(ValueError, match="whole number of channels"):
        grow(cnn, "zero", dim="width", factor=1.3)
    with pytest.raises(ValueError, match="for a CNN use dim='width' with op='random', 'zero' or "
                       "'net2wider'"):
        grow(cnn, "stack", dim="depth", factor=2)


# ---- growth inside a run, and resuming a grown model -------------------------------------------

def test_members_then_growth_in_one_trainer_and_the_grown_checkpoint_resumes(tmp_path):
    from growkit import TrainConfig, Trainer, load_images
    from growkit.train import training_flops

    data = load_images("digits")
    cfg = TrainConfig(steps=6, batch_size=16, lr=0.05, optimizer="sgd", weight_decay=5e-4,
                      warmup=1, min_lr_ratio=0.0, grad_clip=0, eval_every=3, eval_batches=1)
    torch.manual_seed(0)
    model = TemplateCNN(TemplateCNNConfig(in_channels=1))
    trainer = Trainer(model, data, cfg, member=0, name="mx", out_dir=tmp_path, progress=False)
    trainer.fit()
    trainer.new_phase(cfg, member=1)
    trainer.fit()
    grown = trainer.grow("mixture", dim="width", coefs="zero", config=cfg)
    assert trainer.record.events[0]["preservation"]["max_abs_logits"] < 1e-4
    trainer.fit()
    rec = trainer.record
    x, y = data.batch("val", 16, generator=torch.Generator())
    member_flops = training_flops(model, x, y, member=0)
    assert rec.total_flops == pytest.approx(12 * member_flops + 6 * training_flops(grown, x, y))
    assert [p.get("member") for p in rec.phases] == [0, 1, None]
    assert rec.history[-1]["samples"] == 18 * 16 and "val_acc" in rec.history[-1]

    # The grown checkpoint rebuilds a grown net with the grown BatchNorm statistics.
    loaded, payload = load_checkpoint(tmp_path / "mx.phase2.pt")
    assert loaded.config.grown and payload["step"] == 18
    for name, buf in grown.named_buffers():
        assert torch.equal(dict(loaded.named_buffers())[name].cpu(), buf.cpu()), name
    assert grown.stages[0][0].bn1.norm.running_var.ne(1).any()  # statistics of its own
    grown.eval()
    loaded.eval()
    torch.testing.assert_close(loaded(x)[0], grown(x.to(next(grown.parameters()).device))[0].cpu(),
                               rtol=0, atol=0)
    # ... and it trains on from there.
    again = Trainer(loaded, data, cfg, name="resumed", progress=False)
    again.fit()
    assert again.record.history[-1]["val_acc"] is not None
