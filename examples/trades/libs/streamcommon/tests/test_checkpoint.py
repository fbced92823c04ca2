import pytest

from streamcommon.checkpoint import (
    FILENAME,
    ensure_state_dir,
    is_count,
    read_checkpoint,
    write_checkpoint,
)
from streamcommon.errors import ServiceError


def test_missing_checkpoint_is_none(tmp_path):
    assert FILENAME == "checkpoint.json"
    assert read_checkpoint(tmp_path / FILENAME, "svc") is None


def test_round_trip_and_file_format(tmp_path):
    path = tmp_path / FILENAME
    write_checkpoint(path, "svc", {"last_id": 42, "b": [1]})
    assert path.read_text() == '{\n  "b": [\n    1\n  ],\n  "last_id": 42,\n  "service": "svc"\n}\n'
    assert read_checkpoint(path, "svc") == {"service": "svc", "last_id": 42, "b": [1]}


def test_a_file_without_service_is_taken_as_ours(tmp_path):
    path = tmp_path / FILENAME
    path.write_text('{"last_id": 1}')
    assert read_checkpoint(path, "svc") == {"last_id": 1}


def test_write_replaces_and_leaves_no_temporary_files(tmp_path):
    path = tmp_path / FILENAME
    for i in range(1, 6):
        write_checkpoint(path, "svc", {"n": i})
    assert read_checkpoint(path, "svc") == {"service": "svc", "n": 5}
    assert sorted(p.name for p in tmp_path.iterdir()) == [FILENAME]


def test_failed_write_keeps_the_old_checkpoint(tmp_path, monkeypatch):
    path = tmp_path / FILENAME
    write_checkpoint(path, "svc", {"n": 1})

    def broken_replace(src, dst):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr("streamcommon.checkpoint.os.replace", broken_replace)
    with pytest.raises(ServiceError) as info:
        write_checkpoint(path, "svc", {"n": 2})
    assert str(info.value) == f"cannot write checkpoint {path} (No space left on device)"
    monkeypatch.undo()
    assert read_checkpoint(path, "svc") == {"service": "svc", "n": 1}
    assert sorted(p.name for p in tmp_path.iterdir()) == [FILENAME]


def test_write_into_a_missing_folder(tmp_path):
    folder = tmp_path / "gone"
    with pytest.raises(ServiceError, match=rf"^cannot write checkpoint in {folder} \("):
        write_checkpoint(folder / FILENAME, "svc", {})


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("{not json", r"is not valid JSON \(.*\); fix or remove it$"),
        ("[1, 2]", r"is not a JSON object; fix or remove it$"),
        ("7", r"is not a JSON object; fix or remove it$"),
        (
            '{"service": "other", "last_id": "0-0"}',
            r"belongs to the other service; give each service its own STATE_DIR$",
        ),
    ],
)
def test_bad_checkpoint_is_an_error_not_a_fresh_start(tmp_path, text, message):
    path = tmp_path / FILENAME
    path.write_text(text)
    with pytest.raises(ServiceError, match=rf"^checkpoint {path} {message}"):
        read_checkpoint(path, "svc")


def test_a_folder_in_place_of_the_checkpoint(tmp_path):
    (tmp_path / FILENAME).mkdir()
    with pytest.raises(ServiceError, match=r"^cannot read checkpoint .* \(Is a directory\)$"):
        read_checkpoint(tmp_path / FILENAME, "svc")


def test_is_count():
    assert is_count(0) and is_count(7)
    assert not any(is_count(v) for v in (-1, True, False, 1.0, "1", None))


def test_ensure_state_dir_creates_it(tmp_path):
    state = tmp_path / "a" / "b"
    ensure_state_dir(state)
    assert state.is_dir()
    assert list(state.iterdir()) == []


def test_ensure_state_dir_not_writable(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("")
    with pytest.raises(ServiceError) as info:
        ensure_state_dir(blocker / "state")
    assert str(info.value) == (
        f"state directory {blocker / 'state'} is not writable (Not a directory); set STATE_DIR"
    )
