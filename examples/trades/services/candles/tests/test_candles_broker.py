"""The service against a real redis-server on 127.0.0.1 (see conftest.py)."""

import json
import os
import shutil
import signal

from candles.main import main
from streamcommon.testing import run_script, running_script, wait_for

T0 = 1_700_000_040_000  # the start of a minute


def add_trades(client, trades, topic="trades"):
    for pair, price, volume, ts in trades:
        client.xadd(
            topic,
            {"id": "0", "pair": pair, "price": repr(price), "volume": repr(volume), "ts": str(ts)},
        )


def sample_trades():
    """Three minutes of trades for two pairs, a few seconds apart."""
    out = []
    for i in range(36):
        pair = "BTC/USD" if i % 2 else "ETH/USD"
        out.append((pair, 100.0 + (i * 37 % 11), 0.5, T0 + i * 5_000))
    return out


def candles(client, topic="candles"):
    return [fields for _, fields in client.xrange(topic)]


def test_drain_publishes_closed_candles_and_keeps_the_open_ones(broker, env, state_dir, capsys):
    address, client = broker
    add_trades(client, sample_trades())
    env(BROKER_ADDRESS=address)
    assert main([]) == 0
    out = capsys.readouterr().out.splitlines()
    last_id = client.xrevrange("trades", count=1)[0][0]
    assert out == [
        f"candles: read 36 trades up to {last_id}, published 4 candles",
        f"candles: published 4 candles to candles at {address} "
        f"(read 36 trades from trades, 2 open, last id {last_id})",
    ]
    got = candles(client)
    assert [(c["pair"], int(c["window_start"])) for c in got] == [
        ("BTC/USD", T0),
        ("ETH/USD", T0),
        ("BTC/USD", T0 + 60_000),
        ("ETH/USD", T0 + 60_000),
    ]
    first = got[0]
    btc = [tr for tr in sample_trades() if tr[0] == "BTC/USD" and tr[3] < T0 + 60_000]
    assert float(first["open"]) == btc[0][1]
    assert float(first["close"]) == btc[-1][1]
    assert float(first["high"]) == max(tr[1] for tr in btc)
    assert float(first["low"]) == min(tr[1] for tr in btc)
    assert float(first["volume"]) == sum(tr[2] for tr in btc)
    assert int(first["trades"]) == len(btc) == 6
    assert int(first["window_end"]) == T0 + 60_000
    saved = json.loads((state_dir / "checkpoint.json").read_text())
    assert saved["last_id"] == last_id
    assert saved["window"] == T0 + 120_000
    assert sorted(saved["open"]) == ["BTC/USD", "ETH/USD"]


def test_second_run_publishes_nothing_twice(broker, env, capsys):
    address, client = broker
    add_trades(client, sample_trades())
    env(BROKER_ADDRESS=address)
    assert main([]) == 0
    assert main([]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[-2].startswith("candles: resuming after trades entry ")
    assert out[-1].startswith(f"candles: published 0 candles to candles at {address} (read 0")
    assert len(candles(client)) == 4


def test_runs_split_anywhere_make_the_same_candles(broker, env, tmp_path):
    address, client = broker
    trades = sample_trades() + [("BTC/USD", 1.0, 1.0, T0 + 600_000)]
    add_trades(client, trades)
    env(BROKER_ADDRESS=address, STATE_DIR=tmp_path / "one")
    assert main([]) == 0
    expected = candles(client)
    assert len(expected) == 6

    client.delete("trades", "candles")
    env(STATE_DIR=tmp_path / "split", CANDLES_BATCH_SIZE=4)
    for chunk in (trades[:7], trades[7:20], trades[20:21], trades[21:]):
        add_trades(client, chunk)
        assert main([]) == 0
    assert candles(client) == expected


def test_candles_in_the_stream_but_not_in_the_checkpoint(broker, env, state_dir):
    """A crash after XADD but before the checkpoint was written does not republish."""
    address, client = broker
    add_trades(client, sample_trades()[:20])
    env(BROKER_ADDRESS=address)
    assert main([]) == 0
    before = state_dir / "before.json"
    shutil.copy(state_dir / "checkpoint.json", before)
    add_trades(client, sample_trades()[20:])
    assert main([]) == 0
    expected = candles(client)
    os.replace(before, state_dir / "checkpoint.json")  # as if that run had died
    assert main([]) == 0
    assert candles(client) == expected


def test_late_and_foreign_entries_are_dropped(broker, env, capsys):
    address, client = broker
    add_trades(client, [("P", 1.0, 1.0, T0 + 60_000), ("P", 2.0, 1.0, T0)])
    client.xadd("trades", {"hello": "world"})
    env(BROKER_ADDRESS=address)
    assert main([]) == 0
    out = capsys.readouterr().out.splitlines()
    assert "candles: dropped 1 late trades and 1 entries that were not trades" in out


def test_changing_candle_seconds_needs_a_new_checkpoint(broker, env, state_dir, capsys):
    address, client = broker
    add_trades(client, sample_trades()[:3])
    env(BROKER_ADDRESS=address)
    assert main([]) == 0
    env(CANDLE_SECONDS=300)
    assert main([]) == 2
    assert capsys.readouterr().err == (
        f"candles: checkpoint {state_dir / 'checkpoint.json'} does not fit: it was written "
        "with CANDLE_SECONDS=60, not 300; fix or remove it\n"
    )


def test_other_topics(broker, env):
    address, client = broker
    add_trades(client, sample_trades(), topic="t")
    env(BROKER_ADDRESS=address, TRADES_TOPIC="t", CANDLES_TOPIC="c", CANDLE_SECONDS=120)
    assert main([]) == 0
    assert [int(c["window_start"]) % 120_000 for c in candles(client, "c")] == [0, 0]
    assert client.exists("candles") == 0


def test_bad_broker_address(env, capsys):
    env(BROKER_ADDRESS="redis.default.svc.cluster.local")
    assert main([]) == 2
    assert capsys.readouterr().err == (
        "candles: BROKER_ADDRESS must be HOST:PORT, got 'redis.default.svc.cluster.local' "
        "(no port); set BROKER_ADDRESS\n"
    )


def test_script_by_path_unreachable_broker(env, main_py, closed_address, state_dir, tmp_path):
    """How the container starts it: python .../src/candles/main.py."""
    env(BROKER_ADDRESS=closed_address)
    result = run_script(main_py, cwd=tmp_path)
    assert result.returncode == 2
    assert result.stdout == ""
    assert result.stderr == (
        f"candles: cannot reach the broker at {closed_address} (Connection refused); "
        "set BROKER_ADDRESS\n"
    )
    assert not (state_dir / "checkpoint.json").exists()


def test_follow_mode_script_by_path(broker, env, main_py, tmp_path):
    address, client = broker
    env(BROKER_ADDRESS=address, CANDLES_FOLLOW="1", CANDLES_POLL_SECONDS="0.2")
    with running_script(main_py, cwd=tmp_path) as proc:
        add_trades(client, sample_trades()[:15])
        assert wait_for(lambda: client.xlen("candles") == 2)
        add_trades(client, sample_trades()[15:])
        assert wait_for(lambda: client.xlen("candles") == 4)
        proc.send_signal(signal.SIGTERM)
        out, err = proc.communicate(timeout=10)
    assert proc.returncode == 0, err
    # SIGTERM may come before the last trades were read: they stay for the next run.
    assert out.splitlines()[-1].startswith(f"candles: published 4 candles to candles at {address}")
