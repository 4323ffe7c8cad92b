"""Quantities with units in scenario files, converted to SI on load.

A scenario value may be a plain number (taken as already SI) or a string
``"<number> <unit>"`` such as ``"1 mA/cm^2"``, ``"8 um"`` or ``"25 degC"``.
Each field declares the physical dimension it expects; a string whose unit
has another dimension (``"1 mA"`` for a current density) is rejected with a
message naming the expected and received units.

The parsing is done by Pint; the types below plug it into the pydantic
schema so that validation and conversion happen in one place.
"""

from __future__ import annotations

import functools
import re
from typing import Annotated, Any

from pydantic import BeforeValidator, WithJsonSchema

__all__ = [
    "to_si",
    "split",
    "magnitude",
    "Quantity",
    "Length",
    "CurrentDensity",
    "Conductivity",
    "Potential",
    "Temperature",
    "Time",
    "Diffusivity",
    "Concentration",
    "Pressure",
    "MolarVolume",
    "ChargeDensity",
    "Rate",
    "Area",
    "AreaResistance",
    "Dimensionless",
    "SpecificArea",
    "SI_UNIT",
]

# dimension name -> (pint dimensionality string, SI unit shown in messages)
SI_UNIT: dict[str, tuple[str, str]] = {
    "length": ("[length]", "m"),
    "current_density": ("[current] / [length] ** 2", "A/m^2"),
    "conductivity": ("[current] ** 2 * [time] ** 3 / [mass] / [length] ** 3", "S/m"),
    "potential": ("[mass] * [length] ** 2 / [current] / [time] ** 3", "V"),
    "temperature": ("[temperature]", "K"),
    "time": ("[time]", "s"),
    "diffusivity": ("[length] ** 2 / [time]", "m^2/s"),
    "concentration": ("[substance] / [length] ** 3", "mol/m^3"),
    "pressure": ("[mass] / [length] / [time] ** 2", "Pa"),
    "molar_volume": ("[length] ** 3 / [substance]", "m^3/mol"),
    "charge_density": ("[current] * [time] / [length] ** 2", "C/m^2"),
    "rate": ("1 / [time]", "1/s"),
    "area": ("[length] ** 2", "m^2"),
    "area_resistance": ("[mass] * [length] ** 4 / [current] ** 2 / [time] ** 3", "Ohm m^2"),
    "dimensionless": ("", "1"),
    "specific_area": ("1 / [length]", "1/m"),
}

_NUMBER_UNIT = re.compile(r"^\s*([-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?)\s*(.*?)\s*$")


@functools.cache
def _registry():
    import pint

    ureg = pint.UnitRegistry(autoconvert_offset_to_baseunit=True)
    # Battery shorthand: "M" is mol/L (pint's default "M" is mega-nothing).
    ureg.define("molar = mol / liter = M")
    # "Ohm cm^2" as written in battery papers (pint's own spelling is "ohm")
    ureg.define("@alias ohm = Ohm")
    return ureg


def to_si(value: Any, dimension: str) -> float:
    """Convert ``value`` (number or "number unit" string) to an SI float.

    Raises ``ValueError`` with a readable message when the string cannot be
    parsed or its unit does not have ``dimension``.
    """
    if isinstance(value, bool):
        raise ValueError("expected a number or a quantity string, got a boolean")
    if isinstance(value, (int, float)):
        return float(value)
    if not isinstance(value, str):
        raise ValueError(f"expected a number or a quantity string like '1 {SI_UNIT[dimension][1]}'")
    match = _NUMBER_UNIT.match(value)
    if not match:
        raise ValueError(f"cannot read {value!r} as '<number> <unit>'")
    number, unit = float(match.group(1)), match.group(2).replace("^", "**")
    ureg = _registry()
    dim_str, si = SI_UNIT[dimension]
    try:
        quantity = ureg.Quantity(number, unit) if unit else ureg.Quantity(number)
    except Exception as err:  # pint raises several exception types
        raise ValueError(f"unknown unit {match.group(2)!r} in {value!r}") from err
    want = ureg.get_dimensionality(dim_str) if dim_str else ureg.dimensionless.dimensionality
    if quantity.dimensionality != want:
        got = str(quantity.units) if unit else "no unit"
        raise ValueError(
            f"{value!r} has units of {got} ({quantity.dimensionality or 'dimensionless'}), "
            f"expected a {dimension.replace('_', ' ')} (e.g. in {si})"
        )
    si_value = quantity.to_base_units().magnitude if dim_str else quantity.to("").magnitude
    # 15 significant digits: drop conversion noise ("10 um" -> 1e-05, not 9.999999999999999e-06)
    return float(f"{si_value:.15g}")


def split(value: Any) -> tuple[float, str] | None:
    """``"8 um"`` -> ``(8.0, "um")``; None for anything that is not a "<number> <unit>" string."""
    if not isinstance(value, str):
        return None
    match = _NUMBER_UNIT.match(value)
    if not match or not match.group(2):
        return None
    return float(match.group(1)), match.group(2)


def magnitude(value: Any, unit: str) -> float:
    """A number (taken as already in ``unit``) or a quantity string, expressed in ``unit``."""
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return float(value)
    number, given = split(value) or (None, None)
    if number is None:
        raise ValueError(f"cannot read {value!r} as '<number> <unit>'")
    ureg = _registry()
    try:
        return float(ureg.Quantity(number, given.replace("^", "**")).to(unit.replace("^", "**")).magnitude)
    except Exception as err:  # pint raises several exception types
        raise ValueError(f"cannot express {value!r} in {unit}") from err


def Quantity(dimension: str):  # noqa: N802 - reads like a type in annotations
    """Annotated float type that accepts a number (SI) or a quantity string."""
    si = SI_UNIT[dimension][1]
    return Annotated[
        float,
        BeforeValidator(functools.partial(to_si, dimension=dimension)),
        WithJsonSchema(
            {
                "anyOf": [
                    {"type": "number", "description": f"SI value in {si}"},
                    {"type": "string", "description": f"quantity with units, e.g. '1 {si}'"},
                ]
            }
        ),
    ]


Length = Quantity("length")
CurrentDensity = Quantity("current_density")
Conductivity = Quantity("conductivity")
Potential = Quantity("potential")
Temperature = Quantity("temperature")
Time = Quantity("time")
Diffusivity = Quantity("diffusivity")
Concentration = Quantity("concentration")
Pressure = Quantity("pressure")
MolarVolume = Quantity("molar_volume")
ChargeDensity = Quantity("charge_density")
Rate = Quantity("rate")
Area = Quantity("area")
AreaResistance = Quantity("area_resistance")
Dimensionless = Quantity("dimensionless")
SpecificArea = Quantity("specific_area")
