"""MixtureGrowth (Pham et al., WACV 2024): grow a TemplateCNN's two trained half-width
members into one net twice as wide, whose new weight blocks are *new linear combinations
of the templates the members already learned*.

Layout, as in the official code (github.com/chaudatascience/mixturegrowth,
models/layers.py, `ensemble_growth_type="diag"`, `member_template_sets=[0, 1, 0, 1]`):

    inner conv / shortcut   [[W0, W2],       rows: output channels, member 0's half first
                             [W3, W1]]       W2 mixes member 0's templates, W3 member 1's
    stem conv               [[W0], [W1]]     the image feeds both halves: members stacked
    classifier              [[W0, W1]]       the logits of the two halves are summed
    BatchNorms              concatenated (weight, bias, running mean and variance)

W0, W1 keep the members' trained coefficients; W2, W3 get new ones (`coefs=`):
    orthogonal  a unit vector orthogonal to the coefficients of the member whose
                templates the block mixes (W2 _|_ member 0's, W3 _|_ member 1's), times `scale`
    zero        zero: the grown net computes exactly the members' summed logits
    copy        the coefficients of that member (W2 = W0, W3 = W1), plus `noise` times a
                unit vector of uniform [0, 1) entries
    random      uniform [0, 1) entries times `scale` (the official random variant)

Where this departs from the official code, and why:
- orthogonal: the official code keeps W2's construction-time coefficients and sets W3's
  to the last right singular vector of [c0; c1; c2]; with its default 2 templates per
  set that is three vectors in R^2, so "orthogonal" holds for none of them in general.
  Here each new block is orthogonal to the trained coefficients over the same templates,
  which is well defined for any number of templates >= 2 (with 1 there is no orthogonal
  direction: an error says so). The scale (official `coefs_noise_growing`, default 1) is
  `scale`.
- copy: the official noise is `coefs_noise_growing` (default 1) times that unit vector,
  as large as the coefficients themselves; here `noise` defaults to 0 (an exact copy).
- The grown BatchNorm is part of the grown model's state dict (config.grown=True), so a
  checkpoint of a grown net resumes with its grown statistics; the official code builds
  it at run time and loses it on resume.
- The members' blocks use both of a WideResNet block's BatchNorms (the official default
  `use_bn=False` drops the second); templates are initialised one by one with Kaiming
  fan-in (the official code computes fan-in over the whole template stack).
"""

from __future__ import annotations

import dataclasses

import torch

from ..cnn import BLOCK_SETS, MemberBatchNorm2d, TemplateCNN, TemplateLayer
from .registry import Growth, fresh_model, register, seeded

COEF_VARIANTS = ("orthogonal", "zero", "copy", "random")


def new_coefs(member: torch.Tensor, variant: str, *, scale: float, noise: float) -> torch.Tensor:
    """Coefficients for a new block mixing the templates that `member` (its trained
    coefficient vector) mixes; copy and random draw from the global RNG."""
    k = member.numel()
    if variant == "orthogonal":
        if k < 2:
            raise ValueError(
                "coefs='orthogonal' needs at least 2 templates per member (there is no vector "
                "orthogonal to a single coefficient): build the TemplateCNN with templates>=2, "
                "or grow with coefs='copy', 'random' or 'zero'."
            )
        # The last right singular vector of a 1 x k matrix spans part of its null space.
        direction = torch.linalg.svd(member.double()[None]).Vh[-1].to(member.dtype)
        return direction * scale
    if variant == "zero":
        return torch.zeros_like(member)
    if variant == "copy":
        u = torch.rand(k).to(member)
        return member + noise * u / u.norm()
    if variant == "random":
        return torch.rand(k).to(member) * scale
    raise ValueError(f"unknown coefs={variant!r}; use one of {COEF_VARIANTS}.")


@register("mixture", "width", TemplateCNN, label="MixtureGrowth", preserves_function=False)
def mixture(model: TemplateCNN, *, factor: int = 2, coefs: str = "orthogonal",
            scale: float = 1.0, noise: float = 0.0, seed: int | None = None) -> Growth:
    """MixtureGrowth: the two members' templates and coefficients kept, BatchNorms
    concatenated, new blocks [[., W2], [W3, .]] mixed from the existing templates with new
    coefficients (`coefs`: orthogonal, zero, copy or random; see the module docstring).
    coefs='zero' preserves the members' summed logits exactly."""
    if factor != 2:
        raise ValueError(f"MixtureGrowth joins two half-width members into one net twice as "
                         f"wide: factor must be 2, got {factor}.")
    if model.config.grown:
        raise ValueError("this TemplateCNN is already grown: MixtureGrowth grows the two "
                         "members of an ungrown one (config.grown=False).")
    if coefs not in COEF_VARIANTS:
        raise ValueError(f"unknown coefs={coefs!r}; use one of {COEF_VARIANTS}.")
    big = fresh_model(TemplateCNN, dataclasses.replace(model.config, grown=True), model)
    small = dict(model.named_modules())
    sources = {}
    with torch.no_grad(), seeded(seed):  # seed: the new coefficients of copy and random
        for name, module in big.named_modules():
            old = small.get(name)
            if isinstance(module, TemplateLayer):
                assert isinstance(old, TemplateLayer)
                module.templates.copy_(old.templates)
                sources[f"{name}.templates"] = f"{name}.templates"
                module.coefs[:2] = old.coefs
                for b in range(2, len(module.coefs)):
                    module.coefs[b] = new_coefs(old.coefs[BLOCK_SETS[b]], coefs, scale=scale,
                                                noise=noise)
            elif isinstance(module, MemberBatchNorm2d):
                assert isinstance(old, MemberBatchNorm2d)
                bn0, bn1 = old.members
                for key in ("weight", "bias", "running_mean", "running_var"):
                    getattr(module.norm, key).copy_(torch.cat([getattr(bn0, key), getattr(bn1, key)]))
                module.norm.num_batches_tracked.copy_(
                    torch.maximum(bn0.num_batches_tracked, bn1.num_batches_tracked))
    return Growth(big, sources, {"coefs": coefs, "scale": scale, "noise": noise})
