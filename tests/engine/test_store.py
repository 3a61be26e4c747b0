import pytest

from mlpipeline.engine import DirectoryStore, Store
from mlpipeline.engine.store import check_name


def test_directory_store_round_trip(tmp_path):
    store = DirectoryStore(tmp_path)
    store.write("a/b/c.csv", b"x,y\n1,2\n")
    assert isinstance(store, Store)
    assert store.exists("a/b/c.csv") and not store.exists("a/b/d.csv")
    assert store.size("a/b/c.csv") == 8
    with store.open("a/b/c.csv") as handle:
        assert handle.readline() == b"x,y\n"
        assert list(handle) == [b"1,2\n"]


def test_write_replaces_content(tmp_path):
    store = DirectoryStore(tmp_path)
    store.write("f.json", b"first")
    store.write("f.json", b"2nd")
    with store.open("f.json") as handle:
        assert handle.read() == b"2nd"
    assert [p.name for p in tmp_path.iterdir()] == ["f.json"]


def test_missing_blob_raises_file_not_found(tmp_path):
    store = DirectoryStore(tmp_path)
    with pytest.raises(FileNotFoundError):
        store.open("nope.csv")
    with pytest.raises(FileNotFoundError):
        store.size("nope.csv")


@pytest.mark.parametrize("name", ["", "/etc/passwd", "../x", "a/../b", "a//b", "dir/"])
def test_unsafe_names_are_rejected(name):
    with pytest.raises(ValueError, match="Store name"):
        check_name(name)


@pytest.mark.parametrize(
    ("name", "what"),
    [("uploads/a\0.csv", "a NUL byte"), ("uploads\\..\\..\\x", "a backslash")],
)
def test_names_with_nul_bytes_or_backslashes_are_rejected(tmp_path, name, what):
    message = (
        f"Store name {name!r} holds {what}; use '/' between folders and "
        "printable characters only."
    )

    with pytest.raises(ValueError) as refused:
        DirectoryStore(tmp_path).write(name, b"x")

    assert str(refused.value) == message
    assert list(tmp_path.iterdir()) == []


def test_listdir_names_files_of_one_folder(tmp_path):
    store = DirectoryStore(tmp_path)
    store.write("d/b.json", b"1")
    store.write("d/a.json", b"2")
    store.write("d/sub/c.json", b"3")
    (tmp_path / "d" / ".tmp-partial").write_bytes(b"")
    assert store.listdir("d") == ["a.json", "b.json"]
    assert store.listdir("missing") == []
