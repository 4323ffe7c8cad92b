"""Cycling-protocol step strings: parsing, units, limits, expansion, errors.

Pure Python (no DOLFINx, no MPI).
"""

from __future__ import annotations

from typing import Annotated

import pytest
from pydantic import BaseModel, BeforeValidator, ValidationError

from solver.errors import UserError
from solver.protocol import Step, describe, expand, parse_step, total_charge, validate_protocol

# ---------------------------------------------------------------- parsing


def test_plate_for():
    step = parse_step("Plate at 1 mA/cm^2 for 1 hour")
    assert step == Step(
        text="Plate at 1 mA/cm^2 for 1 hour",
        kind="plate",
        control="galvanostatic",
        current_density=10.0,
        potential=None,
        duration=3600.0,
        until=None,
    )


def test_strip_for_is_negative():
    step = parse_step("Strip at 0.5 mA/cm^2 for 30 min")
    assert (step.kind, step.control) == ("strip", "galvanostatic")
    assert step.current_density == pytest.approx(-5.0)
    assert step.duration == 1800.0
    assert step.until is None


def test_plate_until():
    step = parse_step("Plate at 1 mA/cm^2 until -50 mV")
    assert step.current_density == 10.0
    assert step.duration is None
    assert step.until == pytest.approx(-0.05)


def test_strip_until():
    step = parse_step("Strip at 1 mA/cm^2 until 50 mV")
    assert step.current_density == -10.0
    assert step.duration is None
    assert step.until == pytest.approx(0.05)


@pytest.mark.parametrize(
    "text",
    ["Plate at 1 mA/cm^2 for 2 hours or until -0.1 V", "Plate at 1 mA/cm^2 until -0.1 V or for 2 hours"],
)
def test_for_or_until(text):
    step = parse_step(text)
    assert step.duration == 7200.0
    assert step.until == pytest.approx(-0.1)


def test_rest():
    step = parse_step("Rest for 10 minutes")
    assert (step.kind, step.control, step.current_density) == ("rest", "galvanostatic", 0.0)
    assert step.duration == 600.0
    assert step.potential is None and step.until is None


def test_hold():
    step = parse_step("Hold at -10 mV for 30 s")
    assert (step.kind, step.control, step.current_density) == ("hold", "potentiostatic", 0.0)
    assert step.potential == pytest.approx(-0.01)
    assert step.duration == 30.0
    assert step.until is None


def test_case_and_spacing_tolerated():
    step = parse_step("  PLATE   At  1 mA/cm^2\tFOR  1 h ")
    assert (step.kind, step.current_density, step.duration) == ("plate", 10.0, 3600.0)
    assert step.text == "  PLATE   At  1 mA/cm^2\tFOR  1 h "  # the original text is kept


# ---------------------------------------------------------------- units


@pytest.mark.parametrize(
    "time, seconds",
    [
        ("1 hour", 3600.0),
        ("2 hours", 7200.0),
        ("1 h", 3600.0),
        ("1 Hour", 3600.0),
        ("30 min", 1800.0),
        ("30 minutes", 1800.0),
        ("30 MIN", 1800.0),
        ("45 s", 45.0),
        ("45 seconds", 45.0),
        ("1.5e3 s", 1500.0),
    ],
)
def test_time_units(time, seconds):
    assert parse_step(f"Rest for {time}").duration == pytest.approx(seconds)


@pytest.mark.parametrize(
    "current, a_per_m2",
    [("1 mA/cm^2", 10.0), ("1 mA/cm2", 10.0), ("10 A/m^2", 10.0), ("0.5 mA cm^-2", 5.0), ("2 mA/cm²", 20.0)],
)
def test_current_density_units(current, a_per_m2):
    assert parse_step(f"Plate at {current} for 1 h").current_density == pytest.approx(a_per_m2)


@pytest.mark.parametrize("potential, volts", [("50 mV", 0.05), ("50 mv", 0.05), ("-0.05 V", -0.05), ("0 V", 0.0)])
def test_potential_units(potential, volts):
    assert parse_step(f"Hold at {potential} for 1 s").potential == pytest.approx(volts)


# ---------------------------------------------------------------- voltage limits


