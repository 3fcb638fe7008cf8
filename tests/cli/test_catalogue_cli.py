"""The catalogue commands as a user runs them: the installed ``aluloop`` entry point."""

import json
import subprocess

import pytest

from tests.support.cli import run_aluloop


def aluloop(*args: str) -> subprocess.CompletedProcess:
    return run_aluloop(*args, timeout=120)


def test_alloys_show_json_gives_5182_limits():
    result = aluloop("alloys", "show", "5182", "--json")
    assert result.returncode == 0, result.stderr
    spec = json.loads(result.stdout)
    assert spec["name"] == "5182"
    assert spec["limits"]["Mg"] == {"min": 4.0, "max": 5.0}
    assert spec["limits"]["Mn"] == {"min": 0.2, "max": 0.5}
    assert spec["limits"]["Si"] == {"min": None, "max": 0.2}
    assert spec["source"]


def test_alloys_list_and_materials_list_name_the_catalogue():
    alloys = json.loads(aluloop("alloys", "list", "--json").stdout)
    assert {"3104", "5182", "6063", "A356.2", "ADC12"} <= {a["name"] for a in alloys}
    materials = json.loads(aluloop("materials", "list", "--json").stdout)
    assert {"UBC", "P1020", "Al-Ti5B1"} <= {m["material"] for m in materials}
    assert aluloop("materials", "list").returncode == 0


@pytest.mark.parametrize("args", [("alloys", "show", "9999"), ("alloys", "show", "9999", "--json")])
def test_unknown_alloy_is_a_clear_error_with_exit_code_2(args):
    result = aluloop(*args)
    assert result.returncode == 2
    assert "unknown alloy '9999'" in result.stderr
    assert "Traceback" not in result.stderr
