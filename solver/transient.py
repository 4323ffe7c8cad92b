"""A transient study (tertiary current distribution): scenario case -> mesh -> ``Tertiary`` ->
protocol steps -> histories, field time series, checkpoints.

Like ``study.py`` for stationary studies, this is where the scenario schema meets the physics
(``solver.physics.transport``). Files written into a case's folder (in place, as the run goes,
so that a run cut off by a wall-time limit keeps what it had and can be restarted)::

    history.csv              one row per accepted time step (see ``Observer.row``)
    fields.vtkhdf            concentration, potential, plating current at the output times
                             (one file with time steps; ParaView >= 5.12 plays it)
    frames/                  the same frames, one .npz each (what fields.vtkhdf is built from)
    checkpoints/             checkpoint_NNNNN.npz: fields and stepper state (any rank count)
    metrics.json             status (running/completed/sand/failed), Sand's time, summary

Restart (``run.py run --restart DIR``): the newest checkpoint in DIR is loaded into a new
mesh built from the same scenario (the number of MPI ranks may differ); the history and the
frames after the checkpoint are dropped and the run goes on with the same steps.
"""

from __future__ import annotations

import dataclasses
import json
import math
import shutil
import sys
import time
from pathlib import Path

import numpy as np
import ufl

from solver import checkpoint, protocol as protocol_lib
from solver._dolfinx import MPI, dolfinx
from solver.arrays import distinct
from solver.domain import Domain
from solver.errors import SolverError, UserError
from solver.output import gather_grid, write_json
from solver.postprocess import nearest_dof
from solver.physics.potential import FARADAY, ButlerVolmer
from solver.physics.transport import Electrolyte, Region, SolidElectrolyte, Tertiary
from solver.stepping import Event, Integrator, TimeControl
from solver.scenario import Case, ElectrolyteMaterial, PorousLayerMaterial, SolidElectrolyteMaterial

MAX_UNTIL = 1e7  # s: cap of a step that has only a voltage limit (about 116 days)


# ---------------------------------------------------------------------- scenario -> physics
def electrolyte_of(case: Case) -> tuple[Electrolyte, float, ElectrolyteMaterial]:
    """The (single) electrolyte's transport laws and its bulk concentration."""
    mat = next(m for m in case.scenario.materials.values() if isinstance(m, ElectrolyteMaterial))
    missing = [k for k in ("conductivity", "diffusivity", "transference_number") if mat.law(k) is None]
    if missing:
        raise UserError(f"materials: the tertiary model needs {', '.join(missing)} of the electrolyte "
                        "(give them or choose a preset)")
    tdf = mat.law("thermodynamic_factor") or (lambda c, m: 1.0 + 0.0 * c)
    e = Electrolyte(mat.law("conductivity"), mat.law("diffusivity"), float(mat.value("transference_number")),
                    thermodynamic_factor=tdf, name=mat.preset or "custom")
    c_bulk = float(mat.value("concentration") or 1000.0)
    return e, c_bulk, mat


def make_problem(case: Case, domain: Domain) -> Tertiary:
    s = case.scenario
    e, c_bulk, _ = electrolyte_of(case)
    regions = {}
    for mat in s.materials.values():
        for r in mat.regions:
            if isinstance(mat, ElectrolyteMaterial):
                regions[r] = Region(e)
            elif isinstance(mat, PorousLayerMaterial):
                if mat.conductivity is not None:
                    raise UserError("materials: a porous layer's 'conductivity' override is a secondary-model "
                                    "option; the tertiary model uses porosity and bruggeman")
                regions[r] = Region(e, mat.porosity, mat.bruggeman)
            elif isinstance(mat, SolidElectrolyteMaterial):
                regions[r] = SolidElectrolyte(mat.conductivity)

    def bv(k) -> ButlerVolmer:
        return ButlerVolmer(k.exchange_current_density, k.alpha_a, k.alpha_c, k.equilibrium_potential)

    electrode = {n: bv(s.physics.electrode.kinetics_on(n)) for n in s.physics.electrode.boundaries}
    counter = s.physics.counter
    solver = s.solver
    return Tertiary(
        domain, regions, electrode, counter.boundaries, counter_type=counter.type,
        counter_kinetics=bv(counter.kinetics) if counter.kinetics else None, c_bulk=c_bulk,
        control="galvanostatic", current_density=1.0, temperature=s.physics.temperature,
        degree=solver.degree, rtol=solver.rtol, max_iterations=solver.max_iterations,
        petsc_options=solver.petsc_options,
    )


