"""Every bad input is a clear error: one table, each row the input, the error type and a
phrase the message must contain. Config rows also check that the fix a message suggests
("e.g. key=value") is itself accepted."""

import ast
import json
import re
from dataclasses import asdict

import pytest
import torch

from growkit import GPT, GPTConfig, Study, TrainConfig, Trainer, Variant
from growkit.__main__ import main
from growkit.checkpoint import CheckpointError, load_checkpoint, save_checkpoint
from growkit.cnn import CNNConfig, TemplateCNNConfig
from growkit.data import TextCorpus
from growkit.device import Runtime
from growkit.gpt import TokenIdError
from growkit.grow import grow
from growkit.mixture_study import MixtureConfig
from growkit.record import Record, RecordError
from growkit.resume import ProgramChanged
from growkit.runs import RunOptions
from growkit.settings import SettingError, parse_setting
from growkit.speedup import speedup
from growkit.study import StudyConfig

T = dict(steps=10)  # a valid TrainConfig's required field
G = dict(vocab_size=96, block_size=16, n_layer=1, n_head=2, n_embd=16)

# (config class, keyword arguments, error type, phrase in the message)
CONFIGS = [
    (TrainConfig, dict(steps=3.7), SettingError, "steps must be a whole number"),
    (TrainConfig, dict(steps=-1), SettingError, "steps must be >= 0"),
    (TrainConfig, dict(T, min_lr_ratio=-1), SettingError, "min_lr_ratio must be in [0, 1]"),
    (TrainConfig, dict(T, min_lr_ratio=2), SettingError, "min_lr_ratio must be in [0, 1]"),
    (TrainConfig, dict(T, lr=0), SettingError, "lr must be > 0"),
    (TrainConfig, dict(T, lr=-1e-3), SettingError, "lr must be > 0"),
    (TrainConfig, dict(T, warmup=-5), SettingError, "warmup must be >= 0"),
    (TrainConfig, dict(T, weight_decay=-1), SettingError, "weight_decay must be >= 0"),
    (TrainConfig, dict(T, grad_clip=-1), SettingError, "grad_clip must be >= 0"),
    (TrainConfig, dict(T, batch_size=0), SettingError, "batch_size must be >= 1"),
    (TrainConfig, dict(T, eval_every=0), SettingError, "eval_every must be >= 1"),
    (TrainConfig, dict(T, beta2=1.0), SettingError, "beta2 must be in [0, 1)"),
    (TrainConfig, dict(T, nesterov="False"), SettingError, "nesterov must be a true/false"),
    (TrainConfig, dict(T, seed=True), SettingError, "seed must be a whole number"),
    (TrainConfig, dict(T, optimizer="adam"), SettingError, "optimizer must be one of"),
    (TrainConfig, dict(T, schedule_steps=0), SettingError, "schedule_steps must be >= 1"),
    (GPTConfig, dict(G, n_layer=0), SettingError, "n_layer must be >= 1"),
    (GPTConfig, dict(G, n_layer=-1), SettingError, "n_layer must be >= 1"),
    (GPTConfig, dict(G, n_head=0), SettingError, "n_head must be >= 1"),
    (GPTConfig, dict(G, n_embd=30, n_head=4), SettingError, "not divisible by n_head=4"),
    (GPTConfig, dict(G, n_embd=28, n_head=4), SettingError, "must be even for rotary"),
    (GPTConfig, dict(G, n_embd=2, n_head=4), SettingError, "not divisible"),
    (GPTConfig, dict(G, block_size=0), SettingError, "block_size must be >= 1"),
    (GPTConfig, dict(G, vocab_size=12.5), SettingError, "vocab_size must be a whole number"),
    (StudyConfig, dict(factor=1), SettingError, "factor must be >= 2"),
    (StudyConfig, dict(factor=2.5), SettingError, "factor must be a whole number"),
    (StudyConfig, dict(grow_fraction=1.0), SettingError, "grow_fraction must be in (0, 1)"),
    (StudyConfig, dict(tokens_per_param=0), SettingError, "tokens_per_param must be > 0"),
    (StudyConfig, dict(lr_big=0), SettingError, "lr_big must be > 0"),
    (StudyConfig, dict(lr_after_growth=-1.0), SettingError, "lr_after_growth must be > 0"),
    (StudyConfig, dict(min_lr_ratio=1.5), SettingError, "min_lr_ratio must be in [0, 1]"),
    (StudyConfig, dict(fresh_optimizer="False"), SettingError, "fresh_optimizer must be a true/false"),
    (StudyConfig, dict(restart_schedule=0), SettingError, "restart_schedule must be a true/false"),
    (RunOptions, dict(seeds=[]), SettingError, "seeds must be a non-empty list"),
    (RunOptions, dict(seeds=[0.5]), SettingError, "seeds must be a list of int"),
    (StudyConfig, dict(n_embd=30), SettingError, "multiple of 2 * n_head"),
    (RunOptions, dict(checkpoint_every=0), SettingError, "checkpoint_every must be >= 1"),
    (RunOptions, dict(checkpoint_minutes=-1.0), SettingError, "checkpoint_minutes must be > 0"),
    (StudyConfig, dict(evals=0), SettingError, "evals must be >= 1"),
    (MixtureConfig, dict(shape="wrn-9-1"), SettingError, "shape must be one of"),
    (MixtureConfig, dict(epochs=0), SettingError, "epochs must be > 0"),
    (MixtureConfig, dict(momentum=1.0), SettingError, "momentum must be in [0, 1)"),
    (MixtureConfig, dict(augment="yes"), SettingError, "augment must be a true/false or none"),
    (CNNConfig, dict(depth=11), ValueError, "depth 6n + 4"),
    (CNNConfig, dict(widen=True), SettingError, "widen must be a number"),
    (CNNConfig, dict(num_classes=0), SettingError, "num_classes must be >= 1"),
    (TemplateCNNConfig, dict(templates=0), SettingError, "templates must be >= 1"),
    (StudyConfig, dict(factor="x"), SettingError, "factor must be a whole number"),
    (StudyConfig, dict(factor=1000000), SettingError, "parameters, more than growkit's limit"),
    (StudyConfig, dict(block_size=100000), SettingError, "GiB to train"),
    (StudyConfig, dict(n_embd=65536), SettingError, "parameters, more than growkit's limit"),
    (MixtureConfig, dict(templates=10**6), SettingError, "parameters, more than growkit's limit"),
]


