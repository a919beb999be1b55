"""Credentials come from the environment or an owner-only key file and never reach a log."""

from __future__ import annotations

import logging
import os

import pytest

from bot_core import OrderStatus, Side, VenueAuthenticationError
from bot_core_ccxt.credentials import load_credentials
from bot_core_ccxt.settings import CredentialsSettings
from bot_core_ccxt.testing import Fault


def test_named_variables_are_read_and_never_shown() -> None:
    env = {"MY_KEY": "abc123", "MY_SECRET": "def456"}
    creds = load_credentials(CredentialsSettings(api_key_env="MY_KEY", api_secret_env="MY_SECRET"),
                             "binance", env)
    assert (creds.api_key, creds.api_secret) == ("abc123", "def456")
    assert "abc123" not in repr(creds) and "def456" not in str(creds)
    assert "MY_KEY" in repr(creds)


def test_a_key_file_must_be_owner_only(tmp_path) -> None:
    key_file = tmp_path / "binance.toml"
    key_file.write_text('api_key = "abc123"\napi_secret = "def456"\n')
    key_file.chmod(0o644)
    settings = CredentialsSettings(key_file=key_file)
    with pytest.raises(VenueAuthenticationError, match=r"readable or writable by others \(mode 644\)"
                       ".*chmod 600"):
        load_credentials(settings, "binance", {})
    key_file.chmod(0o600)
    creds = load_credentials(settings, "binance", {})
    assert creds.api_secret == "def456" and str(key_file) in creds.source


@pytest.mark.parametrize("content, expected", [
    ('api_key = "abc123"\n', "api_secret is missing"),
    ('api_key = "a"\napi_secret = "b"\ntoken = "c"\n', "unknown key"),
    ('api_key = "abc123\n', "not a readable UTF-8 TOML file"),
])
def test_a_bad_key_file_is_one_line_without_its_content(tmp_path, content, expected) -> None:
    key_file = tmp_path / "k.toml"
    key_file.write_text(content)
    key_file.chmod(0o600)
    with pytest.raises(VenueAuthenticationError) as caught:
        load_credentials(CredentialsSettings(key_file=key_file), "binance", {})
    assert expected in str(caught.value) and "\n" not in str(caught.value)
    assert "abc123" not in str(caught.value)


def test_a_missing_key_file_is_named(tmp_path) -> None:
    with pytest.raises(VenueAuthenticationError, match=r"k\.toml: cannot be read"):
        load_credentials(CredentialsSettings(key_file=tmp_path / "k.toml"), "binance", {})


def test_credentials_never_appear_in_logs_or_output(sim, make_venue, new_order, caplog,
                                                    capfd, api_credentials) -> None:
    caplog.set_level(logging.DEBUG)  # ccxt logs every request with its headers at DEBUG
    venue = make_venue()
    sim.inject(Fault.RESPONSE_LOST, method="POST", path="/api/v3/order")
    sim.inject(Fault.SERVER_ERROR, method="GET", path="/api/v3/account")
    reports = list(venue.submit(new_order(Side.BUY, 0.01)))
    reports += venue.submit(new_order(Side.BUY, 100.0, limit=30_000.0))  # insufficient funds
    venue.balances()
    reports += venue.poll()
    assert any(r.status is OrderStatus.REJECTED for r in reports)
    assert any("/api/v3/order" in m for m in caplog.messages)  # the wire log was there
    out, err = capfd.readouterr()
    seen = "\n".join([caplog.text, out, err, repr(reports), repr(venue.__dict__)])
    for secret in api_credentials:
        assert secret not in seen
    assert "signature=***" in caplog.text and "signature=0" not in caplog.text


def test_the_process_environment_is_the_default_source(monkeypatch, sim, make_venue,
                                                       api_credentials) -> None:
    monkeypatch.setenv("BOT_CORE_VENUE_SIM_API_KEY", api_credentials[0])
    monkeypatch.setenv("BOT_CORE_VENUE_SIM_API_SECRET", api_credentials[1])
    venue = make_venue(environ=dict(os.environ))
    assert venue.balances()["BTC"] == pytest.approx(1.0)