def time_control(case: Case) -> TimeControl:
    ts = case.scenario.study.time_stepping
    return TimeControl(dt_initial=ts.initial_step, dt_min=ts.min_step, dt_max=ts.max_step or math.inf,
                       growth=ts.growth, target_change=ts.target_change,
                       sand_threshold=case.scenario.study.sand_threshold)


# ---------------------------------------------------------------------- observables
class Observer:
    """The scalars of one history row, from the present state of the problem."""

    def __init__(self, problem: Tertiary, case: Case):
        self.p = problem
        d = problem.domain
        self.area = d.projected_area
        self.w = d.weight
        self.names = list(problem.electrode)
        self.electrode_area = d.area(self.names)
        self.counter_area = d.area(problem.counter)
        self.half_cell = case.scenario.physics.cell.type == "half"
        self.lithium0 = case.scenario.physics.cell.initial_lithium
        self.charge = 0.0  # plated charge per projected area (C/m^2) at the last accepted step
        self.last_time = problem.time
        apex = (d.landmarks.get("apex") or [None])[0]
        far = d.landmarks.get("far")
        self.points = {"apex": self._locate(apex), "far": self._locate(far)} if apex is not None and far is not None \
            else {}
        phi, V = problem.phi, problem.voltage
        eta = sum((V - phi - bv.e_eq) * self.w * d.ds_on([n]) for n, bv in problem.electrode.items())
        self._eta_form = dolfinx.fem.form(eta)
        if problem.counter_type == "electrode":
            k = problem.counter_kinetics
            self._eta_counter = dolfinx.fem.form((-phi - k.e_eq) * self.w * d.ds_on(problem.counter))
        else:
            self._eta_counter = None
        plating = sum(-problem.anodic_current(bv, problem.c, phi, V) * self.w * d.ds_on([n])
                      for n, bv in problem.electrode.items())
        self._current_form = dolfinx.fem.form(plating)

    def _locate(self, point):
        """(rank, local dof, boundary name) of the electrode node nearest to ``point``."""
        d = self.p.domain
        V = self.p.Vc
        owned = V.dofmap.index_map.size_local
        fdim = d.mesh.topology.dim - 1
        per_name = {n: dolfinx.fem.locate_dofs_topological(V, fdim, d.facets([n])) for n in self.names}
        dofs = distinct(np.concatenate(list(per_name.values())))
        rank, dof = nearest_dof(V, dofs[dofs < owned], point, d.comm)
        name = next((n for n, ds in per_name.items() if dof in ds), "") if dof >= 0 else ""
        return rank, dof, name

    def _nodal_plating(self, where) -> float:
        rank, dof, name = where
        value = 0.0
        if rank == self.p.domain.comm.rank:
            p = self.p
            bv = p.electrode[name]
            c = max(float(p.c.x.array[dof]), 1e-9)
            eta = float(p.voltage.x.array[0]) - float(p.phi.x.array[dof]) - bv.e_eq
            gamma = bv.alpha_a if p.i0_exponent is None else p.i0_exponent
            value = -(c / p.c_ref) ** gamma * bv.anodic_current(eta, p.f)
        return self.p.domain.comm.allreduce(value, op=MPI.SUM)

    def _integral(self, form) -> float:
        return self.p.domain.comm.allreduce(dolfinx.fem.assemble_scalar(form), op=MPI.SUM)

    def row(self, p: Tertiary) -> dict:
        c_min, c_max = p.surface_concentration()
        current = self._integral(self._current_form)  # A (2D: A/m)
        i_mean = current / self.area
        charge = self.charge + i_mean * (p.time - self.last_time)
        row = {
            "time_s": p.time,
            "step": 0,
            "current_density_A_m2": i_mean,
            "cell_voltage_V": p.electrode_potential,
            "eta_working_mean_V": self._integral(self._eta_form) / self.electrode_area,
            "eta_counter_mean_V": self._integral(self._eta_counter) / self.counter_area if self._eta_counter else 0.0,
            "surface_concentration_min_mol_m3": c_min,
            "surface_concentration_max_mol_m3": c_max,
            "surface_concentration_min": c_min,  # the stepper's key
            "charge_C_m2": charge,
            "charge_mAh_cm2": charge / 36.0,
            "salt_mol": p.salt_amount(),
        }
        if self.half_cell:
            row["lithium_on_working_C_m2"] = self.lithium0 + charge
        if self.points:
            apex, far = self._nodal_plating(self.points["apex"]), self._nodal_plating(self.points["far"])
            row["apex_current_density_A_m2"] = apex
            row["far_current_density_A_m2"] = far
            row["tip_over_far"] = apex / far if far else math.nan
        return row

    def accept(self, row: dict) -> None:
        self.charge = row["charge_C_m2"]
        self.last_time = row["time_s"]


