"""Options: one typed object from flags over PLANO_OBS_* variables over defaults."""

from __future__ import annotations

import pytest

from plano_obs.settings import Settings, SettingsError, load_settings


def test_defaults_listen_on_loopback_4317():
    s = load_settings({}, env={})
    assert (s.host, s.port, s.max_message_bytes) == ("127.0.0.1", 4317, 16 * 1024 * 1024)
    assert s.refresh_ms == 500 and s.window == "all"


def test_otlp_http_listens_on_4318_next_to_grpc_with_cors_off():
    s = load_settings({}, env={})
    assert (s.http_port, s.no_http, s.cors_origin) == (4318, False, [])


def test_cors_origins_come_from_repeated_flags_or_one_variable():
    s = load_settings({}, env={"PLANO_OBS_CORS_ORIGIN": "http://localhost:3000, https://app.dev"})
    assert s.cors_origin == ["http://localhost:3000", "https://app.dev"]
    s = load_settings({"cors_origin": ["*"]}, env={"PLANO_OBS_CORS_ORIGIN": "http://a.dev"})
    assert s.cors_origin == ["*"]


def test_grpc_and_http_on_one_port_is_refused_unless_http_is_off():
    with pytest.raises(SettingsError) as e:
        load_settings({"port": 5000, "http_port": 5000}, env={})
    assert "--port and --http-port are both 5000" in str(e.value)
    assert load_settings({"port": 5000, "http_port": 5000, "no_http": True}, env={}).no_http
    assert load_settings({"port": 0, "http_port": 0}, env={}).http_port == 0


def test_environment_fills_what_flags_leave_out():
    s = load_settings({"port": None, "demo": None},
                      env={"PLANO_OBS_PORT": "4999", "PLANO_OBS_DEMO": "true"})
    assert s.port == 4999 and s.demo is True


def test_flags_win_over_environment():
    s = load_settings({"port": 5000}, env={"PLANO_OBS_PORT": "4999"})
    assert s.port == 5000


@pytest.mark.parametrize("flags,env,fragment", [
    ({"port": 70000}, {}, "--port"),
    ({}, {"PLANO_OBS_PORT": "http"}, "PLANO_OBS_PORT"),
    ({"window": "2h"}, {}, "all, 1m, 5m, 15m, 1h"),
    ({"refresh_ms": 1}, {}, "--refresh-ms"),
    ({"http_port": -1}, {}, "--http-port"),
    ({"cors_origin": ["http://localhost:3000/app"]}, {}, "--cors-origin"),
    ({}, {"PLANO_OBS_CORS_ORIGIN": "localhost:3000"}, "PLANO_OBS_CORS_ORIGIN"),
])
def test_bad_values_are_one_line_messages_naming_the_option(flags, env, fragment):
    with pytest.raises(SettingsError) as e:
        load_settings(flags, env=env)
    assert fragment in str(e.value)
    assert "\n" not in str(e.value)


def test_unknown_settings_are_refused():
    from pydantic import ValidationError

    with pytest.raises(ValidationError):
        Settings(prot=1)  # type: ignore[call-arg]
