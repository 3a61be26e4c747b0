"""The evaluation split by primary key: stable across runs, on both paths."""

import csv
import hashlib
import io

import pytest
from django.core.files.storage import default_storage

from mlpipeline import Pipeline
from mlpipeline.exceptions import DataError
from mlpipeline.extract import extract
from mlpipeline.learn import learn
from mlpipeline.schema import layout_for
from mlpipeline.split import SplitRule, describe, split_paths
from mlpipeline.transform import transform
from project.demo.models import Insured

pytestmark = pytest.mark.django_db


class KeyedPipeline(Pipeline):
    """Writes each row's key as its row id, so the files tell the rows."""

    name = "keyed"
    model = Insured
    fields = ["id", "age", "married", "insurance"]
    target = "insurance"
    row_id = "id"


def uploaded_keys(run):
    """Return the row ids in each side's uploaded features file."""
    keys = {}
    for kind, location in run.steps.get(name="upload").detail["locations"].items():
        with default_storage.open(location) as file:
            reader = csv.DictReader(io.TextIOWrapper(file, encoding="utf-8"))
            keys[kind] = {int(row["id"]) for row in reader}
    return keys


def expected_sides(rule, pks):
    sides = {"train": set(), "evaluation": set()}
    for pk in pks:
        sides[rule.side(str(pk))].add(pk)
    return sides


def test_the_rule_is_sha256_of_seed_and_key_against_the_percent():
    rule = SplitRule("keyed", 70)
    for pk in ["1", "17", "42", "a1b2", "ünï"]:
        digest = hashlib.sha256(f"keyed|{pk}".encode()).digest()
        place = int.from_bytes(digest[:8], "big") / 2**64 * 100
        assert rule.side(pk) == ("evaluation" if place >= 70 else "train")
    assert rule.sides([str(pk) for pk in range(9, 17)]) == [
        "train", "evaluation", "train", "evaluation",
        "evaluation", "train", "evaluation", "evaluation",
    ]  # fmt: skip


def test_a_row_keeps_its_side_when_other_rows_come_and_go(insured_rows):
    first = learn(KeyedPipeline())
    before = uploaded_keys(first)
    pks = sorted(Insured.objects.values_list("pk", flat=True))
    removed = pks[::8]
    Insured.objects.filter(pk__in=removed).delete()
    for person in insured_rows[:60]:
        person.pk = None
        person.save()

    second = learn(KeyedPipeline())
    after = uploaded_keys(second)

    surviving = set(pks) - set(removed)
    current = set(Insured.objects.values_list("pk", flat=True))
    assert len(current) == 400 - 50 + 60
    assert before["evaluation"] & surviving == after["evaluation"] & surviving
    assert before["train"] & surviving == after["train"] & surviving
    # A partition of today's rows, each side as the rule says.
    assert after["train"] | after["evaluation"] == current
    assert not after["train"] & after["evaluation"]
    assert after == expected_sides(SplitRule("keyed", 70), current)
    assert (second.rows_train, second.rows_evaluation) == (
        len(after["train"]),
        len(after["evaluation"]),
    )
    assert second.rows_extracted == second.rows_written == 410
    assert second.split == {
        "method": "sha256(seed|pk)",
        "seed": "keyed",
        "train_percent": 70,
    }


def test_the_seed_changes_the_split(insured_rows):
    class Reseeded(KeyedPipeline):
        seed = "another seed"

    pks = set(Insured.objects.values_list("pk", flat=True))

    ours = uploaded_keys(learn(KeyedPipeline()))
    theirs = uploaded_keys(learn(Reseeded()))

    assert ours == expected_sides(SplitRule("keyed", 70), pks)
    assert theirs == expected_sides(SplitRule("another seed", 70), pks)
    assert ours["evaluation"] != theirs["evaluation"]
    # Independent draws: about 30 % of one side's rows are on the other's.
    shared = len(ours["evaluation"] & theirs["evaluation"])
    assert 0.15 < shared / len(ours["evaluation"]) < 0.45


def write_keyed_rows(path, keys):
    with open(path, "w", newline="") as file:
        writer = csv.writer(file, lineterminator="\n")
        writer.writerow(["(primary key)", "age", "insurance"])
        writer.writerows([key, str(index % 60), str(index % 2)] for index, key in keys)


class AgePipeline(Pipeline):
    name = "ages"
    model = Insured
    fields = ["age", "insurance"]
    target = "insurance"


@pytest.mark.parametrize(("percent", "evaluation"), [(70, 29_869), (90, 10_036)])
def test_the_fraction_follows_train_percent_on_a_large_table(
    tmp_path, percent, evaluation
):
    class Split(AgePipeline):
        train_percent = percent

    rows = tmp_path / "rows.csv"
    write_keyed_rows(rows, enumerate(str(pk) for pk in range(1, 100_001)))

    result = transform(layout_for(Split()), rows, tmp_path / "features.csv")

    assert result.split_rows == {
        "train": 100_000 - evaluation,
        "evaluation": evaluation,
    }
    # Within 0.2 points of 100 - train_percent; one binomial standard
    # deviation is 0.145 points at 70 % and 0.095 at 90 %.
    assert abs(evaluation / 1000 - (100 - percent)) < 0.2
    for kind, path in split_paths(tmp_path / "features.csv").items():
        with open(path) as file:
            assert sum(1 for _ in file) == result.split_rows[kind] + 1


def test_a_side_without_rows_is_refused(tmp_path):
    rows = tmp_path / "rows.csv"
    # Enough rows for a 70/30 split, but every key trains under "ages".
    rule = SplitRule("ages", 70)
    keys = [key for key in map(str, range(1, 200)) if rule.side(key) == "train"]
    write_keyed_rows(rows, enumerate(keys[:20]))

    with pytest.raises(DataError) as refused:
        transform(layout_for(AgePipeline()), rows, tmp_path / "features.csv")

    assert str(refused.value) == (
        "Pipeline 'ages': the split by primary key put none of its 20 rows on the "
        "evaluation side (train_percent 70); add rows or change train_percent."
    )
    assert not (tmp_path / "features.csv.schema").exists()


def test_row_method_and_queryset_pipelines_split_by_the_instance_key(
    insured_rows, tmp_path
):
    class Banded(Pipeline):
        name = "banded"
        queryset = Insured.objects.filter(age__gte=30)
        fields = ["band", "insurance"]
        attribute_types = {"band": "CATEGORICAL"}
        target = "insurance"

        def row(self, insured):
            return [f"{insured.pk}:{insured.age // 10}", insured.insurance]

    pipeline = Banded()
    layout = layout_for(pipeline)
    extract(pipeline, layout, tmp_path / "rows.csv", chunk_size=50)

    transform(layout, tmp_path / "rows.csv", tmp_path / "features.csv")

    found = {}
    for kind, path in split_paths(tmp_path / "features.csv").items():
        with open(path, newline="") as file:
            found[kind] = {
                int(row["band"].split(":")[0]) for row in csv.DictReader(file)
            }
    pks = Insured.objects.filter(age__gte=30).values_list("pk", flat=True)
    assert found == expected_sides(SplitRule("banded", 70), pks)


def test_a_recorded_rule_reads_as_words():
    assert describe(SplitRule("plans", 80).as_dict()) == (
        "sha256(seed|pk) with seed 'plans' and 80 % training rows"
    )
    assert describe({}) == (
        "a seeded random split of the file's byte offsets (runs made before the "
        "split by primary key)"
    )