class TertiaryModel:
    """The tertiary model as the transient runner sees it (see ``run_case``)."""

    name = "tertiary"

    def __init__(self, case: Case, domain: Domain):
        self.case = case
        self.problem = p = make_problem(case, domain)
        self.observer = Observer(p, case)
        self.checkpoint_fields = {"concentration": p.c, "electrolyte_potential": p.phi,
                                  "electrode_potential": p.voltage}
        d = domain
        tdim, self.gdim = d.mesh.topology.dim, d.mesh.geometry.dim
        self.plating = dolfinx.fem.Function(p.Vc, name="plating_current_density")
        self._plating_dofs = {n: dolfinx.fem.locate_dofs_topological(p.Vc, tdim - 1, d.facets([n]))
                              for n in p.electrode}
        self._plating_expr = {
            n: dolfinx.fem.Expression(-p.anodic_current(bv, p.c, p.phi, p.voltage), p.Vc.element.interpolation_points)
            for n, bv in p.electrode.items()}
        self._work = dolfinx.fem.Function(p.Vc)
        Q = dolfinx.fem.functionspace(d.mesh, ("DG", 0, (self.gdim,)))
        self.ivec = dolfinx.fem.Function(Q)
        self._ivec_expr = dolfinx.fem.Expression(p.ionic_current(), Q.element.interpolation_points)
        self.n_owned = d.mesh.topology.index_map(tdim).size_local

    def frame_fields(self):
        p = self.problem
        self.plating.x.array[:] = 0.0
        for name, dofs in self._plating_dofs.items():
            self._work.interpolate(self._plating_expr[name])
            self.plating.x.array[dofs] = self._work.x.array[dofs]
        self.ivec.interpolate(self._ivec_expr)
        vec3 = np.zeros((self.n_owned, 3))
        vec3[:, : self.gdim] = self.ivec.x.array.reshape(-1, self.gdim)[: self.n_owned]
        return p.Vc, {"concentration": p.c, "electrolyte_potential": p.phi,
                      "plating_current_density": self.plating}, {"current_density": vec3}

    def first_row(self) -> dict:
        row = self.observer.row(self.problem)
        for key in ("current_density_A_m2", "eta_working_mean_V", "eta_counter_mean_V",
                    "apex_current_density_A_m2", "far_current_density_A_m2", "tip_over_far"):
            if key in row:  # nothing is solved yet at t = 0: no current distribution
                row[key] = None
        return row

    def apply(self, step, restarting: bool = False) -> None:
        p = self.problem
        if step.control == "potentiostatic":
            p.set_potential(step.potential)
        else:
            if restarting:  # the control as it was (no change of Newton's first guess)
                p.i_app.value = step.current_density
            p.set_current(step.current_density)

    def event(self, step) -> Event | None:
        return _event(step, self.case, self.problem)

    def state(self) -> dict:
        return {"charge": self.observer.charge}

    def set_state(self, state: dict, time_s: float) -> None:
        self.observer.charge, self.observer.last_time = state["charge"], time_s

    def summary(self, rows: list[dict], steps) -> dict:
        p, s = self.problem, self.case.scenario
        last = rows[-1]
        out = {
            "analytic_sand_time_constant_D_s": _sand_estimate(self.case, p, steps),
            "min_surface_concentration_mol_m3": min(r["surface_concentration_min_mol_m3"] for r in rows),
            "salt_drift_relative": abs(last["salt_mol"] - rows[0]["salt_mol"]) / abs(rows[0]["salt_mol"])
            if p.counter_type == "electrode" else None,  # closed cell: conserved; a reservoir is not
            "half_cell_inventory_model": "uniform (one number for the electrode)"
            if s.physics.cell.type == "half" else None,
        }
        solved = [r["tip_over_far"] for r in rows if r.get("tip_over_far") is not None]
        if solved:
            out["tip_over_far_first_step"] = solved[0]
            out["tip_over_far_final"] = solved[-1]
            out["tip_over_far_max"] = max(solved)
        return out

    def progress_text(self, row: dict) -> str:
        return (f"V = {row['cell_voltage_V'] * 1e3:.2f} mV, "
                f"c_surf min = {row['surface_concentration_min_mol_m3']:.4g} mol/m^3"
                + (f", tip/far = {row['tip_over_far']:.4f}" if row.get("tip_over_far") is not None else ""))