@pytest.mark.parametrize(("cls", "kwargs", "error", "phrase"), CONFIGS,
                         ids=[f"{c.__name__}-{'-'.join(f'{a}={b}' for a, b in k.items() if a != 'steps' or k is not T)}"
                              for c, k, _, _ in CONFIGS])
def test_configs_refuse_bad_values_with_a_valid_fix(cls, kwargs, error, phrase):
    with pytest.raises(error) as info:
        cls(**kwargs)
    message = str(info.value)
    assert phrase in message, message
    # Every suggested value passes: "e.g. key=value" (several for n_embd).
    fixes = re.findall(r"(\w+)=([^\s,;:)]+?)[.)]?(?=[\s,;)]|$)", message.split("e.g.", 1)[-1])
    suggested = [(k, v) for k, v in fixes
                 if (k in kwargs or k == "n_embd") and repr(ast.literal_eval(v)) != repr(kwargs.get(k))]
    if "e.g." in message and cls is not CNNConfig:
        assert suggested, message
    for key, text in suggested:
        value = ast.literal_eval(text)
        cls(**{**kwargs, key: value})


# (what is parsed, error type, phrase): `--set key=value` on a config's field types.
SETTINGS = [
    (("factor", "abc"), SettingError, "factor (StudyConfig.factor, a whole number) cannot be 'abc'"),
    (("factor", "2.5"), SettingError, "use a whole number"),
    (("lr_big", "fast"), SettingError, "lr_big (StudyConfig.lr_big, a number) cannot be 'fast'"),
    (("lr_big", "nan"), SettingError, "finite"),
    (("fresh_optimizer", "maybe"), SettingError, "true or false"),
    (("grow_frac", "0.3"), SettingError, "unknown setting 'grow_frac'"),
]


@pytest.mark.parametrize(("pair", "error", "phrase"), SETTINGS, ids=[p[0] + "=" + p[1] for p, _, _ in SETTINGS])
def test_set_values_are_parsed_by_the_field_type(pair, error, phrase):
    with pytest.raises(error, match=re.escape(phrase)):
        parse_setting(StudyConfig, *pair)


@pytest.mark.parametrize(("key", "raw", "value"), [
    ("restart_schedule", "False", False), ("restart_schedule", "false", False),
    ("fresh_optimizer", "FALSE", False), ("fresh_optimizer", "0", False),
    ("fresh_optimizer", "True", True), ("fresh_optimizer", "1", True),
    ("lr_big", ".01", 0.01), ("factor", "2", 2), ("lr_after_growth", "none", None),
    ("lr_after_growth", "1e-3", 1e-3), ("op", "zero", "zero"),
])
def test_set_values_parse_to_typed_values(key, raw, value):
    assert parse_setting(StudyConfig, key, raw) == (key, value)
    assert type(parse_setting(StudyConfig, key, raw)[1]) is type(value)


