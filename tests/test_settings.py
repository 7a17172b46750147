"""A refused setting's hint works when pasted: the suggested value is accepted."""

import re

import pytest

from growkit.settings import SettingError
from growkit.study import StudyConfig
from growkit.train import TrainConfig


@pytest.mark.parametrize("make, field", [
    (lambda v: StudyConfig(factor=v), "factor"),  # a whole number, but >= 2
    (lambda v: StudyConfig(n_embd=v), "n_embd"),
    (lambda v: TrainConfig(steps=v), "steps"),
    (lambda v: TrainConfig(steps=10, lr=v), "lr"),
])
@pytest.mark.parametrize("bad", ["x", True, None, [2]])
def test_the_hint_for_a_wrong_type_is_itself_accepted(make, field, bad):
    with pytest.raises(SettingError) as refused:
        make(bad)
    hint = re.search(rf"e\.g\. {field}=([^ ]+)\.$", str(refused.value))
    assert hint, str(refused.value)
    make(eval(hint.group(1)))  # pasted as written: no error