def make_model(case: Case, domain: Domain):
    """The transient model of a case: tertiary transport or the phase field."""
    if case.scenario.physics.model == "phase_field":
        from solver.deposition import PhaseFieldModel

        return PhaseFieldModel(case, domain)
    return TertiaryModel(case, domain)


# ---------------------------------------------------------------------- progress
class Progress:
    """A progress bar on rank 0 in a terminal; plain log lines otherwise."""

    def __init__(self, comm, total: float | None, log, label: str, quiet: bool, describe=None):
        self.describe = describe or (lambda row: "")
        self.on = comm.rank == 0 and not quiet
        self.tty = self.on and sys.stdout.isatty()
        self.total, self.log, self.label = total, log, label
        self.last_print = 0.0

    def update(self, t: float, row: dict, force: bool = False) -> None:
        if not self.on:
            return
        now = time.perf_counter()
        text = f"t = {t:.4g} s, " + self.describe(row)
        if self.tty:
            if now - self.last_print > 0.2 or force:
                frac = min(1.0, t / self.total) if self.total else 0.0
                bar = "#" * int(30 * frac) + "." * (30 - int(30 * frac))
                print(f"\r{self.label}[{bar}] {100 * frac:5.1f}% {text}   ", end="", flush=True)
                self.last_print = now
        elif force:
            self.log(f"{self.label}{text}")

    def close(self) -> None:
        if self.tty:
            print(flush=True)


