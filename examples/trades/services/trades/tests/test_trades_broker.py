"""The service against a real redis-server on 127.0.0.1 (see conftest.py)."""

import json
import signal

from streamcommon.testing import run_script, running_script, wait_for
from trades.main import main
from trades.sources import generate_trades


def trade_line(tid, ts=None):
    ts = 1_700_000_000_000 + tid * 1000 if ts is None else ts
    return json.dumps({"id": tid, "pair": "BTC/USD", "price": 100.0 + tid, "volume": 0.5, "ts": ts})


def stream_ids(client, topic="trades"):
    return [int(fields["id"]) for _, fields in client.xrange(topic)]


def checkpoint(state_dir):
    return json.loads((state_dir / "checkpoint.json").read_text())


def test_publishes_the_generated_trades(broker, env, state_dir, capsys):
    address, client = broker
    env(BROKER_ADDRESS=address)
    assert main([]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out == [
        "trades: batch of 50 trades published (ids 1..50)",
        "trades: batch of 50 trades published (ids 51..100)",
        f"trades: published 100 trades to trades at {address} (last id 100)",
    ]
    entries = [fields for _, fields in client.xrange("trades")]
    assert entries == [t.fields() for t in generate_trades(count=100)]
    assert checkpoint(state_dir) == {"service": "trades", "last_id": 100, "count": 100}


def test_second_run_publishes_nothing_twice(broker, env, capsys):
    address, client = broker
    env(BROKER_ADDRESS=address, TRADES_COUNT=30)
    assert main([]) == 0
    assert main([]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[-2] == "trades: resuming after trade 30 from built-in generator (seed 42)"
    assert out[-1] == f"trades: published 0 trades to trades at {address} (last id 30)"
    assert stream_ids(client) == list(range(1, 31))


def test_a_larger_count_continues_where_the_last_run_stopped(broker, env, state_dir):
    address, client = broker
    env(BROKER_ADDRESS=address, TRADES_COUNT=60, TRADES_BATCH_SIZE=7)
    assert main([]) == 0
    env(TRADES_COUNT=100)
    assert main([]) == 0
    assert stream_ids(client) == list(range(1, 101))
    entries = [fields for _, fields in client.xrange("trades")]
    assert entries == [t.fields() for t in generate_trades(count=100)]
    assert checkpoint(state_dir)["count"] == 100


def test_file_source_and_topic(broker, env, tmp_path, capsys):
    address, client = broker
    source = tmp_path / "trades.jsonl"
    source.write_text("".join(trade_line(i) + "\n" for i in range(1, 6)))
    env(BROKER_ADDRESS=address, TRADES_SOURCE=source, TRADES_TOPIC="btc-trades")
    assert main([]) == 0
    with source.open("a") as fh:
        fh.write("".join(trade_line(i) + "\n" for i in range(6, 9)))
    assert main([]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[-1] == f"trades: published 3 trades to btc-trades at {address} (last id 8)"
    assert stream_ids(client, "btc-trades") == list(range(1, 9))
    assert client.exists("trades") == 0


def test_batch_in_the_stream_but_not_in_the_checkpoint(broker, env, state_dir, capsys):
    """A crash after XADD but before the checkpoint was written does not republish."""
    address, client = broker
    env(BROKER_ADDRESS=address)
    assert main([]) == 0
    (state_dir / "checkpoint.json").write_text('{"service": "trades", "last_id": 50, "count": 50}')
    capsys.readouterr()
    assert main([]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0] == (
        "trades: trades already holds 50 trades past the checkpoint (up to id 100); "
        "resuming after them"
    )
    assert out[-1] == f"trades: published 0 trades to trades at {address} (last id 100)"
    assert client.xlen("trades") == 100
    assert checkpoint(state_dir) == {"service": "trades", "last_id": 100, "count": 100}


def test_kafka_broker_address_still_works(broker, env):
    address, client = broker
    env(KAFKA_BROKER_ADDRESS=address, TRADES_COUNT=3)
    assert main([]) == 0
    assert client.xlen("trades") == 3


def test_bad_line_stops_with_what_was_published_kept(broker, env, tmp_path, state_dir, capsys):
    address, client = broker
    source = tmp_path / "trades.jsonl"
    source.write_text(trade_line(1) + "\n" + trade_line(2) + "\n" + '{"id": 3}\n')
    env(BROKER_ADDRESS=address, TRADES_SOURCE=source, TRADES_BATCH_SIZE=1)
    assert main([]) == 2
    err = capsys.readouterr().err
    assert err == f"trades: bad trade at {source}:3: missing pair, price, volume, ts\n"
    assert stream_ids(client) == [1, 2]
    assert checkpoint(state_dir)["last_id"] == 2


def test_bad_broker_address(env, capsys):
    env(BROKER_ADDRESS="localhost")
    assert main([]) == 2
    assert capsys.readouterr().err == (
        "trades: BROKER_ADDRESS must be HOST:PORT, got 'localhost' (no port); set BROKER_ADDRESS\n"
    )


def test_state_dir_not_writable(env, tmp_path, closed_address, capsys):
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    env(BROKER_ADDRESS=closed_address, STATE_DIR=blocker / "state")
    assert main([]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"trades: state directory {blocker / 'state'} is not writable (")
    assert err.endswith("); set STATE_DIR\n")
    assert err.count("\n") == 1


def test_script_by_path_unreachable_broker(env, main_py, closed_address, state_dir, tmp_path):
    """How the container starts it: python .../src/trades/main.py."""
    env(BROKER_ADDRESS=closed_address)
    result = run_script(main_py, cwd=tmp_path)
    assert result.returncode == 2
    assert result.stdout == ""
    assert result.stderr == (
        f"trades: cannot reach the broker at {closed_address} (Connection refused); "
        "set BROKER_ADDRESS\n"
    )
    assert not (state_dir / "checkpoint.json").exists()


def test_script_by_path_publishes(broker, env, main_py, tmp_path):
    address, client = broker
    env(BROKER_ADDRESS=address, TRADES_COUNT=10)
    result = run_script(main_py, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines()[-1] == (
        f"trades: published 10 trades to trades at {address} (last id 10)"
    )
    assert client.xlen("trades") == 10


def test_follow_mode_picks_up_new_lines_and_stops_on_sigterm(broker, env, main_py, tmp_path):
    address, client = broker
    source = tmp_path / "trades.jsonl"
    source.write_text(trade_line(1) + "\n" + trade_line(2) + "\n")
    env(BROKER_ADDRESS=address, TRADES_SOURCE=source, TRADES_POLL_SECONDS="0.1")
    with running_script(main_py, "--follow", cwd=tmp_path) as proc:
        assert wait_for(lambda: client.xlen("trades") == 2)
        with source.open("a") as fh:
            fh.write(trade_line(3) + "\n" + trade_line(4))
            fh.flush()
            assert wait_for(lambda: client.xlen("trades") == 3)
            fh.write("\n")
        assert wait_for(lambda: client.xlen("trades") == 4)
        proc.send_signal(signal.SIGTERM)
        out, err = proc.communicate(timeout=10)
    assert proc.returncode == 0, err
    assert out.splitlines()[-1] == f"trades: published 4 trades to trades at {address} (last id 4)"
    assert stream_ids(client) == [1, 2, 3, 4]
