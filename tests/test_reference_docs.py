"""``docs/reference.md`` says what the code declares: every option of the settings model
with its ini key, environment variable and default, and every public fixture. A change
to either that the page does not follow fails here, with the table to paste."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from pytest_kafka_lab.config import HYPOTHESIS_PROFILE, LAB_OPTIONS, OPTIONS, Option
from pytest_kafka_lab.distribution import default_cache_dir

REFERENCE = Path(__file__).parent.parent / "docs" / "reference.md"


def shown(option: Option) -> str:
    if option.name == "cache_dir":  # this machine's; the page gives the rule
        return str(default_cache_dir().name).join(("$XDG_CACHE_HOME/", ", else ~/.cache/"))
    default = option.shown_default or option.default
    return "unset" if default is None else str(default)


def options_table(options: tuple[Option, ...]) -> str:
    rows = ["| option | ini | environment | default | what it does |", "|---|---|---|---|---|"]
    rows += [f"| `{option.flag}` | `{option.ini}` | {f'`{option.env}`' if option.env else ''} | "
             f"{shown(option)} | {option.help} |" for option in options]
    return "\n".join(rows)


def section(name: str) -> str:
    text = REFERENCE.read_text()
    found = re.search(rf"<!-- {name} -->\n(.*?)\n<!-- /{name} -->", text, re.DOTALL)
    assert found, f"docs/reference.md has no <!-- {name} --> ... <!-- /{name} --> block"
    return found.group(1).strip()


@pytest.mark.parametrize(("name", "options"), [
    ("kafka-options", (*OPTIONS, HYPOTHESIS_PROFILE)), ("lab-options", LAB_OPTIONS)])
def test_the_option_tables_are_the_settings_model(name: str, options: tuple[Option, ...]
                                                  ) -> None:
    expected = options_table(options)
    assert section(name) == expected, (
        f"docs/reference.md's {name} table is not the settings model's; paste:\n{expected}")


def test_every_public_fixture_is_on_the_reference_page(pytester: pytest.Pytester) -> None:
    pytester.makepyfile("def test_nothing(): pass\n")
    listed = pytester.runpytest("--fixtures", "-p", "no:cacheprovider").stdout.str()
    fixtures = set(re.findall(r"^(kafka_\w+)", listed, re.MULTILINE))
    assert fixtures, listed
    page = section("fixtures")
    missing = sorted(name for name in fixtures if f"`{name}`" not in page)
    assert not missing, f"docs/reference.md names no {', '.join(missing)}"