# ---------------------------------------------------------------------- outputs
class Recorder:
    """History rows, field frames and checkpoints of one case (files on rank 0); the fields come
    from the model (``frame_fields()``, ``checkpoint_fields``)."""

    def __init__(self, folder: Path, model, case: Case, comm):
        self.folder, self.model, self.case, self.comm = folder, model, case, comm
        self.rows: list[dict] = []
        self.frames: list[float] = []
        self._written = 0  # rows already in history.csv
        self._keys: list[str] | None = None
        self.fields = case.scenario.outputs.fields
        d = model.problem.domain
        tdim = d.mesh.topology.dim
        n_owned = d.mesh.topology.index_map(tdim).size_local
        self.region = np.zeros(n_owned, dtype=np.int32)
        tags = d.cell_tags
        mask = tags.indices < n_owned
        self.region[tags.indices[mask]] = tags.values[mask]
        if comm.rank == 0:
            (folder / "frames").mkdir(parents=True, exist_ok=True)
            (folder / "checkpoints").mkdir(parents=True, exist_ok=True)

    # -- fields
    def frame(self, t: float) -> None:
        """Write the present fields as frame number len(frames) (collective)."""
        if not self.fields:
            return
        space, points, cells = self.model.frame_fields()
        grid = gather_grid(space, points, {**cells, "region": self.region})
        k = len(self.frames)
        self.frames.append(t)
        if self.comm.rank == 0:
            frames = self.folder / "frames"
            if k == 0 or not (frames / "mesh.vtkhdf").exists():
                mesh = grid.copy()
                mesh.clear_data()
                mesh.field_data["region_names"] = np.array(
                    [f"{v}={k_}" for k_, v in self.model.problem.domain.regions.items()])
                mesh.save(str(frames / "mesh.vtkhdf"))
            arrays = {f"point/{n}": np.asarray(grid.point_data[n]) for n in grid.point_data}
            arrays |= {f"cell/{n}": np.asarray(grid.cell_data[n]) for n in grid.cell_data}
            np.savez(frames / f"frame_{k:05d}.npz", time=np.float64(t), **arrays)

    # -- history
    def write_history(self) -> None:
        """Append the rows not yet in history.csv (rank 0); the whole file after a restart."""
        if self.comm.rank != 0 or not self.rows:
            return
        if self._keys is None:
            self._keys = [k for k in self.rows[0] if k != "surface_concentration_min"] + ["dt_s", "newton_iterations"]
        path = self.folder / "history.csv"
        new = ["\n".join(",".join(_fmt(row.get(k)) for k in self._keys) for row in self.rows[self._written:])]
        if self._written == 0:
            tmp = self.folder / "history.csv.tmp"
            tmp.write_text(",".join(self._keys) + "\n" + new[0] + "\n")
            tmp.replace(path)
        elif len(self.rows) > self._written:
            with open(path, "a") as fh:
                fh.write(new[0] + "\n")
        self._written = len(self.rows)

    def _read_history(self, count: int) -> list[dict]:
        """The first ``count`` rows of history.csv (10 significant digits), on every rank."""
        rows = None
        if self.comm.rank == 0:
            import csv

            with open(self.folder / "history.csv") as fh:
                reader = csv.DictReader(fh)
                rows = []
                for raw in reader:
                    if len(rows) == count:
                        break
                    row = {k: (float(v) if v not in ("", None) else None) for k, v in raw.items()}
                    if "surface_concentration_min_mol_m3" in row:  # the stepper's key (tertiary)
                        row["surface_concentration_min"] = row["surface_concentration_min_mol_m3"]
                    rows.append(row)
        return self.comm.bcast(rows, root=0)

    # -- checkpoints
    def checkpoint(self, k: int, state: dict) -> None:
        """Fields, stepper state and the last history row (exact); earlier rows are in history.csv."""
        path = self.folder / "checkpoints" / f"checkpoint_{k:05d}.npz"
        meta = {"state": state, "rows": len(self.rows), "last_row": self.rows[-1], "frames": self.frames,
                "case_key": self.case.key()}
        checkpoint.save(path, self.model.checkpoint_fields, meta)
        keep = self.case.scenario.study.checkpoint_keep
        if self.comm.rank == 0 and keep:  # keep the newest few
            for old in sorted((self.folder / "checkpoints").glob("checkpoint_*.npz"))[:-keep]:
                old.unlink()

    def restore(self, path: Path) -> dict:
        meta = checkpoint.load(path, self.model.checkpoint_fields)
        if meta.get("case_key") != self.case.key():
            raise UserError(f"{path}: the scenario differs from the one the checkpoint was written with; "
                            "restart with the run's own scenario.input.yaml (the default)")
        self.model.problem.restore(self.model.problem.snapshot())  # old = present state
        earlier = self._read_history(meta["rows"] - 1)
        if len(earlier) != meta["rows"] - 1:
            raise UserError(f"{self.folder / 'history.csv'}: shorter than the checkpoint's history "
                            f"({len(earlier)} rows before it, {meta['rows'] - 1} expected)")
        self.rows = earlier + [meta["last_row"]]
        self._written = 0  # history.csv is rewritten, cut at the checkpoint
        self.frames = meta["frames"]
        if self.comm.rank == 0:  # frames written after the checkpoint belong to the abandoned run
            for f in (self.folder / "frames").glob("frame_*.npz"):
                if int(f.stem.split("_")[1]) >= len(self.frames):
                    f.unlink()
        return meta["state"]

    def write_series(self) -> Path | None:
        """Assemble the frames into one VTKHDF file with time steps (rank 0)."""
        if self.comm.rank != 0 or not self.fields or not self.frames:
            return None
        return write_series(self.folder / "frames", self.folder / "fields.vtkhdf")


def _fmt(value) -> str:
    if value is None:
        return ""
    if isinstance(value, float):
        return f"{value:.10g}"
    return str(value)


