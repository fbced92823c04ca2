import json

import pytest

from trades.checkpoint import Checkpoint, ensure_state_dir, load_checkpoint, save_checkpoint
from trades.errors import TradesError


def test_missing_checkpoint_is_empty(tmp_path):
    assert load_checkpoint(tmp_path / "checkpoint.json") == Checkpoint(last_id=0, count=0)


def test_round_trip_and_file_format(tmp_path):
    path = tmp_path / "checkpoint.json"
    save_checkpoint(path, Checkpoint(last_id=42, count=40))
    assert load_checkpoint(path) == Checkpoint(last_id=42, count=40)
    assert json.loads(path.read_text()) == {"service": "trades", "last_id": 42, "count": 40}


def test_save_replaces_and_leaves_no_temporary_files(tmp_path):
    path = tmp_path / "checkpoint.json"
    for i in range(1, 6):
        save_checkpoint(path, Checkpoint(last_id=i * 10, count=i))
    assert load_checkpoint(path) == Checkpoint(last_id=50, count=5)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["checkpoint.json"]


def test_failed_write_keeps_the_old_checkpoint(tmp_path, monkeypatch):
    path = tmp_path / "checkpoint.json"
    save_checkpoint(path, Checkpoint(last_id=1, count=1))

    def broken_replace(src, dst):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr("trades.checkpoint.os.replace", broken_replace)
    with pytest.raises(TradesError, match="No space left on device"):
        save_checkpoint(path, Checkpoint(last_id=2, count=2))
    monkeypatch.undo()
    assert load_checkpoint(path) == Checkpoint(last_id=1, count=1)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["checkpoint.json"]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("{not json", "not valid JSON"),
        ("[1, 2]", "not a JSON object"),
        ('{"last_id": "7", "count": 1}', "whole numbers"),
        ('{"last_id": -1, "count": 0}', "whole numbers"),
        ('{"last_id": true, "count": 0}', "whole numbers"),
        ('{"service": "candles", "last_id": "0-0"}', "belongs to the candles service"),
    ],
)
def test_bad_checkpoint_is_an_error_not_a_fresh_start(tmp_path, text, message):
    path = tmp_path / "checkpoint.json"
    path.write_text(text)
    with pytest.raises(TradesError, match=message):
        load_checkpoint(path)


def test_ensure_state_dir_creates_it(tmp_path):
    state = tmp_path / "a" / "b"
    ensure_state_dir(state)
    assert state.is_dir()
    assert list(state.iterdir()) == []


def test_ensure_state_dir_not_writable(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("")
    with pytest.raises(TradesError, match=r"state directory .* is not writable .*; set STATE_DIR"):
        ensure_state_dir(blocker / "state")
