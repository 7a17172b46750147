"""The operator table: one lookup by (name, dim, model class), one error, what an operator declares."""

import pytest
import torch

from growkit import CNN, GPT, TemplateCNN, TemplateCNNConfig, grow
from growkit.grow import Operator, grow_with_sources, resolve
from growkit.grow.learn import EVAL_BATCHES


def test_resolve_takes_an_instance_or_a_class_and_aliases_name_depth_direct(tiny_gpt):
    assert resolve("stack", "depth", tiny_gpt) is resolve("direct", "depth", GPT)
    assert resolve("G_stack", "depth") is resolve("direct", "depth", GPT)  # None: the GPT
    assert resolve("zero", "width", CNN) is not resolve("zero", "width", GPT)  # one name, two families
    assert resolve("zero", "width", CNN).model is CNN


def test_a_wrong_model_class_is_one_error_naming_the_class_and_the_fix():
    # Every name the TemplateCNN lacks gets the same message: its class, where the name
    # does belong, and the one thing a TemplateCNN grows with.
    for op, dim in (("random", "width"), ("stack", "depth"), ("net2wider", "width")):
        with pytest.raises(ValueError, match="for a TemplateCNN use dim='width' with op='mixture'") as err:
            resolve(op, dim, TemplateCNN)
        assert f"no {dim} operator {op!r} for a TemplateCNN ({op!r} grows a " in str(err.value)
    with pytest.raises(ValueError, match=r"'net2wider' grows a CNN in width\): for a GPT use "
                                         r"dim='depth' with op='direct'"):
        resolve("net2wider", "width", GPT)
    with pytest.raises(TypeError, match="no growth operator grows a Linear: growkit's operators "
                                        "grow a CNN, GPT or TemplateCNN"):
        resolve("stack", "depth", torch.nn.Linear)


def test_operators_declare_data_label_and_their_own_tokens():
    learn, stack = resolve("learn", "depth"), resolve("stack", "depth")
    assert learn.needs_data and resolve("learn", "width").needs_data and not stack.needs_data
    assert (stack.label, resolve("direct", "width").label, learn.label) == ("G_stack", "G_direct", "G_learn")
    assert resolve("mixture", "width", TemplateCNN).label == "MixtureGrowth"
    assert resolve("net2wider", "width", CNN).label == "Net2Wider"
    assert stack.extra_tokens is None
    # The map's steps (default 100) plus its start and end evaluations, at the run's batch size.
    assert learn.extra_tokens({}, 8, 16) == (100 + 2 * EVAL_BATCHES) * 8 * 16
    assert learn.extra_tokens({"steps": 5}, 8, 16) == (5 + 2 * EVAL_BATCHES) * 8 * 16
    assert learn.extra_tokens({"steps": 5, "batch_size": 2}, 8, 16) == (5 + 2 * EVAL_BATCHES) * 2 * 16


def test_learn_spends_exactly_its_declared_tokens(tiny_gpt, corpus):
    g = grow_with_sources(tiny_gpt, "learn", dim="width", factor=2, data=corpus, steps=3,
                          batch_size=2)
    assert g.info["tokens"] == resolve("learn", "width").extra_tokens({"steps": 3}, 2, 16)


def test_a_resolved_operator_passes_through_and_is_checked_against_the_model(tiny_gpt):
    op = resolve("zero", "depth", tiny_gpt)
    assert isinstance(op, Operator) and resolve(op).preserves_function
    assert grow(tiny_gpt, op, factor=2).config.n_layer == 4
    members = TemplateCNN(TemplateCNNConfig(in_channels=1))
    with pytest.raises(ValueError, match="for a TemplateCNN use dim='width' with op='mixture'"):
        grow(members, op, factor=2)


def test_grow_names_what_it_was_given_instead_of_a_torch_error(tiny_gpt):
    with pytest.raises(TypeError, match=r"grow\(\) grows a model .*got None"):
        grow(None, "stack")
    with pytest.raises(TypeError, match=r"seed must be a whole number or None, got 'abc'.*e\.g\. seed=0"):
        grow(tiny_gpt, "random", seed="abc")
    with pytest.raises(TypeError, match=r"G_stack .* takes no option 'seed': its options are"):
        grow(tiny_gpt, "stack", seed=0)


def test_a_registered_operator_is_offered_by_grow_and_measured_by_the_trainer(tiny_gpt, corpus):
    from growkit import TrainConfig, Trainer
    from growkit.grow import register, unregister
    from growkit.grow.depth import from_layers

    @register("repeat_top", "depth", GPT, label="G_top", preserves_function=False)
    def repeat_top(small, *, factor):
        L = small.config.n_layer
        return from_layers(small, list(range(L)) + [L - 1] * (L * (factor - 1)))

    try:
        assert resolve("repeat_top", "depth", GPT).label == "G_top"
        with pytest.raises(ValueError, match="exists already: choose another name, or pass replace=True"):
            register("repeat_top", "depth", GPT, label="x", preserves_function=False)(repeat_top)
        trainer = Trainer(tiny_gpt, corpus, TrainConfig(steps=2, batch_size=4, eval_every=2,
                                                        eval_batches=1, warmup=1), progress=False)
        trainer.fit()
        grown = trainer.grow("repeat_top", factor=3, config=TrainConfig(steps=2, batch_size=4,
                                                                       eval_every=2, eval_batches=1))
        trainer.fit()
        assert grown.config.n_layer == 3 * tiny_gpt.config.n_layer
        event = trainer.record.events[0]
        assert event["op"] == "repeat_top" and event["preservation"]["max_abs_logits"] > 0
    finally:
        unregister("repeat_top", "depth", GPT)
    with pytest.raises(ValueError, match="no depth operator 'repeat_top'"):
        resolve("repeat_top", "depth", GPT)
