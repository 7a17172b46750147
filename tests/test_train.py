import math

import pytest
import torch

from growkit import GPT, GPTConfig, Record, TrainConfig, Trainer, train
from growkit.checkpoint import load_checkpoint
from growkit.resume import Checkpointing
from growkit.settings import SettingError
from growkit.train import seeded


def small_config(**kw):
    return TrainConfig(**{**dict(steps=60, batch_size=16, lr=3e-3, warmup=5, eval_every=20,
                                 eval_batches=2), **kw})


def test_loss_falls_and_ledger_counts_flops(tiny_gpt, corpus):
    rec = train(tiny_gpt, corpus, small_config(), progress=False)
    losses = rec.series("val_loss")
    assert losses[-1] < losses[0] - 0.5
    per_step = tiny_gpt.flops_per_token(16) * 16 * 16
    assert rec.total_flops == pytest.approx(60 * per_step)
    assert rec.total_tokens == 60 * 16 * 16
    assert rec.tokens_per_param == pytest.approx(60 * 256 / tiny_gpt.n_params())


def test_schedule_warms_up_then_decays_to_the_floor():
    cfg = TrainConfig(steps=100, lr=1.0, warmup=10, min_lr_ratio=0.1)
    assert cfg.lr_at(0) == pytest.approx(0.1)
    assert cfg.lr_at(9) == pytest.approx(1.0)
    assert cfg.lr_at(99) == pytest.approx(0.1, abs=1e-3)
    lrs = [cfg.lr_at(s) for s in range(10, 100)]
    assert all(a >= b for a, b in zip(lrs, lrs[1:]))
    # A continued schedule enters part-way: no re-warmup.
    cont = TrainConfig(steps=50, lr=1.0, warmup=10, schedule_offset=50, schedule_steps=100)
    assert cont.lr_at(0) == pytest.approx(cfg.lr_at(50))


def test_growth_mid_run_continues_one_ledger(tiny_gpt, corpus):
    trainer = Trainer(tiny_gpt, corpus, small_config(steps=20), progress=False)
    trainer.fit()
    flops_before = trainer.ledger.flops
    big = trainer.grow("stack", factor=2, config=small_config(steps=10, warmup=2))
    trainer.fit()
    rec = trainer.record
    ev = rec.events[0]
    assert ev["flops"] == flops_before and ev["op"] == "stack" and ev["params_after"] == big.n_params()
    assert ev["claims_preservation"] is False and ev["preservation"]["max_abs_logits"] > 0
    assert rec.total_flops == pytest.approx(flops_before + 10 * big.flops_per_token(16) * 256)
    assert rec.total_tokens == 30 * 256
    assert [p["model"]["n_layer"] for p in rec.phases] == [2, 4]
    assert rec.n_params == big.n_params()


def test_optimizer_moments_can_be_carried_over_for_copied_parameters(tiny_gpt, corpus):
    trainer = Trainer(tiny_gpt, corpus, small_config(steps=5), progress=False)
    trainer.fit()
    old_state = trainer.optimizer.state[tiny_gpt.blocks[1].mlp.up_proj.weight]
    big = trainer.grow("stack", factor=2, config=small_config(steps=1), fresh_optimizer=False)
    carried = trainer.optimizer.state[big.blocks[3].mlp.up_proj.weight]
    assert torch.equal(carried["exp_avg"], old_state["exp_avg"])
    fresh = Trainer(GPT(tiny_gpt.config), corpus, small_config(steps=5), progress=False)
    fresh.fit()
    fresh.grow("stack", factor=2, config=small_config(steps=1))
    assert len(fresh.optimizer.state) == 0


