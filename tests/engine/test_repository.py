from mlpipeline.engine import DirectoryStore
from mlpipeline.engine.repository import Repository


def test_ids_list_entity_documents_only(tmp_path):
    repo = Repository(DirectoryStore(tmp_path))
    for entity_id in ("m.features", "m", "b-2"):
        repo.save("mlmodel", entity_id, {"api": {"MLModelId": entity_id}})
    repo.store.write(repo.file_name("mlmodel", "m", ".features.json"), b"{}")
    repo.store.write(repo.file_name("mlmodel", "m", ".npz"), b"")
    assert repo.ids("mlmodel") == ["b-2", "m", "m.features"]
    assert repo.load("mlmodel", "m.features") == {"api": {"MLModelId": "m.features"}}
    assert repo.ids("evaluation") == []


def test_model_files_are_read_from_the_old_place_too(tmp_path):
    store = DirectoryStore(tmp_path)
    repo = Repository(store)
    store.write("engine/mlmodels/old.npz", b"old weights")
    store.write("engine/mlmodels/files/new.npz", b"new weights")
    assert repo.read_file("mlmodel", "old", ".npz") == b"old weights"
    assert repo.read_file("mlmodel", "new", ".npz") == b"new weights"