def write_series(frames: Path, out: Path) -> Path:
    """frames/mesh.vtkhdf + frames/frame_*.npz -> one temporal VTKHDF file (VTK's HDF writer)."""
    import pyvista as pv
    import vtk
    from vtkmodules.util.vtkAlgorithm import VTKPythonAlgorithmBase
    from vtkmodules.vtkCommonExecutionModel import vtkStreamingDemandDrivenPipeline as SDDP

    mesh = pv.read(str(frames / "mesh.vtkhdf"))
    files = sorted(frames.glob("frame_*.npz"))
    times = [float(np.load(f)["time"]) for f in files]

    class Frames(VTKPythonAlgorithmBase):
        def __init__(self):
            super().__init__(nInputPorts=0, nOutputPorts=1, outputType="vtkUnstructuredGrid")

        def RequestInformation(self, request, in_info, out_info):  # noqa: N802 - VTK API
            info = out_info.GetInformationObject(0)
            info.Set(SDDP.TIME_STEPS(), times, len(times))
            info.Set(SDDP.TIME_RANGE(), [times[0], times[-1]], 2)
            return 1

        def RequestData(self, request, in_info, out_info):  # noqa: N802 - VTK API
            info = out_info.GetInformationObject(0)
            t = info.Get(SDDP.UPDATE_TIME_STEP()) if info.Has(SDDP.UPDATE_TIME_STEP()) else times[0]
            k = int(np.argmin(np.abs(np.asarray(times) - t)))
            grid = mesh.copy()
            data = np.load(files[k])
            for key in data.files:
                if key.startswith("point/"):
                    grid.point_data[key[6:]] = data[key]
                elif key.startswith("cell/"):
                    grid.cell_data[key[5:]] = data[key]
            output = vtk.vtkUnstructuredGrid.GetData(out_info)
            output.ShallowCopy(grid)
            output.GetInformation().Set(output.DATA_TIME_STEP(), times[k])
            return 1

    tmp = out.with_name(out.name + ".tmp")
    source = Frames()  # keep a reference: the writer does not own the Python algorithm
    writer = vtk.vtkHDFWriter()
    writer.SetInputConnection(source.GetOutputPort())
    writer.SetFileName(str(tmp))
    writer.SetWriteAllTimeSteps(True)
    writer.SetChunkSize(max(256, min(65536, mesh.n_points)))  # the default chunk (25000) bloats small meshes
    writer.SetCompressionLevel(1)
    if not writer.Write():
        raise SolverError(f"could not write {out}")
    tmp.replace(out)
    return out


def read_series(path: Path):
    """(times, list of pyvista grids) of a temporal VTKHDF file written by ``write_series``."""
    import pyvista as pv
    import vtk
    from vtkmodules.vtkCommonExecutionModel import vtkStreamingDemandDrivenPipeline as SDDP

    reader = vtk.vtkHDFReader()
    reader.SetFileName(str(path))
    reader.UpdateInformation()
    times = list(reader.GetOutputInformation(0).Get(SDDP.TIME_STEPS()) or [])
    grids = []
    for k in range(reader.GetNumberOfSteps()):
        reader.SetStep(k)
        reader.Update()
        grids.append(pv.wrap(reader.GetOutput()).copy())
    return times, grids


# ---------------------------------------------------------------------- the run
def _output_times(start: float, end: float, interval: float | None) -> list[float]:
    if not interval:
        return []
    first = math.floor(start / interval + 1e-9) + 1
    last = min(math.floor(end / interval * (1 - 1e-12)), first + 10000)
    return [k * interval for k in range(first, last + 1)]