def test_divergence_is_a_clear_error_and_keeps_the_record(corpus, tmp_path):
    model = GPT(GPTConfig(vocab_size=corpus.vocab_size, block_size=16, n_layer=1, n_head=2,
                          n_embd=16))
    with torch.no_grad():
        model.lm_head.weight.fill_(math.inf)
    with pytest.raises(FloatingPointError, match="lower the learning rate"):
        train(model, corpus, small_config(steps=3), out_dir=tmp_path, name="d", progress=False)
    # The record is kept; weights that are not finite are never written as a checkpoint.
    assert (tmp_path / "d.json").exists() and not (tmp_path / "d.diverged.pt").exists()


def test_divergence_keeps_finite_weights_only(corpus, tmp_path):
    model = GPT(GPTConfig(vocab_size=corpus.vocab_size, block_size=16, n_layer=1, n_head=2,
                          n_embd=16))
    with torch.no_grad():  # finite weights whose logits overflow: the loss is not finite
        model.lm_head.weight.fill_(3e38)
    trainer = Trainer(model, corpus, small_config(steps=3), out_dir=tmp_path, name="d",
                      progress=False)
    trainer.save_resumable()  # finite weights: written, and named in the message below
    with pytest.raises(FloatingPointError, match="the last finite checkpoints: d.resume.pt"):
        trainer.fit()
    kept, _ = load_checkpoint(tmp_path / "d.resume.pt")
    assert all(torch.isfinite(p).all() for p in kept.parameters())


def test_a_failed_growth_leaves_the_trainer_as_it_was(tiny_gpt, corpus):
    trainer = Trainer(tiny_gpt, corpus, small_config(steps=4, eval_every=2), progress=False)
    trainer.fit()
    state = (trainer.model, trainer.optimizer, trainer.config, trainer.ledger.tokens, trainer.ledger.flops,
             trainer.ledger.phase_step, len(trainer.record.phases), len(trainer.record.events))
    with pytest.raises(ValueError):  # G_learn with a bad option fails inside the operator
        trainer.grow("learn", factor=2, steps=-1, config=small_config(steps=2))
    with pytest.raises(TypeError):
        trainer.grow("stack", factor=True, config=small_config(steps=2))
    assert state == (trainer.model, trainer.optimizer, trainer.config, trainer.ledger.tokens,
                     trainer.ledger.flops, trainer.ledger.phase_step, len(trainer.record.phases),
                     len(trainer.record.events))
    assert trainer.fit().model is tiny_gpt and trainer.record.phases[-1]["model"]["n_layer"] == 2


def test_the_record_states_the_seed_of_the_initial_weights(corpus):
    cfg = GPTConfig(vocab_size=corpus.vocab_size, block_size=16, n_layer=1, n_head=2, n_embd=16)
    built = seeded(123, lambda: GPT(cfg))
    assert Trainer(built, corpus, small_config(steps=1), progress=False).record.meta["init_seed"] == 123
    # The seed reproduces the weights: the same call builds them again, bit for bit.
    again = seeded(123, lambda: GPT(cfg))
    assert all(torch.equal(a, b) for a, b in zip(built.state_dict().values(), again.state_dict().values()))
    # Weights built any other way: the record says the seed is unknown, never a wrong one.
    torch.manual_seed(123)
    outside = Trainer(GPT(cfg), corpus, small_config(steps=1), progress=False).record.meta
    assert outside["init_seed"] is None and "seed unknown" in outside["init"]
    with pytest.raises(SettingError, match="seed must be a whole number, got 'abc'"):
        seeded("abc", lambda: GPT(cfg))


def test_same_seed_same_run(corpus):
    def run():
        torch.manual_seed(0)
        m = GPT(GPTConfig(vocab_size=corpus.vocab_size, block_size=16, n_layer=1, n_head=2,
                          n_embd=16))
        return train(m, corpus, small_config(steps=10), progress=False)
    first = run()
    assert first.series("val_loss") == run().series("val_loss")
    # "Same run" holds at one thread count: the record says which, so a rerun can match it.
    assert first.meta["threads"] == torch.get_num_threads()


