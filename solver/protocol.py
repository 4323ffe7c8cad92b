"""Cycling protocols written as readable step strings (PyBaMM-style).

A scenario file may describe the applied load as a list of steps::

    protocol:
      - Rest for 10 min
      - repeat: 3
        steps:
          - Plate at 1 mA/cm^2 for 1 hour
          - Strip at 1 mA/cm^2 until 50 mV
      - Hold at -10 mV for 30 s

Grammar (keywords are case-insensitive, extra spaces are ignored; every
value is ``<number> <unit>`` and is converted to SI by
:func:`solver.units.to_si`)::

    Plate at <current density> for <time>
    Plate at <current density> until <potential>
    Plate at <current density> for <time> or until <potential>
    Strip at <current density> ...            (same three forms)
    Rest for <time>
    Hold at <potential> for <time>

Examples: ``"Plate at 1 mA/cm^2 for 1 hour"``, ``"Strip at 0.5 mA/cm^2 for
30 min or until 50 mV"``, ``"Rest for 600 s"``, ``"Hold at -10 mV for 2 h"``.
Time units such as ``s``, ``seconds``, ``min``, ``minutes``, ``h``,
``hour`` and ``hours`` are all accepted; ``cm2`` is read as ``cm^2``.

Sign convention: a positive current density plates lithium on the working
electrode (Li+ + e- -> Li); a negative one strips it.  The direction comes
from the verb, so current densities are written as magnitudes
(``"Strip at 1 mA/cm^2"``, never ``"Plate at -1 mA/cm^2"``).  The cell
voltage is the working-electrode potential against the counter electrode:
it goes negative while plating and positive while stripping, so
``until`` stops a plating step once the voltage is at or below the limit
and a stripping step once it is at or above it.  With both ``for`` and
``until`` the step ends at whichever limit comes first.

A protocol list holds step strings and ``{"repeat": N, "steps": [...]}``
blocks (nested blocks are allowed); :func:`expand` flattens it into
:class:`Step` objects in run order.  Mistakes are reported as
:class:`solver.errors.UserError` naming the step and the problem;
:func:`validate_protocol` turns these into ``ValueError`` for use as a
pydantic ``BeforeValidator``.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from solver.errors import UserError
from solver.units import split, to_si

__all__ = ["Step", "parse_step", "expand", "describe", "total_charge", "validate_protocol", "FORMS"]

# The accepted step forms, quoted in error messages.
FORMS = (
    "Plate at <current density> for <time>",
    "Strip at <current density> for <time>",
    "Plate|Strip at <current density> until <potential>",
    "Plate|Strip at <current density> for <time> or until <potential>",
    "Rest for <time>",
    "Hold at <potential> for <time>",
)

# Which clauses each verb requires and which it may carry.
_REQUIRED = {"plate": {"at"}, "strip": {"at"}, "rest": {"for"}, "hold": {"at", "for"}}
_ALLOWED = {"plate": {"at", "for", "until"}, "strip": {"at", "for", "until"}, "rest": {"for"}, "hold": {"at", "for"}}

# Splits "at X for Y or until Z" into keywords and values.  The keyword must
# stand alone as a word; a trailing keyword with no value ("... for") still
# splits so that the missing value can be reported.
_KEYWORD = re.compile(r"(?:^|\s+)(at|for|until|or)(?=\s|$)", re.IGNORECASE)


@dataclass(frozen=True)
class Step:
    """One protocol step, in SI units (A/m^2, s, V)."""

    text: str  # the step as written in the scenario
    kind: str  # "plate" | "strip" | "rest" | "hold"
    control: str  # "galvanostatic" | "potentiostatic"
    current_density: float  # A/m^2, + plate, - strip, 0 for rest and hold
    potential: float | None  # V, the held potential (hold steps only)
    duration: float | None  # s; None when only a voltage limit ends the step
    until: float | None  # V, voltage limit; None when there is none

    def limit_reached(self, voltage: float) -> bool:
        """Whether the cell ``voltage`` (V) has reached this step's ``until`` limit.

        Plating drives the voltage down, so its limit is reached at or below
        ``until``; stripping drives it up, so at or above.  Always False for
        steps without a limit.
        """
        if self.until is None:
            return False
        if self.kind == "plate":
            return voltage <= self.until
        if self.kind == "strip":
            return voltage >= self.until
        return False


def _fail(text: str, problem: str) -> UserError:
    return UserError(f"protocol step {text!r}: {problem}")


def _forms(verb: str | None = None) -> str:
    """The accepted forms, quoted; only those of ``verb`` when it is given."""
    forms = [f for f in FORMS if verb is None or verb in f.lower().split(" ", 1)[0].split("|")]
    return "; ".join(f"'{form}'" for form in forms)


def _normalise_unit(value: str, dimension: str) -> str | None:
    """A second spelling to try when pint does not know the unit as written.

    Only used after a failed conversion, so valid units whose case matters
    (``MV`` is megavolt) are never rewritten.
    """
    parts = split(value)
    if parts is None:
        return None
    number, unit = parts
    if dimension == "time":
        # "1 Hour", "30 MIN": time units are all lower case in pint.
        fixed = unit.lower()
    elif dimension == "potential":
        # "50 mv", "1 v"
        fixed = {"v": "V", "mv": "mV", "uv": "uV", "µv": "µV", "volt": "V", "volts": "V"}.get(unit.lower(), unit)
    else:
        # "1 mA/cm2" -> "1 mA/cm^2"
        fixed = re.sub(r"(?<=[a-zA-Zµ])([23])\b", r"^\1", unit)
    return f"{number!r} {fixed}" if fixed != unit else None


def _quantity(text: str, keyword: str, value: str, dimension: str) -> float:
    """Convert the value of one clause, reporting bad units against the step."""
    try:
        return to_si(value, dimension)
    except ValueError as err:
        retry = _normalise_unit(value, dimension)
        if retry is not None:
            try:
                return to_si(retry, dimension)
            except ValueError:
                pass
        name = dimension.replace("_", " ")
        raise _fail(text, f"after '{keyword}' a {name} is expected: {err}") from None


def _clauses(text: str, verb: str, rest: str) -> dict[str, str]:
    """Split the text after the verb into {keyword: value}, checking the order."""
    parts = _KEYWORD.split(rest)
    # parts = [before-first-keyword, kw1, value1, kw2, value2, ...]
    if parts[0].strip():
        expected = "at" if "at" in _REQUIRED[verb] else "for"
        raise _fail(text, f"expected '{expected}' after '{verb}', got {parts[0].strip()!r}; use {_forms(verb)}")
    clauses: dict[str, str] = {}
    joined_by_or = False
    for keyword, value in zip(parts[1::2], parts[2::2], strict=True):
        keyword, value = keyword.lower(), value.strip()
        if keyword == "or":
            # "or" only joins "for <time>" and "until <potential>"; it has no value itself
            if value or not clauses or joined_by_or:
                raise _fail(text, "'or' may only join 'for <time> or until <potential>'")
            joined_by_or = True
            continue
        if keyword in clauses:
            raise _fail(text, f"'{keyword}' is given twice")
        if keyword not in _ALLOWED[verb]:
            raise _fail(text, f"'{verb}' does not take '{keyword} ...'; use {_forms(verb)}")
        if not value:
            raise _fail(text, f"missing value after '{keyword}'")
        if joined_by_or and keyword == "at":
            raise _fail(text, "'or' may only join 'for <time> or until <potential>'")
        clauses[keyword] = value
    if joined_by_or and not {"for", "until"} <= clauses.keys():
        raise _fail(text, "'or' may only join 'for <time> or until <potential>'")
    if "at" in clauses and next(iter(clauses)) != "at":
        raise _fail(text, f"'at ...' must come right after '{verb}'")
    return clauses


def parse_step(text: str) -> Step:
    """Parse one step string such as ``"Plate at 1 mA/cm^2 for 1 hour"``."""
    if not isinstance(text, str):
        raise UserError(f"protocol step {text!r}: expected a string such as 'Plate at 1 mA/cm^2 for 1 hour'")
    words = " ".join(text.split())  # collapse runs of whitespace
    if not words:
        raise UserError(f"protocol step {text!r} is empty; use {_forms()}")
    verb, _, rest = words.partition(" ")
    verb = verb.lower()
    if verb not in _REQUIRED:
        raise _fail(text, f"unknown step '{verb}'; use {_forms()}")

    clauses = _clauses(text, verb, rest)
    missing = _REQUIRED[verb] - clauses.keys()
    if "at" in missing:
        what = "<potential>" if verb == "hold" else "<current density>"
        raise _fail(text, f"missing 'at {what}'; use {_forms(verb)}")
    if "for" in missing:
        raise _fail(text, f"'{verb}' needs a duration ('for <time>'); use {_forms(verb)}")
    if verb in ("plate", "strip") and not {"for", "until"} & clauses.keys():
        raise _fail(text, "needs a duration ('for <time>') or a voltage limit ('until <potential>'), or both")

    duration = None
    if "for" in clauses:
        duration = _quantity(text, "for", clauses["for"], "time")
        if duration <= 0:
            raise _fail(text, f"the duration must be positive, got {clauses['for']!r}")
    until = _quantity(text, "until", clauses["until"], "potential") if "until" in clauses else None

    if verb == "rest":
        return Step(text, "rest", "galvanostatic", 0.0, None, duration, None)
    if verb == "hold":
        potential = _quantity(text, "at", clauses["at"], "potential")
        return Step(text, "hold", "potentiostatic", 0.0, potential, duration, None)

    # plate / strip: the magnitude is written, the verb gives the direction
    magnitude = _quantity(text, "at", clauses["at"], "current_density")
    if magnitude < 0:
        raise _fail(
            text,
            f"the current density {clauses['at']!r} is negative; write its magnitude "
            "and use Plate or Strip for the direction",
        )
    if magnitude == 0:
        raise _fail(text, "the current density must be non-zero (use 'Rest for <time>' for no current)")
    sign = 1.0 if verb == "plate" else -1.0
    return Step(text, verb, "galvanostatic", sign * magnitude, None, duration, until)


def _count(value: Any, what: str) -> int:
    """A repeat/cycle count: a whole number >= 1."""
    if isinstance(value, bool) or not isinstance(value, int):
        if isinstance(value, float) and value.is_integer():
            value = int(value)
        else:
            raise UserError(f"protocol {what} must be a whole number >= 1, got {value!r}")
    if value < 1:
        raise UserError(f"protocol {what} must be at least 1, got {value}")
    return value


def _expand_items(items: Any, where: str) -> list[Step]:
    if not isinstance(items, (list, tuple)):
        raise UserError(f"{where} must be a list of steps, got {items!r}")
    if not items:
        raise UserError(f"{where} has no steps")
    steps: list[Step] = []
    for item in items:
        if isinstance(item, Step):
            steps.append(item)
        elif isinstance(item, str):
            steps.append(parse_step(item))
        elif isinstance(item, dict):
            unknown = set(item) - {"repeat", "steps"}
            if unknown or "repeat" not in item or "steps" not in item:
                raise UserError(
                    f"protocol block {item!r}: expected exactly the keys 'repeat' and 'steps', "
                    "e.g. {repeat: 3, steps: ['Plate at 1 mA/cm^2 for 1 h', 'Strip at 1 mA/cm^2 for 1 h']}"
                )
            count = _count(item["repeat"], f"repeat count in {item!r}")
            steps.extend(_expand_items(item["steps"], "a repeat block's 'steps'") * count)
        else:
            raise UserError(f"protocol item {item!r}: expected a step string or a {{repeat, steps}} block")
    return steps


def expand(steps: Sequence[str | dict], cycles: int = 1) -> list[Step]:
    """Flatten a protocol (strings and repeat blocks) into Steps in run order.

    The whole list is run ``cycles`` times.  Steps are frozen, so a repeated
    step appears as the same object several times.
    """
    cycles = _count(cycles, "cycle count")
    return _expand_items(steps, "the protocol") * cycles


def _fmt(value: float) -> str:
    return f"{value:g}"


def describe(steps: Sequence[Step | str | dict]) -> str:
    """One numbered line per step, e.g. ``"1. plate 10 A/m^2 for 3600 s"``."""
    if any(not isinstance(step, Step) for step in steps):
        steps = expand(list(steps))
    lines = []
    for number, step in enumerate(steps, start=1):
        if step.kind == "hold":
            head = f"hold at {_fmt(step.potential)} V"
        elif step.kind == "rest":
            head = "rest"
        else:
            head = f"{step.kind} {_fmt(abs(step.current_density))} A/m^2"
        limits = []
        if step.duration is not None:
            limits.append(f"for {_fmt(step.duration)} s")
        if step.until is not None:
            limits.append(f"until {_fmt(step.until)} V")
        lines.append(f"{number}. {head} {' or '.join(limits)}".rstrip())
    return "\n".join(lines)


def total_charge(steps: Sequence[Step]) -> float | None:
    """Net charge density (C/m^2, + plated) passed by the protocol.

    Known in advance only when every step is galvanostatic with a fixed
    duration; returns None if any step is potentiostatic or may end on a
    voltage limit.
    """
    charge = 0.0
    for step in steps:
        if step.control != "galvanostatic" or step.duration is None or step.until is not None:
            return None
        charge += step.current_density * step.duration
    return charge


def validate_protocol(value: Any) -> Any:
    """Pydantic ``BeforeValidator``: check a protocol list, return it unchanged.

    Usage in a schema::

        protocol: Annotated[list[str | dict], BeforeValidator(validate_protocol)]

    Parse errors are re-raised as ``ValueError`` so that pydantic reports them
    with the field's location.  ``None`` passes through (no protocol given).
    """
    if value is None:
        return value
    try:
        expand(value)
    except UserError as err:
        raise ValueError(str(err)) from None
    return value
