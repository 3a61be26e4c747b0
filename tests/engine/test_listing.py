import datetime as dt
import json

import pytest
from botocore.exceptions import WaiterError

from mlpipeline.engine import InvalidInputException
from mlpipeline.engine.listing import describe

from .conftest import ATTRS, binary_rows

CREATED = dt.datetime(2024, 5, 1, tzinfo=dt.UTC).timestamp()


def _documents(names, statuses=None, step=60.0):
    """Return data source documents created one ``step`` apart."""
    statuses = statuses or ["COMPLETED"] * len(names)
    documents = []
    for i, (name, status) in enumerate(zip(names, statuses, strict=True)):
        api = {
            "DataSourceId": f"ds-{i:03d}",
            "Name": name,
            "Status": status,
            "DataLocationS3": f"uploads/{name}.csv",
            "CreatedAt": CREATED + i * step,
            "LastUpdatedAt": CREATED + i * step,
        }
        documents.append((api["DataSourceId"], {"api": api}))
    return documents


def _ids(result):
    return [r["DataSourceId"] for r in result["Results"]]


NAMES = ["2014-09-09-HolidayGiftMailer", "2014-10-01-Sale", "beta", "alpha", "beta"]


@pytest.mark.parametrize(
    ("comparator", "value", "expected"),
    [
        ("Prefix", "2014-09", ["ds-000"]),
        ("EQ", "beta", ["ds-002", "ds-004"]),
        ("NE", "beta", ["ds-000", "ds-001", "ds-003"]),
        ("GT", "alpha", ["ds-002", "ds-004"]),
        ("GE", "alpha", ["ds-003", "ds-002", "ds-004"]),
        ("LT", "alpha", ["ds-000", "ds-001"]),
        ("LE", "2014-10-01-Sale", ["ds-000", "ds-001"]),
    ],
)
def test_comparators_filter_on_the_variable(comparator, value, expected):
    request = {"FilterVariable": "Name", comparator: value}
    assert _ids(describe("datasource", _documents(NAMES), request)) == expected


def test_results_are_sorted_by_the_variable_ties_by_id():
    documents = _documents(NAMES)
    ascending = describe("datasource", documents, {"FilterVariable": "Name"})
    assert _ids(ascending) == ["ds-000", "ds-001", "ds-003", "ds-002", "ds-004"]
    descending = describe(
        "datasource", documents, {"FilterVariable": "Name", "SortOrder": "dsc"}
    )
    assert _ids(descending) == ["ds-004", "ds-002", "ds-003", "ds-001", "ds-000"]
    assert _ids(describe("datasource", documents, {})) == [
        "ds-000",
        "ds-001",
        "ds-002",
        "ds-003",
        "ds-004",
    ]


def test_comparators_combine_and_timestamps_compare_as_instants():
    documents = _documents(NAMES)
    request = {
        "FilterVariable": "CreatedAt",
        "GE": "2024-05-01T00:01:00+00:00",
        "LT": str(CREATED + 240),
    }
    assert _ids(describe("datasource", documents, request)) == [
        "ds-001",
        "ds-002",
        "ds-003",
    ]
    naive = {"FilterVariable": "CreatedAt", "GT": "2024-05-01T00:03:00"}
    assert _ids(describe("datasource", documents, naive)) == ["ds-004"]
    prefix = {"FilterVariable": "CreatedAt", "Prefix": "2024-05-01T00:02"}
    assert _ids(describe("datasource", documents, prefix)) == ["ds-002"]


def test_limit_defaults_to_100_and_pages_follow_next_token():
    documents = _documents([f"n{i:03d}" for i in range(150)])
    first = describe("datasource", documents, {"FilterVariable": "Name"})
    assert len(first["Results"]) == 100 and "NextToken" in first
    second = describe(
        "datasource",
        documents,
        {"FilterVariable": "Name", "NextToken": first["NextToken"]},
    )
    assert len(second["Results"]) == 50 and "NextToken" not in second
    assert _ids(first) + _ids(second) == [f"ds-{i:03d}" for i in range(150)]