def test_learned_growth_mid_run_charges_its_phase_to_the_ledger(tiny_gpt, corpus, tmp_path):
    trainer = Trainer(tiny_gpt, corpus, small_config(steps=10), out_dir=tmp_path, name="l",
                      progress=False)
    trainer.fit()
    flops_before = trainer.ledger.flops
    trainer.grow("learn", factor=2, steps=5, config=small_config(steps=2))
    ev = trainer.record.events[0]
    assert ev["options"]["data"] == "kjv" and ev["info"]["steps"] == 5
    assert ev["flops"] == pytest.approx(flops_before + ev["info"]["flops"]) and ev["info"]["flops"] > 0
    trainer.fit()
    assert Record.load(tmp_path / "l.json").events[0]["info"]["loss_end"] == ev["info"]["loss_end"]


def test_stem_names_the_files_while_the_record_keeps_its_name(tiny_gpt, corpus, tmp_path):
    trainer = Trainer(tiny_gpt, corpus, small_config(steps=2, eval_every=2), name="stack↑×2",
                      out_dir=tmp_path, checkpointing=Checkpointing(stem="3f2a"), progress=False)
    trainer.fit()
    # The resumable checkpoint stays until the run is declared finished (train() does).
    assert sorted(p.name for p in tmp_path.iterdir()) == ["3f2a.json", "3f2a.phase0.pt", "3f2a.resume.pt"]
    trainer.finish()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["3f2a.json", "3f2a.phase0.pt"]
    assert Record.load(tmp_path / "3f2a.json").name == "stack↑×2"


def test_growth_takes_a_resolved_operator(tiny_gpt, corpus):
    from growkit.grow import resolve

    trainer = Trainer(tiny_gpt, corpus, small_config(steps=2), progress=False)
    trainer.fit()
    trainer.grow(resolve("zero", "width", tiny_gpt), factor=2, config=small_config(steps=1))
    ev = trainer.record.events[0]
    assert (ev["op"], ev["dim"], ev["claims_preservation"]) == ("zero", "width", True)
    assert ev["preservation"]["max_abs_logits"] < 1e-4


def test_training_only_the_new_blocks_leaves_the_old_ones_and_charges_them_honestly(corpus):
    """LLaMA-Pro: the grown model computes the small one's function, only its new blocks
    train, and the ledger still charges the frozen blocks' forward (and backward-through)."""
    from growkit.grow import LLAMA_PRO

    cfg = GPTConfig(vocab_size=corpus.vocab_size, block_size=16, n_layer=2, n_head=2, n_embd=16)
    trainer = Trainer(seeded(0, lambda: GPT(cfg)), corpus, small_config(steps=3), progress=False)
    trainer.fit()
    grown = trainer.grow(LLAMA_PRO, factor=1.5, config=small_config(steps=3), train_only_new=True)
    event = trainer.record.events[0]
    assert event["preservation"]["max_abs_logits"] == 0.0  # zero-output blocks: exact
    new = event["info"]["new_blocks"]
    before = {n: p.detach().clone() for n, p in grown.named_parameters()}
    trainer.fit()
    changed = {n for n, p in grown.named_parameters() if not torch.equal(p, before[n])}
    assert changed and all(n.startswith(tuple(f"blocks.{i}." for i in new)) for n in changed)
    frozen_cost = trainer.record.phases[1]["flops_per_token"]
    grown.requires_grad_(True)
    whole_cost = grown.flops_per_token()
    assert whole_cost / 3 < frozen_cost < whole_cost  # more than the forward pass, less than all


def test_train_only_new_needs_an_operator_that_names_its_new_blocks(tiny_gpt, corpus):
    trainer = Trainer(tiny_gpt, corpus, small_config(steps=2), progress=False)
    trainer.fit()
    with pytest.raises(ValueError, match="train_only_new=True needs an operator .* grow with op='llama_pro'"):
        trainer.grow("stack", factor=2, config=small_config(steps=2), train_only_new=True)
    assert len(trainer.record.phases) == 1  # the failed growth left the trainer as it was
