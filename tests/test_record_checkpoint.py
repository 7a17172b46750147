import errno
import json
import math
import os
import re

import pytest
import torch

from growkit import GPT, Record, TrainConfig, Trainer, load_checkpoint, save_checkpoint, train
from growkit.checkpoint import CheckpointError
from growkit.record import RecordError, atomic_open, atomic_write_text, write_json


def test_record_json_round_trip(tiny_gpt, corpus, tmp_path):
    rec = train(tiny_gpt, corpus, TrainConfig(steps=6, batch_size=4, eval_every=3,
                                              eval_batches=1, warmup=2), progress=False)
    path = rec.save(tmp_path / "r.json")
    again = Record.load(path)
    assert again == rec
    assert json.loads(path.read_text())["history"][-1]["step"] == 6


def test_checkpoint_round_trip_is_exact_and_weights_only(tiny_gpt, tmp_path):
    path = save_checkpoint(tmp_path / "m.pt", tiny_gpt, step=7)
    model, payload = load_checkpoint(path)
    assert isinstance(model, GPT) and payload["step"] == 7
    x = torch.randint(tiny_gpt.config.vocab_size, (2, 16))
    torch.testing.assert_close(model(x)[0], tiny_gpt(x)[0], rtol=0, atol=0)
    # Plain tensors and primitives only: loadable with weights_only=True.
    torch.load(path, weights_only=True)
    assert not any(k.startswith("_orig_mod") for k in payload["state_dict"])


def test_records_and_checkpoints_survive_an_interrupted_run(tiny_gpt, corpus, tmp_path):
    cfg = TrainConfig(steps=10, batch_size=4, eval_every=2, eval_batches=1, warmup=2)
    trainer = Trainer(tiny_gpt, corpus, cfg, name="r", out_dir=tmp_path, progress=False)
    trainer.fit(steps=5)  # stopped part-way, as a kill would
    on_disk = Record.load(tmp_path / "r.json")
    assert [h["step"] for h in on_disk.history] == [0, 2, 4]
    trainer.fit()
    assert (tmp_path / "r.phase0.pt").exists()
    assert Record.load(tmp_path / "r.json").history[-1]["step"] == 10


def test_write_json_is_strict_json_with_nan_as_null(tmp_path, corpus):
    path = write_json(tmp_path / "out" / "results_00.json",
                      {"loss": float("nan"), "best": float("inf"), "rows": [(1, 2.5)],
                       "nested": {3: [float("-inf")]}, "data": corpus, "ok": True})
    text = path.read_text()
    assert text.endswith("}\n") and "NaN" not in text and "Infinity" not in text
    strict = json.loads(text, parse_constant=lambda c: pytest.fail(f"non-strict JSON: {c}"))
    assert strict == {"loss": None, "best": None, "rows": [[1, 2.5]], "nested": {"3": [None]},
                      "data": "kjv", "ok": True}
    assert [p.name for p in path.parent.iterdir()] == ["results_00.json"]  # no temp file left


def test_atomic_writes_leave_the_old_file_when_a_write_fails(tmp_path):
    path = atomic_write_text(tmp_path / "r.json", "old")
    with pytest.raises(RuntimeError), atomic_open(path) as f:
        f.write(b"half a new fi")
        raise RuntimeError("killed mid-write")
    assert path.read_text() == "old" and [p.name for p in tmp_path.iterdir()] == ["r.json"]


class FullDisk:
    """A file whose writes fail as on a full disk."""

    def __init__(self, f):
        self.f = f

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.f.close()

    def write(self, data):
        raise OSError(errno.ENOSPC, "No space left on device")

    def flush(self):
        pass


