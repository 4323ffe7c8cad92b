"""Adaptive implicit time stepping shared by the transient physics (tertiary transport, phase field).

A problem plugs in with: ``step(dt) -> result`` (``converged``, ``newton_iterations``,
``reason``; the state restored on failure), ``snapshot()`` / ``restore(snap)``, ``time``,
``domain.comm`` and ``relative_change(snap)`` (the largest change of its state since the
snapshot, as a fraction of its scale). A row of scalars with ``surface_concentration_min``
and a problem with ``c_bulk`` enable the Sand's-time stop.
"""

from __future__ import annotations

import dataclasses
import math
from typing import Callable

from solver.errors import SolverError


def solve_checked(problem, fields, comm) -> tuple[bool, int, int]:
    """Solve a NonlinearProblem; (converged with finite fields on every rank, Newton iterations,
    SNES reason; -100 when the solve raised)."""
    import numpy as np
    from mpi4py import MPI

    snes = problem.solver
    try:
        problem.solve()
        reason = snes.getConvergedReason()
    except RuntimeError:
        reason = -100
    finite = all(np.isfinite(f.x.array).all() for f in fields)
    return reason > 0 and comm.allreduce(finite, op=MPI.LAND), snes.getIterationNumber(), reason


@dataclasses.dataclass
class TimeControl:
    """Adaptive step control (all times in s)."""

    dt_initial: float = 1e-3
    dt_min: float = 1e-9
    dt_max: float = math.inf
    growth: float = 1.5  # largest factor between steps
    target_change: float = 0.02  # aimed max |delta c| per step, relative to c_bulk
    easy_iterations: int = 4  # fewer Newton iterations: the step may grow
    sand_threshold: float = 1e-3  # stop when the surface concentration falls below this * c_bulk


@dataclasses.dataclass
class Event:
    """A stop condition: ``distance(row)`` is positive before the event and <= 0 at or after it;
    the step that crosses it is shortened until ``|distance| <= tolerance``."""

    distance: Callable[[dict], float]
    tolerance: float
    name: str = "event"


@dataclasses.dataclass
class Stop:
    reason: str  # "end" (t_end reached), "sand" (surface depletion) or the event's name
    time: float
    sand_time: float | None = None


@dataclasses.dataclass
class Integration:
    rows: list[dict]
    stopped: str | None  # None: reached t_end; "sand": surface depletion
    sand_time: float | None
    steps: int
    rejected: int


class Integrator:
    """Adaptive backward Euler for a transient problem (see the module docstring).

    The step follows the change of the state per step (``target_change``) and the Newton effort; a
    failed step is retried with half the step down to ``dt_min``, then ``SolverError``. Output
    times are hit exactly. When the electrode surface concentration falls below
    ``sand_threshold * c_bulk`` the integration stops; the time at which it reaches zero is
    extrapolated linearly from the last two steps (Sand's time). ``state()`` is everything a
    checkpoint needs besides the fields, so that a restarted run takes the same steps.
    """

    def __init__(self, problem, control: TimeControl | None = None, observe: Callable | None = None):
        self.problem = problem
        self.ctl = control or TimeControl()
        self.observe = observe
        self.dt = self.ctl.dt_initial
        self.steps = 0
        self.rejected = 0

    def state(self) -> dict:
        return {"dt": self.dt, "steps": self.steps, "rejected": self.rejected}

    def set_state(self, state: dict) -> None:
        self.dt, self.steps, self.rejected = float(state["dt"]), int(state["steps"]), int(state["rejected"])

    def advance(self, t_end: float, outputs: list[float] | None = None, on_output: Callable | None = None,
                on_step: Callable | None = None, event: Event | None = None, last: dict | None = None) -> Stop:
        """Step from the present time to ``t_end``; ``on_step(row, dt)`` after each accepted step,
        ``on_output(t)`` at each output time. ``last``: the row of the present state."""
        p, ctl = self.problem, self.ctl
        c_ref = getattr(p, "c_bulk", None)
        outputs = sorted(t for t in (outputs or []) if p.time * (1 + 1e-12) < t <= t_end * (1 + 1e-12))
        last = last or self.observe(p)
        while p.time < t_end * (1 - 1e-12) and t_end - p.time > 1e-12 * max(1.0, t_end):
            t = p.time
            target = min([t_end] + [o for o in outputs if o > t * (1 + 1e-12)])
            dt = min(self.dt, ctl.dt_max)
            landing = t + dt >= target * (1 - 1e-9)
            step_dt = target - t if landing else dt
            snap = p.snapshot()
            result = p.step(step_dt)
            if not result.converged:
                self.rejected += 1
                self.dt = step_dt / 2
                if self.dt < ctl.dt_min:
                    hint = getattr(p, "failure_hint", "")
                    raise SolverError(
                        f"the time step did not converge at t = {t:.6g} s even with dt = {step_dt:.3g} s "
                        f"(SNES reason {result.reason})" + (f"; {hint}" if hint else ""))
                continue
            change = p.relative_change(snap)
            if change > 2 * ctl.target_change and step_dt > ctl.dt_min:
                p.restore(snap)
                self.rejected += 1
                self.dt = step_dt * max(0.2, ctl.target_change / change)
                continue
            row = self.observe(p)
            if event is not None:
                g0, g1 = event.distance(last), event.distance(row)
                if g1 < -event.tolerance and step_dt > ctl.dt_min:  # overshot: land on the event
                    p.restore(snap)
                    self.rejected += 1
                    fraction = g0 / (g0 - g1) if g0 > 0 and g0 != g1 else 0.5
                    self.dt = max(ctl.dt_min, step_dt * min(0.9, max(0.05, fraction * 0.999)))
                    continue
            self.steps += 1
            if on_step is not None:
                on_step(row, step_dt, result)
            c_s, c_s_before = row.get("surface_concentration_min"), last.get("surface_concentration_min")
            last = row
            stop = None
            if event is not None and event.distance(row) <= event.tolerance:
                stop = Stop(event.name, p.time)
            elif c_s is not None and c_ref and c_s <= ctl.sand_threshold * c_ref:
                slope = (c_s - c_s_before) / step_dt
                stop = Stop("sand", p.time, p.time - c_s / slope if slope < 0 else p.time)
            self._next_dt(step_dt, landing, change, result, c_s, c_s_before)
            if landing and target in outputs and on_output is not None:
                on_output(p.time)  # after the next step is chosen: a checkpoint here has the whole state
            if stop is not None:
                return stop
        return Stop("end", p.time)

    def _next_dt(self, step_dt, landing, change, result, c_s, c_s_before) -> None:
        """Next step: by the change of c and the Newton effort, and not past depletion."""
        ctl = self.ctl
        factor = min(ctl.growth, ctl.target_change / max(change, 1e-300))
        if result.newton_iterations > ctl.easy_iterations:
            factor = min(factor, 1.0)
        dt = max(ctl.dt_min, (step_dt if not landing else max(step_dt, self.dt)) * factor)
        if c_s is None or c_s_before is None:
            self.dt = dt
            return
        rate = (c_s - c_s_before) / step_dt
        if rate < 0:
            dt = min(dt, max(ctl.dt_min, 0.5 * (c_s - 0.5 * ctl.sand_threshold * self.problem.c_bulk) / -rate))
        self.dt = dt