def test_next_page_starts_after_the_last_result_when_entities_are_added():
    documents = _documents(["a", "c", "e"])
    first = describe("datasource", documents, {"FilterVariable": "Name", "Limit": 2})
    assert _ids(first) == ["ds-000", "ds-001"]
    later = [*documents, *_documents(["b", "d"])]
    later[3] = ("ds-x", {"api": {**later[3][1]["api"], "DataSourceId": "ds-x"}})
    later[4] = ("ds-y", {"api": {**later[4][1]["api"], "DataSourceId": "ds-y"}})
    second = describe(
        "datasource",
        later,
        {"FilterVariable": "Name", "Limit": 2, "NextToken": first["NextToken"]},
    )
    assert _ids(second) == ["ds-y", "ds-002"]


def test_deleted_entities_are_listed_only_when_asked_for():
    documents = _documents(["a", "b", "c"], ["COMPLETED", "DELETED", "FAILED"])
    assert _ids(describe("datasource", documents, {})) == ["ds-000", "ds-002"]
    deleted = {"FilterVariable": "Status", "EQ": "DELETED"}
    assert _ids(describe("datasource", documents, deleted)) == ["ds-001"]
    failed = {"FilterVariable": "Status", "EQ": "FAILED"}
    assert _ids(describe("datasource", documents, failed)) == ["ds-002"]


@pytest.mark.parametrize(
    ("request_", "message"),
    [
        ({"Limit": 0}, "between 1 and 100"),
        ({"Limit": 101}, "between 1 and 100"),
        ({"Limit": "5"}, "must be an integer"),
        ({"Limit": True}, "must be an integer"),
        ({"FilterVariable": "DataSourceId"}, "FilterVariable 'DataSourceId'"),
        ({"FilterVariable": "Name", "SortOrder": "desc"}, "'asc' or 'dsc'"),
        ({"EQ": "x"}, "EQ needs a FilterVariable"),
        ({"FilterVariable": "Name", "EQ": "   "}, "non-space"),
        ({"FilterVariable": "Name", "EQ": "x" * 1025}, "at most 1024"),
        ({"FilterVariable": "CreatedAt", "GT": "yesterday"}, "not a date-time"),
        ({"NextToken": "not-a-token"}, "was not returned by this listing"),
    ],
)
def test_bad_describe_requests(request_, message):
    with pytest.raises(InvalidInputException, match=message):
        describe("datasource", _documents(["a"]), request_)


def test_next_token_belongs_to_its_query():
    documents = _documents(["a", "b", "c"])
    token = describe("datasource", documents, {"FilterVariable": "Name", "Limit": 1})[
        "NextToken"
    ]
    with pytest.raises(InvalidInputException, match="same filters and sort order"):
        describe(
            "datasource",
            documents,
            {"FilterVariable": "Name", "SortOrder": "dsc", "NextToken": token},
        )


# Against the engine


@pytest.fixture
def evaluated(engine, trained):
    engine.create_evaluation(
        EvaluationId="ev-1", MLModelId=trained, EvaluationDataSourceId="ds-test"
    )
    return "ev-1"


def test_engine_describes_every_entity_type(engine, store, trained, evaluated):
    engine.update_data_source(DataSourceId="ds-train", DataSourceName="train")
    sources = engine.describe_data_sources(FilterVariable="Name", EQ="train")
    assert [r["DataSourceId"] for r in sources["Results"]] == ["ds-train"]
    assert sources["Results"][0]["Status"] == "COMPLETED"
    assert "Statistics" not in sources["Results"][0]

    models = engine.describe_ml_models(
        FilterVariable="TrainingDataSourceId", EQ="ds-train"
    )["Results"]
    assert [m["MLModelId"] for m in models] == [trained]
    assert models[0]["Algorithm"] == "sgd"
    assert isinstance(models[0]["CreatedAt"], dt.datetime)
    for variable, value in [
        ("MLModelType", "BINARY"),
        ("Algorithm", "sgd"),
        ("RealtimeEndpointStatus", "NONE"),
        ("TrainingDataURI", "uploads/ds-train.csv"),
    ]:
        found = engine.describe_ml_models(FilterVariable=variable, EQ=value)
        assert [m["MLModelId"] for m in found["Results"]] == [trained]

    evaluations = engine.describe_evaluations(
        FilterVariable="DataSourceId", EQ="ds-test"
    )["Results"]
    assert [e["EvaluationId"] for e in evaluations] == [evaluated]
    assert "Report" not in evaluations[0]
    by_uri = engine.describe_evaluations(
        FilterVariable="DataURI", Prefix="uploads/ds-te"
    )
    assert [e["EvaluationId"] for e in by_uri["Results"]] == [evaluated]
    assert engine.describe_batch_predictions() == {"Results": []}

    engine.create_batch_prediction(
        BatchPredictionId="bp",
        MLModelId=trained,
        BatchPredictionDataSourceId="ds-test",
        OutputUri="out",
    )
    found = engine.describe_batch_predictions(FilterVariable="MLModelId", EQ=trained)
    assert [b["BatchPredictionId"] for b in found["Results"]] == ["bp"]
    assert found["Results"][0]["TotalRecordCount"] > 0


