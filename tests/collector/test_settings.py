"""Collector settings: the operator token is required, errors name the file and the key."""

from __future__ import annotations

from pathlib import Path

import pytest

from collector.settings import load_collector_settings
from probe.configfile import ConfigError

REPO = Path(__file__).resolve().parents[2]


def _write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "collector.toml"
    path.write_text(text)
    return path


def test_minimal_file_and_overrides(tmp_path: Path) -> None:
    path = _write(tmp_path, '[collector]\noperator_token = "0123456789abcdef"\n')
    settings = load_collector_settings(path)
    assert settings.operator_token == "0123456789abcdef"
    assert settings.store.startswith("sqlite:")
    changed = settings.with_overrides(listen="127.0.0.1:9999", store="sqlite::memory:")
    assert (changed.listen, changed.store) == ("127.0.0.1:9999", "sqlite::memory:")
    with pytest.raises(ConfigError, match="--listen"):
        settings.with_overrides(listen="nowhere")


def test_token_from_file(tmp_path: Path) -> None:
    (tmp_path / "token").write_text("fedcba9876543210fedcba\n")
    path = _write(tmp_path, '[collector]\noperator_token_file = "token"\n')
    assert load_collector_settings(path).operator_token == "fedcba9876543210fedcba"


@pytest.mark.parametrize(
    ("text", "key", "problem"),
    [
        ("[collector]\n", "collector.operator_token", "required"),
        ('[collector]\noperator_token = "short"\n', "collector.operator_token", "too short"),
        (
            '[collector]\noperator_token = "0123456789abcdef"\nlisten = "8080"\n',
            "collector.listen",
            "bad address",
        ),
        (
            '[collector]\noperator_token = "0123456789abcdef"\n[limits]\nmax_batch_records = 0\n',
            "limits.max_batch_records",
            "below the minimum",
        ),
        (
            '[collector]\noperator_token = "0123456789abcdef"\n[control]\nresolver = "dns.test"\n',
            "control.resolver",
            "invalid value",
        ),
        (
            '[collector]\noperator_token = "0123456789abcdef"\nopen_registraton = true\n',
            "collector.open_registraton",
            "unknown key",
        ),
    ],
)
def test_errors_name_file_and_key(tmp_path: Path, text: str, key: str, problem: str) -> None:
    path = _write(tmp_path, text)
    with pytest.raises(ConfigError) as info:
        load_collector_settings(path)
    assert info.value.key == key
    assert problem in str(info.value)
    assert str(path) in str(info.value)


def test_example_config_is_valid_apart_from_its_secret_file(tmp_path: Path) -> None:
    text = (REPO / "config" / "collector.toml").read_text()
    secret = tmp_path / "operator-token"
    secret.write_text("an-operator-token-of-enough-length")
    path = _write(tmp_path, text.replace("/etc/tyndau/operator-token", str(secret)))
    (tmp_path / "targets.toml").write_text((REPO / "config" / "targets.toml").read_text())
    settings = load_collector_settings(path)
    assert settings.limits.max_batch_records == 5000
    assert settings.open_registration is False


TOKEN = '[collector]\noperator_token = "0123456789abcdef"\n'


@pytest.mark.parametrize(
    ("text", "key", "words"),
    [
        (TOKEN + "[limits]\nmax_body_bytes = true\n", "limits.max_body_bytes", "got a boolean"),
        (TOKEN + '[limits]\nmax_body_bytes = "8MB"\n', "limits.max_body_bytes", "whole number"),
        (TOKEN + "[control]\ntimeout_s = 61\n", "control.timeout_s", "above the maximum 60"),
        (TOKEN + '[control]\nallow_net = ["x"]\n', "control.allow_net", "CIDR"),
        (TOKEN + "[limitz]\n", "limitz", "keys here are: anomaly, collector, control, limits"),
        (TOKEN + 'operator_token_file = "t"\n', "collector.operator_token", "given twice"),
    ],
)
def test_pydantic_errors_read_as_the_probes_reader_words_them(
    tmp_path: Path, text: str, key: str, words: str
) -> None:
    with pytest.raises(ConfigError) as info:
        load_collector_settings(_write(tmp_path, text))
    assert info.value.key == key
    assert words in str(info.value)


def test_relative_paths_are_relative_to_the_file_and_numbers_are_floats(tmp_path: Path) -> None:
    text = TOKEN + 'targets = "t.toml"\n[control]\nca_bundle = "ca.pem"\ntimeout_s = 2\n'
    settings = load_collector_settings(_write(tmp_path, text))
    assert settings.targets_file == tmp_path / "t.toml"
    assert settings.control.ca_bundle == tmp_path / "ca.pem"
    assert settings.control.timeout_s == 2.0 and isinstance(settings.control.timeout_s, float)