@pytest.mark.parametrize(("key", "raw", "value"), [
    ("seeds", "0,1,2", [0, 1, 2]), ("seeds", "[3, 4]", [3, 4]), ("checkpoint_every", "None", None),
    ("checkpoint_every", "500", 500), ("prune", "true", True),
])
def test_run_settings_parse_to_typed_values(key, raw, value):
    assert parse_setting(RunOptions, key, raw) == (key, value)


def test_mixture_settings_parse_optional_bools():
    assert parse_setting(MixtureConfig, "augment", "none") == ("augment", None)
    assert parse_setting(MixtureConfig, "augment", "TRUE") == ("augment", True)


# ---- the command line: refused before anything trains --------------------------------------

@pytest.mark.parametrize(("args", "phrase"), [
    (["--set", "restart_schedule=Flase"],
     "restart_schedule (StudyConfig.restart_schedule, a true/false) cannot be 'Flase'"),
    (["--set", "factor=abc"], "factor (StudyConfig.factor, a whole number) cannot be 'abc'"),
    (["--set", "factor=1"], "StudyConfig.factor must be >= 2"),
    (["--set", "op=mixture"], "StudyConfig.op='mixture'"),
    (["--set", "op=nope"], "no depth operator 'nope'"),
    (["--set", "min_lr_ratio=-1"], "min_lr_ratio must be in [0, 1]"),
    (["--set", "grow_frac=0.3"], "unknown setting 'grow_frac'"),
    (["--set", "seeds=0,x"], "seeds (RunOptions.seeds, a list of int) cannot be '0,x'"),
    (["--set", "checkpoint_every=0"], "RunOptions.checkpoint_every must be >= 1"),
    (["--workers", "0"], "workers must be a whole number >= 1 or 'auto'"),
])
def test_compare_refuses_bad_settings_before_training(args, phrase, tmp_path, capsys, monkeypatch):
    import growkit.study as study

    monkeypatch.setattr(study, "Trainer", None)  # nothing may train
    with pytest.raises(SystemExit) as info:
        main(["compare", "--preset", "smoke", "--out", str(tmp_path / "o"), "--no-progress", *args])
    assert info.value.code == 2
    assert phrase in capsys.readouterr().err
    assert not (tmp_path / "o").exists()


def test_compare_refuses_a_folder_of_other_settings(tmp_path, capsys, monkeypatch):
    import json

    out = tmp_path / "o"
    out.mkdir()
    (out / "summary.json").write_text(json.dumps({"config": asdict(StudyConfig(factor=2))}))
    import growkit.study as study

    monkeypatch.setattr(study, "Trainer", None)
    with pytest.raises(SystemExit) as info:
        main(["compare", "--preset", "cpu", "--out", str(out), "--no-progress"])
    err = capsys.readouterr().err
    assert info.value.code == 2 and "factor: 2 there, 4 now" in err and "--out" in err


# ---- growth, data, files, speedup ---------------------------------------------------------

def tiny(**kw):
    torch.manual_seed(0)
    return GPT(GPTConfig(**{**G, **kw}))


def short_corpus():
    ids = torch.arange(10) % 5
    return TextCorpus("short", "abcde", ids, ids)