def run_case(case: Case, folder: Path, comm, log, domain: Domain | None = None, restart: bool = False,
             quiet: bool = False) -> dict:
    """Mesh, then follow the protocol; files in ``folder``; returns the metrics (with "error"
    when a step failed: the outputs up to that point are written and valid)."""
    from solver.study import build_domain

    s = case.scenario
    label = f"[{case.label}] "
    steps = protocol_lib.expand(s.study.protocol, s.study.cycles)
    if comm.rank == 0:
        folder.mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()
    domain = domain or build_domain(case, comm)
    t_mesh = time.perf_counter() - t0
    model = make_model(case, domain)
    problem = model.problem
    stepper = Integrator(problem, time_control(case), observe=model.observer.row)
    recorder = Recorder(folder, model, case, comm)
    position = {"step": 0, "step_start": 0.0, "outputs": 0}
    if restart:
        latest = checkpoint.latest(folder / "checkpoints") if comm.rank == 0 else None
        latest = comm.bcast(latest, root=0)
        if latest is None:
            raise UserError(f"{folder}: no checkpoint to restart from (checkpoints/checkpoint_*.npz)")
        state = recorder.restore(latest)
        problem.time = state["time"]
        stepper.set_state(state["stepper"])
        model.set_state(state["model"], state["time"])
        position = state["position"]
        if position["step"] < len(steps):
            model.apply(steps[position["step"]], restarting=True)
        log(f"{label}restart from {latest.name} at t = {problem.time:.6g} s (step {position['step'] + 1} of "
            f"{len(steps)})")
    log(f"{label}mesh: {domain.num_cells_global()} cells, {problem.num_dofs} unknowns; {model.name} transient, "
        f"{len(steps)} protocol step(s)")
    total = sum(st.duration or 0.0 for st in steps) or None
    progress = Progress(comm, total, log, label, quiet, model.progress_text)
    status, error, sand_time, sand_step = "completed", None, None, None
    metrics: dict = {"case": case.name, "model": model.name, "protocol": [st.text for st in steps]}
    t_solve = time.perf_counter()

    def state_now() -> dict:
        return {"time": problem.time, "stepper": stepper.state(), "model": model.state(), "position": position}

    def output(t: float) -> None:
        recorder.frame(t)
        position["outputs"] += 1
        position["last_output"] = t
        every = s.study.checkpoint_every
        recorder.write_history()
        if every and position["outputs"] % every == 0:
            recorder.checkpoint(position["outputs"], state_now())
        progress.update(t, recorder.rows[-1], force=True)

    try:
        if not restart:
            recorder.rows.append(model.first_row())
            output(0.0)
        while position["step"] < len(steps):
            k = position["step"]
            step = steps[k]
            start = position["step_start"]
            model.apply(step)  # idempotent: a restart re-applies its step's control
            end = start + (step.duration if step.duration else MAX_UNTIL)
            event = model.event(step)

            def on_step(row, dt, result, k=k):
                row["step"] = k + 1
                row["dt_s"] = dt
                row["newton_iterations"] = result.newton_iterations
                model.observer.accept(row)
                recorder.rows.append(row)
                progress.update(row["time_s"], row)

            stop = stepper.advance(end, _output_times(problem.time, end, s.study.output_interval), output,
                                   on_step, event, last=recorder.rows[-1])
            if stop.reason == "sand" and s.study.stop_at_sand:
                status, sand_time, sand_step = "sand", stop.sand_time, k + 1
                log(f"{label}Sand's time: the electrode surface is depleted at t = {sand_time:.6g} s "
                    f"(protocol step {k + 1}); the run stops here (study.stop_at_sand)")
                if position.get("last_output") != problem.time:
                    output(problem.time)
                break
            if stop.reason == "end" and not step.duration:
                raise SolverError(f"protocol step {k + 1} ('{step.text}') ran {MAX_UNTIL:.0e} s without "
                                  "reaching its voltage limit")
            if stop.reason not in ("end", "sand"):
                log(f"{label}step {k + 1} ('{step.text}') ended: {stop.reason} at t = {problem.time:.6g} s")
            position["step"] = k + 1
            position["step_start"] = problem.time
            if position.get("last_output") != problem.time:
                output(problem.time)  # every step's end (with the next step's position in a checkpoint)
    except SolverError as err:
        status, error = "failed", str(err)
        log(f"{label}FAILED at t = {problem.time:.6g} s: {err}")
    progress.close()
    t_solve = time.perf_counter() - t_solve
    recorder.write_history()
    try:
        recorder.write_series()
    except Exception as err:  # noqa: BLE001 - the history and frames stay valid without the series file
        log(f"{label}could not assemble fields.vtkhdf: {err}")
    rows = recorder.rows
    metrics.update({
        "status": status,
        "time_s": problem.time,
        "steps": stepper.steps,
        "rejected_steps": stepper.rejected,
        "sand_time_s": sand_time,
        "sand_protocol_step": sand_step,
        "final": {k: v for k, v in rows[-1].items() if k != "surface_concentration_min"},
        **model.summary(rows, steps),
        "cells": domain.num_cells_global(),
        "timings_s": {"mesh": t_mesh, "solve": t_solve},
    })
    if error is not None:
        metrics["error"] = f"at t = {problem.time:.6g} s: {error}"
    if comm.rank == 0:
        write_json(folder / "metrics.json", metrics)
    return metrics


