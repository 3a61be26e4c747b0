import json

from django.core.files.storage import FileSystemStorage

from mlpipeline.engine import Engine
from mlpipeline.storage import DjangoStore


def test_django_store_lists_a_folder(tmp_path):
    store = DjangoStore(FileSystemStorage(location=tmp_path))
    store.write("d/b.json", b"1")
    store.write("d/a.json", b"2")
    store.write("d/sub/c.json", b"3")
    assert store.listdir("d") == ["a.json", "b.json"]
    assert store.listdir("missing") == []


def test_engine_lists_entities_kept_in_a_django_storage(tmp_path):
    store = DjangoStore(FileSystemStorage(location=tmp_path))
    store.write("rows.csv", b"1,a\n2,b\n")
    schema = {
        "attributes": [
            {"attributeName": "x", "attributeType": "NUMERIC"},
            {"attributeName": "c", "attributeType": "CATEGORICAL"},
        ]
    }
    engine = Engine(store)
    for source_id in ("ds-2", "ds-1"):
        engine.create_data_source_from_s3(
            DataSourceId=source_id,
            DataSpec={"DataLocationS3": "rows.csv", "DataSchema": json.dumps(schema)},
        )
    found = engine.describe_data_sources(FilterVariable="DataLocationS3")
    assert [r["DataSourceId"] for r in found["Results"]] == ["ds-1", "ds-2"]