def test_limit_reached_plating_stops_at_or_below():
    step = parse_step("Plate at 1 mA/cm^2 until -50 mV")
    assert not step.limit_reached(0.0)
    assert not step.limit_reached(-0.049)
    assert step.limit_reached(-0.05)
    assert step.limit_reached(-0.2)


def test_limit_reached_stripping_stops_at_or_above():
    step = parse_step("Strip at 1 mA/cm^2 until 50 mV")
    assert not step.limit_reached(0.0)
    assert not step.limit_reached(0.049)
    assert step.limit_reached(0.05)
    assert step.limit_reached(0.3)


@pytest.mark.parametrize("text", ["Plate at 1 mA/cm^2 for 1 h", "Rest for 1 h", "Hold at -1 V for 1 h"])
def test_no_limit_never_reached(text):
    step = parse_step(text)
    assert not any(step.limit_reached(v) for v in (-10.0, 0.0, 10.0))


# ---------------------------------------------------------------- expand / describe / total_charge


def test_expand_nested_repeat_and_cycles():
    protocol = [
        "Rest for 1 min",
        {
            "repeat": 2,
            "steps": [
                "Plate at 1 mA/cm^2 for 1 h",
                {"repeat": 3, "steps": ["Strip at 1 mA/cm^2 for 10 min"]},
            ],
        },
    ]
    kinds = [step.kind for step in expand(protocol, cycles=2)]
    one_cycle = ["rest"] + (["plate"] + ["strip"] * 3) * 2
    assert kinds == one_cycle * 2


def test_expand_default_single_cycle():
    steps = expand(["Plate at 1 mA/cm^2 for 1 h", "Strip at 1 mA/cm^2 for 1 h"])
    assert [s.current_density for s in steps] == [10.0, -10.0]


def test_describe():
    text = describe(
        expand(
            [
                "Plate at 1 mA/cm^2 for 1 hour",
                "Strip at 1 mA/cm^2 for 30 min or until 50 mV",
                "Rest for 10 s",
                "Hold at -10 mV for 1 min",
            ]
        )
    )
    assert text.splitlines() == [
        "1. plate 10 A/m^2 for 3600 s",
        "2. strip 10 A/m^2 for 1800 s or until 0.05 V",
        "3. rest for 10 s",
        "4. hold at -0.01 V for 60 s",
    ]


def test_describe_accepts_raw_protocol():
    assert describe([{"repeat": 2, "steps": ["Rest for 1 s"]}]) == "1. rest for 1 s\n2. rest for 1 s"


def test_total_charge_fixed_durations():
    steps = expand(
        [{"repeat": 2, "steps": ["Plate at 1 mA/cm^2 for 1 h", "Rest for 5 min", "Strip at 0.5 mA/cm^2 for 1 h"]}]
    )
    # 2 * (10 A/m^2 * 3600 s - 5 A/m^2 * 3600 s)
    assert total_charge(steps) == pytest.approx(36000.0)
    assert total_charge([]) == 0.0


@pytest.mark.parametrize(
    "extra",
    ["Strip at 1 mA/cm^2 until 50 mV", "Strip at 1 mA/cm^2 for 1 h or until 50 mV", "Hold at 0 V for 1 h"],
)
def test_total_charge_unknown(extra):
    assert total_charge(expand(["Plate at 1 mA/cm^2 for 1 h", extra])) is None


# ---------------------------------------------------------------- rejected input