def _event(step, case: Case, problem: Tertiary) -> Event | None:
    """The step's stop condition: its voltage limit and, in a half cell, the Li left on Cu."""
    tol_v = case.scenario.study.time_stepping.voltage_tolerance
    parts = []
    if step.until is not None:
        sign = -1.0 if step.current_density > 0 else 1.0  # plating: V falls to the limit
        parts.append(lambda row, u=step.until: (row["cell_voltage_V"] - u) * (-sign) / tol_v)
    if case.scenario.physics.cell.type == "half" and step.current_density < 0:
        scale = max(abs(step.current_density) * 1e-3, 1e-12)  # C/m^2: a millisecond of current
        parts.append(lambda row: row["lithium_on_working_C_m2"] / scale)
    if not parts:
        return None
    name = "voltage limit" if step.until is not None else "Li on the working electrode used up"
    return Event(lambda row: min(f(row) for f in parts), 1.0, name)


def _sand_estimate(case: Case, problem: Tertiary, steps) -> float | None:
    """Sand's time of the first plating step on a flat electrode, for comparison."""
    first = next((st for st in steps if st.control == "galvanostatic" and st.current_density), None)
    if first is None or first.current_density <= 0:
        return None
    e = problem.electrolyte
    c = problem.c_bulk
    D = float(e.diffusivity(np.float64(c), np))
    tp = e.transference_number
    return math.pi * D * (c * FARADAY) ** 2 / (4 * ((1 - tp) * first.current_density) ** 2)


# ---------------------------------------------------------------------- folders (variants)
def run_plan(plan, comm, final: Path, log, quiet: bool, pictures: bool, restart: bool) -> dict:
    """Every case of a transient scenario into ``final`` (in place); the index files; pictures."""
    from solver.output import provenance
    from solver.study import _write_index

    cases = plan.cases
    multi = len(cases) > 1
    t_start = time.perf_counter()
    if comm.rank == 0:
        if final.exists() and not restart:
            shutil.rmtree(final)
        final.mkdir(parents=True, exist_ok=True)
        if not restart:
            import yaml

            (final / "scenario.input.yaml").write_text(
                f"# {plan.source} as run (with --set overrides); 'run.py run --restart {final}' reads it\n"
                + yaml.safe_dump(plan.raw, sort_keys=False))
    comm.barrier()
    results = {}
    try:
        for case in cases:
            folder = final / case.name if multi else final
            results[case.label] = run_case(case, folder, comm, log, restart=restart, quiet=quiet)
    except UserError:
        # bad input found while setting a case up (e.g. an initial condition that does not fit the
        # geometry): leave nothing half-written behind, as the up-front validation does
        if comm.rank == 0 and not restart:
            shutil.rmtree(final, ignore_errors=True)
        raise
    if comm.rank == 0:
        if multi:
            _write_index(final, plan.source, cases, results)
        else:
            import yaml

            (final / "scenario.resolved.yaml").write_text(
                f"# {plan.source} with every default filled in; quantities in SI units\n"
                + yaml.safe_dump(cases[0].resolved(), sort_keys=False))
        write_json(final / "provenance.json", provenance(comm, time.perf_counter() - t_start))
        if pictures:
            from solver import render_transient

            for case in cases:
                folder = final / case.name if multi else final
                try:
                    for path in render_transient.render(folder):
                        log(f"[{case.label}] picture: {path.name}")
                except Exception as err:  # noqa: BLE001 - pictures are a convenience; results are in place
                    log(f"[{case.label}] pictures failed: {type(err).__name__}: {err}")
            if multi:
                try:
                    path = render_transient.compare({c.name: final / c.name for c in cases}, final / "pictures")
                    if path is not None:
                        log(f"picture: {path.relative_to(final)}")
                except Exception as err:  # noqa: BLE001
                    log(f"comparison picture failed: {type(err).__name__}: {err}")
    return results
