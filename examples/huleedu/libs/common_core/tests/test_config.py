import pytest

from common_core import ConfigError, ServiceSettings, prometheus_port_for


def test_prometheus_port_is_http_plus_2092():
    assert prometheus_port_for(7005) == 9097
    assert prometheus_port_for(7006) == 9098


def test_defaults_when_environment_is_empty():
    s = ServiceSettings.from_env("identity_service", 7005, environ={})
    assert (s.host, s.http_port, s.prometheus_port, s.log_level) == (
        "0.0.0.0",
        7005,
        9097,
        "INFO",
    )


def test_prometheus_port_follows_http_port_when_unset():
    env = {"SERVICE_HTTP_PORT": "7100", "SERVICE_HOST": "127.0.0.1"}
    s = ServiceSettings.from_env("x", 7005, environ=env)
    assert (s.host, s.http_port, s.prometheus_port) == ("127.0.0.1", 7100, 9192)


def test_empty_prometheus_port_counts_as_unset():
    env = {"SERVICE_HTTP_PORT": "7006", "SERVICE_PROMETHEUS_PORT": " "}
    assert ServiceSettings.from_env("x", 7005, environ=env).prometheus_port == 9098


def test_explicit_prometheus_port_wins():
    env = {"SERVICE_HTTP_PORT": "7005", "SERVICE_PROMETHEUS_PORT": "9999"}
    assert ServiceSettings.from_env("x", 7005, environ=env).prometheus_port == 9999


def test_log_level_is_normalised():
    s = ServiceSettings.from_env("x", 7005, environ={"SERVICE_LOG_LEVEL": "debug"})
    assert s.log_level == "DEBUG"


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"SERVICE_HTTP_PORT": "abc"}, "SERVICE_HTTP_PORT must be an integer"),
        ({"SERVICE_HTTP_PORT": "70000"}, "SERVICE_HTTP_PORT must be between"),
        ({"SERVICE_HTTP_PORT": "64000"}, "prometheus port must be between"),
        ({"SERVICE_PROMETHEUS_PORT": "7005"}, "are both 7005"),
        ({"SERVICE_LOG_LEVEL": "LOUD"}, "SERVICE_LOG_LEVEL must be one of"),
    ],
)
def test_bad_settings_are_reported(env, message):
    with pytest.raises(ConfigError, match=message):
        ServiceSettings.from_env("x", 7005, environ=env)