@pytest.mark.parametrize(
    "text, message",
    [
        ("Charge at 1 mA/cm^2 for 1 h", "unknown step 'charge'; use 'Plate at <current density> for <time>'"),
        ("", "is empty"),
        ("Plate at 1 mA/cm^2 for 0 s", "duration must be positive, got '0 s'"),
        ("Rest for -5 min", "duration must be positive, got '-5 min'"),
        ("Plate at 0 mA/cm^2 for 1 h", "current density must be non-zero"),
        ("Plate at -1 mA/cm^2 for 1 h", "negative; write its magnitude and use Plate or Strip for the direction"),
        ("Strip at -1 mA/cm^2 until 1 V", "use Plate or Strip for the direction"),
        ("Plate 1 mA/cm^2 for 1 h", "expected 'at' after 'plate'"),
        ("Rest 1 h", "expected 'for' after 'rest'"),
        ("Strip for 1 h", "missing 'at <current density>'"),
        ("Hold for 1 h", "missing 'at <potential>'"),
        ("Plate at 1 mA/cm^2", "needs a duration ('for <time>') or a voltage limit ('until <potential>')"),
        ("Plate at 1 mA/cm^2 for", "missing value after 'for'"),
        ("Plate at 1 mA for 1 h", "a current density is expected"),
        ("Plate at 1 mA/cm^2 for 1 V", "a time is expected"),
        ("Rest for 3600", "a time is expected"),
        ("Plate at 1 mA/cm^2 until 1 A/m^2", "a potential is expected"),
        ("Hold at 1 mA/cm^2 for 1 h", "a potential is expected"),
        ("Plate at 1 mA/cm^2 for 1 blorps", "unknown unit"),
        ("Hold at 0 V", "'hold' needs a duration ('for <time>'); use 'Hold at <potential> for <time>'"),
        ("Hold at 0 V until 1 V", "'hold' does not take 'until ...'"),
        ("Rest for 1 h until 1 V", "'rest' does not take 'until ...'"),
        ("Plate at 1 mA/cm^2 for 1 h for 2 h", "'for' is given twice"),
        ("Plate for 1 h at 1 mA/cm^2", "'at ...' must come right after 'plate'"),
        ("Plate at 1 mA/cm^2 or for 1 h", "'or' may only join"),
    ],
)
def test_rejected_steps(text, message):
    with pytest.raises(UserError) as info:
        parse_step(text)
    assert message in str(info.value)
    assert repr(text) in str(info.value)  # the message names the step


def test_non_string_step():
    with pytest.raises(UserError, match="expected a string"):
        parse_step(42)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "protocol, message",
    [
        ([{"repeat": 0, "steps": ["Rest for 1 s"]}], "must be at least 1, got 0"),
        ([{"repeat": -2, "steps": ["Rest for 1 s"]}], "must be at least 1, got -2"),
        ([{"repeat": 1.5, "steps": ["Rest for 1 s"]}], "whole number"),
        ([{"repeat": True, "steps": ["Rest for 1 s"]}], "whole number"),
        ([{"repeat": 2}], "expected exactly the keys 'repeat' and 'steps'"),
        ([{"repeat": 2, "steps": ["Rest for 1 s"], "every": 3}], "expected exactly the keys"),
        ([{"repeat": 2, "steps": []}], "has no steps"),
        ([{"repeat": 2, "steps": "Rest for 1 s"}], "must be a list of steps"),
        ([], "has no steps"),
        ([3], "expected a step string or a {repeat, steps} block"),
        ([{"repeat": 2, "steps": [{"repeat": 2, "steps": ["Dance for 1 s"]}]}], "unknown step 'dance'"),
    ],
)
def test_rejected_protocols(protocol, message):
    with pytest.raises(UserError) as info:
        expand(protocol)
    assert message in str(info.value)


@pytest.mark.parametrize("cycles", [0, -1])
def test_rejected_cycles(cycles):
    with pytest.raises(UserError, match="cycle count must be at least 1"):
        expand(["Rest for 1 s"], cycles=cycles)


# ---------------------------------------------------------------- pydantic validator


class _Scenario(BaseModel):
    protocol: Annotated[list[str | dict], BeforeValidator(validate_protocol)]


def test_validate_protocol_returns_value_unchanged():
    protocol = ["Rest for 1 min", {"repeat": 2, "steps": ["Plate at 1 mA/cm^2 for 1 h"]}]
    assert validate_protocol(protocol) is protocol
    assert validate_protocol(None) is None
    assert _Scenario(protocol=protocol).protocol == protocol


def test_validate_protocol_raises_value_error():
    with pytest.raises(ValueError, match="unknown step 'charge'") as info:
        validate_protocol(["Charge at 1 mA/cm^2 for 1 h"])
    assert not isinstance(info.value, UserError)


def test_validate_protocol_in_pydantic_model():
    with pytest.raises(ValidationError) as info:
        _Scenario(protocol=["Plate at 1 mA for 1 h"])
    error = info.value.errors()[0]
    assert error["loc"] == ("protocol",)
    assert "a current density is expected" in error["msg"]
