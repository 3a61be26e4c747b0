import hashlib
import json

import pytest

from mlpipeline.engine.errors import InvalidInputException
from mlpipeline.engine.split import parse_rearrangement, random_percent


def _split(**splitting):
    return parse_rearrangement(json.dumps({"splitting": splitting}))


def _selected(rearrangement, n=10, offsets=None):
    select = rearrangement.selector(n)
    offsets = offsets or [i * 7 for i in range(n)]
    return [i for i in range(n) if select(i, offsets[i])]


def test_sequential_floor_rule():
    assert _selected(_split(percentBegin=0, percentEnd=70)) == [0, 1, 2, 3, 4, 5, 6]
    complement = _split(percentBegin=0, percentEnd=70, complement=True)
    assert _selected(complement) == [7, 8, 9]


def test_sequential_matches_observed_row_count():
    select = _split(percentBegin=0, percentEnd=70).selector(1047)
    assert sum(select(i, 0) for i in range(1047)) == 732


def test_sequential_is_the_default_strategy():
    assert _split(percentBegin=70, percentEnd=100).strategy == "sequential"
    assert _selected(_split(percentBegin=70, percentEnd=100)) == [7, 8, 9]


def test_random_percent_formula():
    digest = hashlib.sha256(b"seed|120").digest()
    expected = int.from_bytes(digest[:8], "big") / 2**64 * 100
    assert random_percent("seed", 120) == expected
    assert 0 <= expected < 100


def test_random_split_selects_by_hashed_offset():
    rule = _split(
        percentBegin=20,
        percentEnd=60,
        strategy="random",
        strategyParams={"randomSeed": "s"},
    )
    offsets = list(range(0, 4000, 4))
    select = rule.selector()
    chosen = [o for o in offsets if select(0, o)]
    assert chosen == [o for o in offsets if 20 <= random_percent("s", o) < 60]
    assert len(chosen) / len(offsets) == pytest.approx(0.40, abs=0.05)


def test_random_split_and_complement_partition_the_rows():
    kwargs = {"percentBegin": 0, "percentEnd": 70, "strategy": "random"}
    offsets = list(range(0, 30000, 30))
    train = _selected(_split(**kwargs), 1000, offsets)
    test = _selected(_split(**kwargs, complement=True), 1000, offsets)
    assert set(train).isdisjoint(test)
    assert sorted(train + test) == list(range(1000))
    assert train == sorted(train)
    assert len(train) / 1000 == pytest.approx(0.7, abs=0.04)
    assert train == _selected(_split(**kwargs), 1000, offsets)


def test_default_seed_is_empty_string_and_both_placements_work():
    default = _split(percentBegin=0, percentEnd=50, strategy="random")
    assert default.seed == ""
    nested = _split(strategy="random", strategyParams={"randomSeed": "abc"})
    flat = _split(strategy="random", randomSeed="abc")
    assert nested.seed == flat.seed == "abc"


def test_changing_earlier_bytes_can_change_the_split():
    rule = _split(percentBegin=0, percentEnd=50, strategy="random").selector()
    shifted = [rule(0, o) != rule(0, o + 1) for o in range(0, 200, 2)]
    assert any(shifted)


@pytest.mark.parametrize("flag", [True, "true", "TRUE", "True"])
def test_complement_accepts_bool_and_string(flag):
    assert _split(percentBegin=0, percentEnd=70, complement=flag).complement


def test_no_percentages_select_everything_and_complement_nothing():
    assert _selected(parse_rearrangement(None)) == list(range(10))
    assert _selected(parse_rearrangement('{"splitting": {}}')) == list(range(10))
    assert _selected(_split(complement=True)) == []


def test_one_percentage_defaults_the_other():
    only_end = _split(percentEnd=30)
    assert (only_end.begin, only_end.end) == (0, 30)
    only_begin = _split(percentBegin=30)
    assert (only_begin.begin, only_begin.end) == (30, 100)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("{not json", "not valid JSON"),
        ('{"splitting": {"percentBegin": -1}}', "between 0 and 100"),
        ('{"splitting": {"percentEnd": 101}}', "between 0 and 100"),
        ('{"splitting": {"percentBegin": 80, "percentEnd": 20}}', "greater than"),
        ('{"splitting": {"strategy": "stratified"}}', "'strategy'"),
        ('{"splitting": {"complement": "yes"}}', "'complement'"),
        ('{"splitting": {"percentBegin": "x"}}', "must be a number"),
        ('{"splitting": {"seed": "x"}}', "unknown key 'seed'"),
        ('{"shuffle": {}}', "unknown key 'shuffle'"),
        ('{"splitting": {"randomSeed": 5}}', "must be a string"),
    ],
)
def test_bad_rearrangements_are_invalid_input(text, message):
    with pytest.raises(InvalidInputException, match=message):
        parse_rearrangement(text)


def test_fractional_percentages_follow_the_same_floor_rule():
    # floor(10 * 33.5 / 100) = 3 and floor(10 * 66.6 / 100) = 6.
    assert _selected(_split(percentBegin=33.5, percentEnd=66.6)) == [3, 4, 5]
    # 70 % of 1047 is 732.9: exact arithmetic keeps it from rounding up.
    select = _split(percentBegin=0, percentEnd=70.0).selector(1047)
    assert sum(select(i, 0) for i in range(1047)) == 732