def truncated(path, tmp_path):
    out = tmp_path / ("cut" + path.suffix)
    data = path.read_bytes()
    out.write_bytes(data[: len(data) // 2])
    return out


def checkpoint_file(tmp_path):
    return save_checkpoint(tmp_path / "m.pt", tiny())


def record_file(tmp_path):
    return Record(name="r", history=[{"val_loss": 1.0}]).save(tmp_path / "r.json")


def three_heads():
    return GPT(GPTConfig(**{**G, "n_head": 3, "n_embd": 24, "mlp_hidden": 60}))


def edited(path, val_loss):
    """A record edited by hand: its last val_loss replaced."""
    data = json.loads(path.read_text())
    data["history"][-1]["val_loss"] = val_loss
    path.write_text(json.dumps(data))
    return path


def flipped(path):
    """A checkpoint with one byte of its weights flipped (a bad disk, a bad copy)."""
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0xFF
    path.write_bytes(bytes(data))
    return path


def with_meta(rec, **meta):
    rec.meta.update(meta)
    return rec


def curve(losses, **meta):
    return Record(name="run", history=[{"step": i, "phase": 0, "flops": 10.0 * i, "tokens": 10 * i,
                                        "val_loss": v} for i, v in enumerate(losses)], meta=meta)


OTHER = [
    ("grow factor 10**6", lambda p, c: grow(tiny(), "stack", factor=10**6), ValueError,
     "parameters, more than growkit's limit"),
    ("grow factor True", lambda p, c: grow(tiny(), "stack", factor=True), TypeError,
     "finite number such as 2, got True"),
    ("grow factor nan", lambda p, c: grow(tiny(), "stack", factor=float("nan")), TypeError, "finite number"),
    ("grow factor '2'", lambda p, c: grow(tiny(), "stack", factor="2"), TypeError, "finite number"),
    ("grow factor 0.5", lambda p, c: grow(tiny(), "stack", factor=0.5), ValueError, ">= 1"),
    ("width factor 10**4", lambda p, c: grow(tiny(), "zero", dim="width", factor=10**4), ValueError,
     "MAX_GROWN_PARAMS"),
    ("vocab smaller than data", lambda p, c: Trainer(tiny(vocab_size=10), c, TrainConfig(**T), progress=False),
     ValueError, "vocab_size=10 is smaller than the kjv corpus"),
    ("corpus shorter than a block", lambda p, c: Trainer(tiny(vocab_size=5), short_corpus(), TrainConfig(**T),
                                                         progress=False), ValueError, "longer text or block_size"),
    ("truncated checkpoint", lambda p, c: load_checkpoint(truncated(checkpoint_file(p), p)), CheckpointError,
     "cut.pt: cannot load this checkpoint"),
    ("foreign checkpoint", lambda p, c: (torch.save({"a": 1}, p / "f.pt"), load_checkpoint(p / "f.pt")),
     CheckpointError, "not a growkit checkpoint"),
    ("text as checkpoint", lambda p, c: ((p / "t.pt").write_text("hello"), load_checkpoint(p / "t.pt")),
     CheckpointError, "Delete it and re-run"),
    ("truncated record", lambda p, c: Record.load(truncated(record_file(p), p)), RecordError,
     "cut.json: cannot read this run record: it is not complete JSON"),
    ("foreign record", lambda p, c: ((p / "x.json").write_text('{"foo": 1}'), Record.load(p / "x.json")),
     RecordError, "not a run record"),
    ("speedup across corpora",
     lambda p, c: speedup(curve([3, 2, 1], corpus="kjv"), curve([3, 1], corpus="shakespeare")),
     ValueError, "different data (corpus 'kjv' vs 'shakespeare')"),
    ("speedup across seeds", lambda p, c: speedup(curve([3, 2, 1], seed=0), curve([3, 1], seed=1)),
     ValueError, "seed 0 vs 1"),
    ("speedup of an empty record", lambda p, c: speedup(curve([3, 2, 1]), curve([])), ValueError,
     "no evaluations"),
    ("nan_check_every=0", lambda p, c: Trainer(tiny(), c, TrainConfig(**T), progress=False,
                                               runtime=Runtime(nan_check_every=0)),
     SettingError, "e.g. nan_check_every=10"),
    ("workers=0", lambda p, c: Study.from_preset("smoke", progress=False, cache_dir=p).run([Variant()], workers=0),
     SettingError, "e.g. workers=2"),
    ("workers without a cache", lambda p, c: Study.from_preset("smoke", progress=False).run([Variant()], workers=2),
     SettingError, "cache_dir="),
    ("record with val_loss 'abc'", lambda p, c: Record.load(edited(record_file(p), "abc")), RecordError,
     "history[0]['val_loss'] is 'abc' (str), not a number (was it edited by hand?)"),
    ("record with val_loss null", lambda p, c: Record.load(edited(record_file(p), None)), RecordError,
     "history[0]['val_loss'] is None (NoneType), not a number"),
    ("token id >= vocab_size", lambda p, c: tiny()(torch.tensor([[1, 96]])), TokenIdError,
     "token id 96"),
    ("grow(None, 'stack')", lambda p, c: grow(None, "stack"), TypeError, "grow() grows a model"),
    ("grow seed 'abc'", lambda p, c: grow(tiny(), "random", seed="abc"), TypeError, "e.g. seed=0"),
    ("width factor 1.5 of 3 heads", lambda p, c: grow(three_heads(), "zero", dim="width", factor=1.5),
     ValueError, "e.g. factor=5/3 ("),
    ("Record.save under a file", lambda p, c: (record_file(p), Record(name="r").save(p / "r.json" / "x.json")),
     NotADirectoryError, "r.json is a file, not a folder"),
    ("checkpoint with a flipped byte", lambda p, c: load_checkpoint(flipped(checkpoint_file(p))), CheckpointError,
     "do not match their checksum"),
]


@pytest.mark.parametrize(("what", "call", "error", "phrase"), OTHER, ids=[o[0] for o in OTHER])
def test_bad_inputs_name_the_problem(what, call, error, phrase, tmp_path, corpus):
    with pytest.raises(error) as info:
        call(tmp_path, corpus)
    assert phrase in str(info.value), str(info.value)


def test_speedup_never_divides_by_zero():
    # Scratch ends worse than the grown run's first evaluation (at zero compute).
    sp = speedup(curve([3.0, 2.5, 2.6]), curve([2.0, 1.5]))
    assert sp.flops is None and sp.tokens is None and not sp.reached
    assert "at its first evaluation" in sp.reason and "no speedup" in str(sp)


def test_malicious_pickles_stay_refused(tmp_path):
    import pickle

    class Evil:
        def __reduce__(self):
            return (print, ("pwned",))

    path = tmp_path / "evil.pt"
    torch.save({"kind": "gpt", "x": Evil()}, path)
    with pytest.raises(pickle.UnpicklingError, match="evil.pt"):
        load_checkpoint(path)


def test_every_setting_parses_back_from_its_own_text():
    """Each field of the study configs, written as one would on the command line, parses to
    its default (so every field's type is one `--set` handles)."""
    import dataclasses

    def text(v):
        return "none" if v is None else ",".join(map(str, v)) if isinstance(v, list) else str(v)

    for cls in (StudyConfig, MixtureConfig):
        default = cls()
        for f in dataclasses.fields(cls):
            value = getattr(default, f.name)
            assert parse_setting(cls, f.name, text(value)) == (f.name, value), f.name


# ---- the command line: one line and a non-zero exit, the traceback under --debug -----------

def a_file(p):
    (p / "f").write_text("mine")
    return p / "f"


def own_files(p):
    """A folder of the user's own summary.txt and compare.png, no growkit summary.json."""
    (p / "mine").mkdir()
    (p / "mine" / "summary.txt").write_text("my notes")
    (p / "mine" / "compare.png").write_text("my figure")
    return p / "mine"


# (what, the --out / --set arguments given the test's folder, phrase): refused before training.
CLI_REFUSALS = [
    ("--out an existing file", lambda p: ["--out", str(a_file(p))], "is a file, not a folder"),
    ("--out under a file", lambda p: ["--out", str(a_file(p) / "sub")], "which is a file, not a folder"),
    ("--out under /proc", lambda p: ["--out", "/proc/growkit-test"], "cannot create folders in /proc"),
    ("--out too long a name", lambda p: ["--out", str(p / ("x" * 300))], "the file system allows for one name"),
    ("--out holding the user's files", lambda p: ["--out", str(own_files(p))], "holds files growkit did not write"),
    ("--set factor=1000000", lambda p: ["--set", "factor=1000000", "--out", str(p / "o")],
     "parameters, more than growkit's limit"),
    ("--set block_size=100000", lambda p: ["--set", "block_size=100000", "--out", str(p / "o")], "GiB to train"),
    ("--set n_embd=65536", lambda p: ["--set", "n_embd=65536", "--out", str(p / "o")],
     "parameters, more than growkit's limit"),
]


@pytest.mark.parametrize(("what", "args", "phrase"), CLI_REFUSALS, ids=[c[0] for c in CLI_REFUSALS])
def test_compare_refuses_folders_and_sizes_in_one_line(what, args, phrase, tmp_path, capsys, monkeypatch):
    import os

    import growkit.study as study

    if "/proc" in what and not os.path.isdir("/proc"):
        pytest.skip("no /proc here")
    monkeypatch.setattr(study, "Trainer", None)  # nothing may train
    given = args(tmp_path)
    with pytest.raises(SystemExit) as info:
        main(["compare", "--preset", "smoke", "--no-progress", *given])
    err = capsys.readouterr().err
    assert info.value.code == 2 and phrase in err and len(err.splitlines()) == 1, err
    if "user's files" in what:  # untouched
        assert (tmp_path / "mine" / "summary.txt").read_text() == "my notes"
        assert sorted(p.name for p in (tmp_path / "mine").iterdir()) == ["compare.png", "summary.txt"]


def test_a_diverged_run_is_one_line_and_its_traceback_is_under_debug(tmp_path, capsys):
    from growkit.train import Diverged

    out = tmp_path / "div"
    with pytest.raises(SystemExit) as info:
        main(["compare", "--preset", "smoke", "--no-progress", "--set", "lr_big=1000", "--out", str(out)])
    err = capsys.readouterr().err
    assert info.value.code == 2 and len(err.splitlines()) == 1, err
    assert "scratch: loss became nan" in err and "lower the learning rate" in err and str(out / "runs") in err
    with pytest.raises(Diverged):  # --debug: the error itself, traceback and all
        main(["compare", "--preset", "smoke", "--no-progress", "--set", "lr_big=1000", "--out", str(out),
              "--debug"])


@pytest.mark.parametrize("error", [
    ProgramChanged("scratch: resumed from x.resume.pt, whose phase 1 was started by grow('stack'); the "
                   "program now calls grow('zero'). To start fresh delete x.resume.pt"),
    CheckpointError("runs/x.resume.pt", "its contents do not match their checksum"),
    RecordError("runs/x.json", "it is not complete JSON"),
], ids=lambda e: type(e).__name__)
def test_expected_failures_are_one_line(error, tmp_path, capsys, monkeypatch):
    import growkit.compare as compare

    def fails(*a, **k):
        raise error

    monkeypatch.setattr(compare, "train", fails)
    args = ["compare", "--preset", "smoke", "--no-progress", "--out", str(tmp_path / "o")]
    with pytest.raises(SystemExit) as info:
        main(args)
    err = capsys.readouterr().err
    assert info.value.code == 2 and err == f"python -m growkit compare: error: {error}\n"
    with pytest.raises(type(error)):
        main([*args, "--debug"])


def test_runs_that_cannot_mean_anything_are_flagged_in_table_and_verdict(tmp_path):
    """One step per run (tokens_per_param=1e-12) used to read "+579%"; a warmup past the
    schedule leaves scratch at its warmup rate. The smoke preset (and every other) is not
    flagged."""
    from growkit.limits import study_flags
    from growkit.study import PRESETS, preset

    out = tmp_path / "tiny"
    assert main(["compare", "--preset", "smoke", "--no-progress", "--set", "tokens_per_param=1e-12",
                 "--out", str(out)]) == 0
    summary = json.loads((out / "summary.json").read_text())
    assert "cannot mean anything" in (out / "summary.txt").read_text() and summary["flags"]
    assert "1 step(s), fewer than 10" in summary["flags"][0]
    study = Study(preset("smoke", tokens_per_param=1e-12), cache_dir=out / "runs", readonly=True)
    row = study.row(Variant())
    assert "cannot mean anything" in study.verdict(row) and "cannot mean anything" in study.table([row])
    flags = study_flags(Study(preset("smoke", warmup=10**6)), [Variant()])
    assert flags and "a warmup of 1000000 steps it never leaves" in flags[0]
    for name in PRESETS:
        cfg = preset(name)
        assert study_flags(Study(cfg), [Variant(cfg.op, "depth", cfg.factor)]) == [], name


@pytest.mark.parametrize("steps", ["0", "-3"])
def test_bench_refuses_steps_below_one(steps, capsys):
    import importlib.util
    from pathlib import Path

    path = Path(__file__).resolve().parent.parent / "tools" / "bench.py"
    spec = importlib.util.spec_from_file_location("growkit_bench", path)
    bench = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench)
    with pytest.raises(SystemExit) as info:
        bench.main(["--steps", steps])
    err = capsys.readouterr().err
    assert info.value.code == 2 and f"--steps: must be a whole number >= 1, got {steps}: e.g. 8" in err


def test_the_table_in_the_docs_has_a_row_for_every_case():
    """docs/bad_inputs.md shows what growkit says: each case of this file's tables has a row
    there holding the phrase this file checks (rerun a case and paste its message to add one)."""
    from pathlib import Path

    doc = (Path(__file__).resolve().parent.parent / "docs" / "bad_inputs.md").read_text()
    rows = [line for line in doc.splitlines() if line.startswith("| ") and not line.startswith(("| input", "| ---"))]
    missing = [case[0] if isinstance(case[0], str) else case[:2]
               for table in (CONFIGS, SETTINGS, OTHER, CLI_REFUSALS) for case in table
               if not any(case[-1] in row for row in rows)]
    assert missing == []
