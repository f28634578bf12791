"""Targets file: the shipped list is valid, and every mistake names its key."""

from __future__ import annotations

from pathlib import Path

import pytest

from probe.configfile import ConfigError
from probe.model import Category
from probe.targets import load_targets

REPO = Path(__file__).resolve().parents[2]


def test_shipped_targets() -> None:
    targets = load_targets(REPO / "config" / "targets.toml")
    names = [t.name for t in targets]
    assert 15 <= len(targets) <= 25
    assert len(set(names)) == len(names)
    assert {"whatsapp", "telegram", "signal", "facebook", "instagram", "youtube"} <= set(names)
    assert sum(t.category is Category.CONTROL for t in targets) >= 2
    assert all(t.url.startswith("https://") for t in targets)
    twitter = next(t for t in targets if t.name == "twitter")
    assert twitter.domain == "x.com" and "api.twitter.com" in twitter.hosts


def write(tmp_path: Path, body: str) -> Path:
    path = tmp_path / "targets.toml"
    path.write_text(body)
    return path


GOOD = '[[targets]]\nname = "a"\ndomain = "a.example"\ncategory = "platform"\n'


@pytest.mark.parametrize(
    ("body", "key", "problem"),
    [
        ("[[targets]\n", "<file>", "not valid TOML"),
        ("", "targets", "no targets"),
        (GOOD.replace('"platform"', '"social"'), "targets[0].category", "unknown value"),
        (GOOD.replace('"a"', '"Facebook"', 1), "targets[0].name", "bad name"),
        (GOOD.replace('"a.example"', '"not a domain"'), "targets[0].domain", "bad domain"),
        (GOOD + 'url = "ftp://a.example/"\n', "targets[0].url", "bad URL"),
        (GOOD + 'hosts = ["ok.example", "Bad Host"]\n', "targets[0].hosts", "bad host"),
        (GOOD + "colour = 1\n", "targets[0].colour", "unknown key"),
        (GOOD + GOOD, "targets[1].name", "duplicate"),
        ('[[targets]]\nname = "a"\ncategory = "platform"\n', "targets[0].domain", "missing"),
    ],
)
def test_errors_name_the_key(tmp_path: Path, body: str, key: str, problem: str) -> None:
    with pytest.raises(ConfigError) as caught:
        load_targets(write(tmp_path, body))
    assert caught.value.key == key
    assert problem in str(caught.value)
    assert str(tmp_path) in str(caught.value)
