import json

import pytest

from trades.errors import TradesError
from trades.sources import FileSource, GeneratedSource, Trade, generate_trades, parse_trade


def line(tid, pair="BTC/USD", price=100.0, volume=1.0, ts=1000):
    return json.dumps({"id": tid, "pair": pair, "price": price, "volume": volume, "ts": ts})


def test_generator_is_deterministic_and_prefix_stable():
    first = list(generate_trades(seed=7, count=50))
    again = list(generate_trades(seed=7, count=50))
    longer = list(generate_trades(seed=7, count=80))
    assert first == again
    assert longer[:50] == first
    assert [t.id for t in first] == list(range(1, 51))
    assert list(generate_trades(seed=8, count=50)) != first


def test_generated_trades_look_like_trades():
    trades = list(generate_trades(count=200))
    assert {t.pair for t in trades} == {"BTC/USD", "ETH/USD"}
    assert all(t.price > 0 and t.volume > 0 for t in trades)
    assert all(b.ts > a.ts for a, b in zip(trades, trades[1:], strict=False))


def test_generated_source_resumes_after_an_id():
    source = GeneratedSource(count=10)
    assert [t.id for t in source.read(after=6, limit=100)] == [7, 8, 9, 10]
    assert source.read(after=10, limit=100) == []


def test_generated_source_batches_and_follow_poll():
    source = GeneratedSource(count=5)
    assert [t.id for t in source.read(after=0, limit=3)] == [1, 2, 3]
    assert [t.id for t in source.read(after=3, limit=3)] == [4, 5]
    assert source.read(after=5, limit=3) == []
    source.poll()
    assert [t.id for t in source.read(after=5, limit=3)] == [6]


def test_parse_trade():
    assert parse_trade(line(3, price=10, ts=5), "f:1") == Trade(3, "BTC/USD", 10.0, 1.0, 5)
    assert parse_trade("   \n", "f:1") is None


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("{", "not JSON"),
        ("[]", "not a JSON object"),
        ('{"id": 1}', "missing pair, price, volume, ts"),
        (line(0), "id must be"),
        (line(1.5), "id must be"),
        (line(1, pair=""), "pair must be"),
        (line(1, price=0), "price must be"),
        (line(1, price="1"), "price must be"),
        (line(1, volume=-1), "volume must be"),
        (line(1, ts=1.5), "ts must be"),
    ],
)
def test_parse_trade_rejects(text, message):
    with pytest.raises(TradesError, match=f"bad trade at f.jsonl:4: {message}"):
        parse_trade(text, "f.jsonl:4")


def test_file_source_reads_skips_and_batches(tmp_path):
    path = tmp_path / "t.jsonl"
    path.write_text("\n".join([line(1), "", line(2), line(3), line(4)]) + "\n")
    source = FileSource(path)
    assert [t.id for t in source.read(after=1, limit=2)] == [2, 3]
    assert [t.id for t in source.read(after=3, limit=2)] == [4]
    assert source.read(after=4, limit=2) == []
    source.close()


def test_file_source_skips_ids_that_do_not_increase(tmp_path):
    path = tmp_path / "t.jsonl"
    path.write_text("\n".join([line(1), line(3), line(2), line(4)]) + "\n")
    source = FileSource(path)
    assert [t.id for t in source.read(after=0, limit=10)] == [1, 3, 4]
    source.close()


def test_file_source_reports_the_bad_line(tmp_path):
    path = tmp_path / "t.jsonl"
    path.write_text(line(1) + "\n" + "oops\n")
    source = FileSource(path)
    with pytest.raises(TradesError, match=r"t\.jsonl:2: not JSON"):
        source.read(after=0, limit=10)
    source.close()


def test_file_source_last_line_without_newline(tmp_path):
    path = tmp_path / "t.jsonl"
    path.write_text(line(1) + "\n" + line(2))
    source = FileSource(path)
    assert [t.id for t in source.read(after=0, limit=10)] == [1, 2]
    source.close()


def test_following_file_source_waits_for_complete_lines(tmp_path):
    path = tmp_path / "t.jsonl"
    path.write_text(line(1) + "\n" + line(2)[:10])
    source = FileSource(path, follow=True)
    assert [t.id for t in source.read(after=0, limit=10)] == [1]
    with path.open("a") as fh:
        fh.write(line(2)[10:] + "\n" + line(3) + "\n")
    assert [t.id for t in source.read(after=1, limit=10)] == [2, 3]
    source.close()


def test_missing_file_is_a_clear_error(tmp_path):
    with pytest.raises(TradesError, match="cannot read TRADES_SOURCE .*No such file"):
        FileSource(tmp_path / "nope.jsonl")
