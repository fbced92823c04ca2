"""What the trades checkpoint holds; reading and writing the file is streamcommon's."""

import json

import pytest

from trades.checkpoint import Checkpoint, load_checkpoint, save_checkpoint
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


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("{not json", "not valid JSON"),
        ('{"last_id": "7", "count": 1}', "whole numbers"),
        ('{"last_id": -1, "count": 0}', "whole numbers"),
        ('{"last_id": true, "count": 0}', "whole numbers"),
        ('{"last_id": 3}', "whole numbers"),
        ('{"service": "candles", "last_id": "0-0"}', "belongs to the candles service"),
    ],
)
def test_bad_checkpoint_is_an_error_not_a_fresh_start(tmp_path, text, message):
    path = tmp_path / "checkpoint.json"
    path.write_text(text)
    with pytest.raises(TradesError, match=message):
        load_checkpoint(path)
