"""The template-mixed and plain WideResNets (growkit.cnn), before any growth."""

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from growkit import CNN, CNNConfig, TemplateCNN, TemplateCNNConfig, load_checkpoint, save_checkpoint
from growkit.cnn import TemplateConv2d, TemplateLinear, preset_config


def mixed(templates: torch.Tensor, coefs: torch.Tensor) -> torch.Tensor:
    """sum_k coefs[k] * templates[k], written out."""
    return sum(c * t for c, t in zip(coefs, templates))


@pytest.fixture
def x():
    return torch.randn(4, 1, 8, 8, generator=torch.Generator().manual_seed(0))


@pytest.fixture
def template_cnn() -> TemplateCNN:
    torch.manual_seed(0)
    model = TemplateCNN(TemplateCNNConfig(in_channels=1, num_classes=10, templates=3))
    # A few training-mode passes so the BatchNorms' running statistics are not the defaults.
    with torch.no_grad():
        for member in (0, 1):
            for _ in range(2):
                model(torch.randn(8, 1, 8, 8), member=member)
    return model.eval()


@pytest.mark.parametrize("member", [0, 1])
def test_template_conv_equals_a_plain_conv_holding_the_mixture(member):
    torch.manual_seed(0)
    layer = TemplateConv2d(6, 8, 3, stride=2, padding=1, templates=3, grown=False)
    plain = nn.Conv2d(3, 4, 3, stride=2, padding=1, bias=False)
    with torch.no_grad():
        plain.weight.copy_(mixed(layer.templates[member], layer.coefs[member]))
    x = torch.randn(2, 3, 9, 9)
    torch.testing.assert_close(layer(x, member), plain(x))
    assert layer.templates.shape == (2, 3, 4, 3, 3, 3) and layer.coefs.shape == (2, 3)


def test_template_linear_equals_a_plain_linear_and_sums_members_when_whole():
    torch.manual_seed(0)
    layer = TemplateLinear(8, 5, templates=2, grown=False)
    w = [mixed(layer.templates[i], layer.coefs[i]) for i in (0, 1)]
    assert w[0].shape == (5, 4)  # inputs split between members, classes shared
    h = torch.randn(3, 8)
    torch.testing.assert_close(layer(h[:, :4], 0), F.linear(h[:, :4], w[0]))
    torch.testing.assert_close(layer(h), F.linear(h[:, :4], w[0]) + F.linear(h[:, 4:], w[1]))


def test_coefficients_start_orthogonal():
    torch.manual_seed(0)
    # 2 rows of a 2 x 2 orthogonal draw (the stem has only two blocks, even when grown).
    stem = TemplateConv2d(1, 8, 3, templates=2, grown=False, split_in=False)
    torch.testing.assert_close(stem.coefs @ stem.coefs.T, torch.eye(2))
    # An inner layer draws 4 x k (its grown block count) with orthonormal columns.
    inner = TemplateConv2d(8, 8, 3, templates=2, grown=True)
    torch.testing.assert_close(inner.coefs.T @ inner.coefs, torch.eye(2))


def test_members_are_isolated_before_growth(template_cnn, x):
    model = template_cnn.train()
    before = {k: v.clone() for k, v in model.state_dict().items()}
    _, loss = model(x, torch.tensor([0, 1, 2, 3]), member=0)
    loss.backward()
    for name, p in model.named_parameters():
        if name.endswith(("templates", "coefs")):
            assert p.grad[0].abs().sum() > 0, name
            assert not p.grad[1].any(), f"{name}: member 1 got a gradient from member 0's loss"
        elif ".members.1." in name:
            assert p.grad is None, name
    state = model.state_dict()
    for name, value in before.items():
        if ".members.1." in name:
            assert torch.equal(state[name], value), f"{name} moved in member 0's pass"
        elif ".members.0.running_mean" in name:
            assert not torch.equal(state[name], value)
    # Perturbing member 1 leaves member 0's function alone.
    model.eval()
    out0 = model(x, member=0)[0]
    with torch.no_grad():
        for name, p in model.named_parameters():
            if name.endswith(("templates", "coefs")):
                p[1] += 1.0
    torch.testing.assert_close(model(x, member=0)[0], out0, rtol=0, atol=0)


def test_whole_net_before_growth_is_the_members_ensemble(template_cnn, x):
    logits, loss = template_cnn(x, torch.zeros(4, dtype=torch.long))
    torch.testing.assert_close(logits, template_cnn(x, member=0)[0] + template_cnn(x, member=1)[0])
    assert loss is not None and logits.shape == (4, 10)
    with pytest.raises(ValueError, match="member must be 0 or 1"):
        template_cnn(x, member=2)


@pytest.mark.parametrize("name", ["wrn-10-1", "wrn-10-2", "wrn-16-4", "wrn-28-10"])
def test_shapes_of_each_preset(name):
    plain = preset_config(name, in_channels=3, num_classes=100)
    assert name == f"wrn-{plain.depth}-{plain.widen:g}"  # the name says the shape
    tcfg = preset_config(name, template=True, in_channels=3, num_classes=100)
    with torch.device("meta"):
        cnn, members, grown = CNN(plain), TemplateCNN(tcfg), TemplateCNN(TemplateCNNConfig(
            **{**tcfg.to_dict(), "grown": True}))
    c = plain.channels
    assert cnn.stem.weight.shape == (c[0], 3, 3, 3) and cnn.head.weight.shape == (100, c[3])
    assert len(cnn.stages[2]) == plain.blocks_per_stage
    # Each member has half of every width; two templates per member hold as many numbers
    # as the full-width weight (2 sets x 2 templates x a quarter each).
    assert members.stages[1][0].conv1.templates.shape == (2, 2, c[2] // 2, c[1] // 2, 3, 3)
    assert members.stem.templates.shape == (2, 2, c[0] // 2, 3, 3, 3)
    assert grown.stages[1][0].conv1.weight().shape == (c[2], c[1], 3, 3)
    assert grown.stages[1][0].conv1.coefs.shape == (4, 2)
    if name == "wrn-28-10":
        assert plain.channels == [16, 160, 320, 640]
        assert cnn.n_params() == pytest.approx(36.5e6, rel=0.01)  # WRN-28-10's known size
    out = cnn(torch.empty(2, 3, 32, 32, device="meta"))[0]
    assert out.shape == (2, 100)


def test_an_unknown_shape_lists_the_known_ones():
    known = "wrn-10-0.5, wrn-10-1, wrn-10-2, wrn-16-4, wrn-28-10"
    with pytest.raises(ValueError, match=f"unknown CNN shape 'tiny'; known: {known}"):
        preset_config("tiny")


def test_configs_name_the_fix():
    with pytest.raises(ValueError, match="6n \\+ 4"):
        CNNConfig(depth=12)
    with pytest.raises(ValueError, match="16 \\* widen"):
        CNNConfig(widen=0.3)
    with pytest.raises(ValueError, match="must all be even"):
        TemplateCNNConfig(stem=9)
    with pytest.raises(ValueError, match="known: "):
        preset_config("huge")


def test_checkpoints_round_trip(template_cnn, x, tmp_path):
    torch.manual_seed(1)
    cnn = CNN(CNNConfig(in_channels=1)).eval()
    for model in (cnn, template_cnn):
        model2, payload = load_checkpoint(save_checkpoint(tmp_path / "m.pt", model, step=3))
        assert type(model2) is type(model) and payload["step"] == 3
        model2.eval()
        torch.testing.assert_close(model2(x)[0], model(x)[0], rtol=0, atol=0)