# botocore's waiters and paginators


NO_WAIT = {"Delay": 0, "MaxAttempts": 2}
WAITERS = [
    ("data_source_available", "Name", "ready"),
    ("ml_model_available", "Name", "ready"),
    ("evaluation_available", "Name", "ready"),
    ("batch_prediction_available", "Name", "ready"),
]


@pytest.fixture
def named(engine, trained, evaluated):
    """Name one entity of each type 'ready'."""
    engine.update_data_source(DataSourceId="ds-train", DataSourceName="ready")
    engine.update_ml_model(MLModelId=trained, MLModelName="ready")
    engine.update_evaluation(EvaluationId=evaluated, EvaluationName="ready")
    engine.create_batch_prediction(
        BatchPredictionId="bp",
        MLModelId=trained,
        BatchPredictionDataSourceId="ds-test",
        OutputUri="out",
        BatchPredictionName="ready",
    )


@pytest.mark.parametrize(("waiter", "variable", "value"), WAITERS)
def test_botocore_waiters_succeed_on_completed_entities(
    engine, named, waiter, variable, value
):
    engine.get_waiter(waiter).wait(
        FilterVariable=variable, EQ=value, WaiterConfig=NO_WAIT
    )


@pytest.mark.parametrize(("waiter", "variable", "value"), WAITERS)
def test_botocore_waiters_keep_waiting_while_nothing_matches(
    engine, named, waiter, variable, value
):
    with pytest.raises(WaiterError, match="Max attempts exceeded"):
        engine.get_waiter(waiter).wait(
            FilterVariable=variable, EQ="nothing", WaiterConfig=NO_WAIT
        )


def test_botocore_waiter_fails_when_any_entity_failed(engine, data_source, named):
    # ds-test (COMPLETED) and ds-none (FAILED: it selects no record) have
    # no name, so both are listed.
    none = {"splitting": {"complement": True}}
    assert data_source("ds-none", binary_rows(5), ATTRS, "y", none)["Status"] == (
        "FAILED"
    )
    waiter = engine.get_waiter("data_source_available")
    with pytest.raises(WaiterError, match="terminal failure state"):
        waiter.wait(FilterVariable="Name", EQ="", WaiterConfig=NO_WAIT)


def test_botocore_waiter_waits_for_running_entities(engine, store, named):
    name = "engine/mlmodels/ml-1.json"
    document = json.loads(store.open(name).read())
    document["api"]["Status"] = "INPROGRESS"
    store.write(name, json.dumps(document).encode())
    waiter = engine.get_waiter("ml_model_available")
    with pytest.raises(WaiterError, match="Max attempts exceeded"):
        waiter.wait(FilterVariable="Name", EQ="ready", WaiterConfig=NO_WAIT)


def test_unknown_waiter_is_refused(engine):
    with pytest.raises(ValueError, match="ml_model_available"):
        engine.get_waiter("endpoint_ready")


def test_botocore_paginator_walks_every_page(engine, data_source):
    for i in range(5):
        data_source(f"ds-{i}", binary_rows(5), ATTRS, "y")
    paginator = engine.get_paginator("describe_data_sources")
    pages = list(
        paginator.paginate(FilterVariable="Name", PaginationConfig={"PageSize": 2})
    )
    assert [len(page["Results"]) for page in pages] == [2, 2, 1]
    everything = paginator.paginate(FilterVariable="Name").build_full_result()
    assert [r["DataSourceId"] for r in everything["Results"]] == [
        f"ds-{i}" for i in range(5)
    ]