def test_a_full_disk_is_named_and_leaves_the_old_file(tmp_path, monkeypatch, tiny_gpt):
    import growkit.record as record_module

    Record(name="old").save(tmp_path / "r.json")
    save_checkpoint(tmp_path / "m.pt", tiny_gpt)
    before = (tmp_path / "m.pt").read_bytes()
    monkeypatch.setattr(record_module, "open", lambda p, m: FullDisk(open(p, m)), raising=False)
    with pytest.raises(OSError, match=r"r\.json: the disk is full.*free disk space and re-run"):
        Record(name="new").save(tmp_path / "r.json")
    with pytest.raises(OSError, match=r"m\.pt: .*free disk space and re-run"):
        save_checkpoint(tmp_path / "m.pt", tiny_gpt)
    assert Record.load(tmp_path / "r.json").name == "old" and (tmp_path / "m.pt").read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m.pt", "r.json"]  # no temp file left


def test_a_checkpoint_with_a_flipped_byte_is_refused_by_name(tiny_gpt, tmp_path):
    """torch.load alone reads a damaged tensor as another number; the checksum refuses it."""
    path = save_checkpoint(tmp_path / "m.pt", tiny_gpt)
    load_checkpoint(path)  # the intact file loads
    raw = bytearray(path.read_bytes())
    weights = tiny_gpt.lm_head.weight.detach().reshape(-1)[:4].numpy().tobytes()
    at = bytes(raw).index(weights)  # a byte inside the stored weights
    raw[at] ^= 0x01
    path.write_bytes(bytes(raw))
    with pytest.raises(CheckpointError, match=r"m\.pt: cannot load this checkpoint: its contents "
                                              r"do not match their checksum"):
        load_checkpoint(path)


def test_a_record_under_a_file_names_the_file_and_a_fix(tmp_path, tiny_gpt, corpus):
    blocker = tmp_path / "results"
    blocker.write_text("mine")
    rec = Record(name="r")
    with pytest.raises(NotADirectoryError, match=r"cannot write .*results/sub/r\.json: .*results is "
                                                 r"a file, not a folder: choose another path"):
        rec.save(blocker / "sub" / "r.json")
    assert blocker.read_text() == "mine"  # nothing of the user's is lost


def test_a_finished_runs_broken_checkpoint_says_what_recovers_it(tmp_path):
    """Deleting a finished run's checkpoint alone never brought it back (a finished run is
    read, not trained again): the message names its record too, and doing what it says
    trains the run again and gives its weights."""
    import re

    from growkit import Study, Variant
    from growkit.runs import RetrainToRecover

    study = Study.from_preset("smoke", tokens_per_param=0.05, cache_dir=tmp_path, progress=False)
    expected = study.model(Variant())
    path = next(tmp_path.glob("*.phase1.pt"))
    path.write_bytes(path.read_bytes()[:1000])  # truncated: a full disk, a copy cut short
    fresh = Study.from_preset("smoke", tokens_per_param=0.05, cache_dir=tmp_path, progress=False)
    with pytest.raises(RetrainToRecover) as info:
        fresh.model(Variant())
    message = str(info.value)
    files = re.search(r"\(rm (\S+) (\S+)\)", message)
    assert files and files.group(1) == str(path) and files.group(2).endswith(".json"), message
    for name in files.groups():
        os.remove(name)
    again = Study.from_preset("smoke", tokens_per_param=0.05, cache_dir=tmp_path, progress=False).model(Variant())
    assert all(torch.equal(a, b) for a, b in zip(expected.state_dict().values(), again.state_dict().values()))


def test_a_hand_edited_record_is_refused_by_name(tmp_path):
    path = Record(name="r", history=[{"step": 0, "val_loss": 1.0}]).save(tmp_path / "r.json")
    data = json.loads(path.read_text())
    data["history"][0]["val_loss"] = "1.0"
    path.write_text(json.dumps(data))
    named = f"{path}: cannot read this run record: history[0]['val_loss'] is '1.0' (str)"
    with pytest.raises(RecordError, match=re.escape(named)):
        Record.load(path)
    data["history"][0]["val_loss"] = float("nan")  # a diverged run's last loss: still a number
    path.write_text(json.dumps(data))
    assert math.isnan(Record.load(path).final["val_loss"])
