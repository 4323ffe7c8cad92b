"""Command line: ``python run.py {run,check,render,info,schema} ...`` (also under mpirun)."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

DESCRIPTION = """\
Finite-element studies of lithium-metal anodes, driven by YAML scenario files.

A scenario file describes the model like COMSOL's model tree (geometry, mesh, materials,
physics, study, solver, outputs); see scenarios/*.yaml and README.md. Quantities take
units: "1 mA/cm^2", "8 um", "25 degC".

examples:
  python run.py run scenarios/default.yaml
  mpirun -n 4 python run.py run scenarios/bud_3d_cone.yaml --set mesh.size_feature="0.1 um"
  python run.py check scenarios/default.yaml
  python run.py render results/default
  python run.py schema > scenario.schema.json
"""


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="run.py", description=DESCRIPTION, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    sub = p.add_subparsers(dest="command", metavar="COMMAND", required=True)

    def scenario_args(sp, optional=False):
        sp.add_argument("scenario", nargs="?" if optional else None, help="scenario YAML file")
        sp.add_argument(
            "--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
            help="override any key by its dotted path, e.g. --set geometry.bud.height='3 um' "
            "(repeatable; VALUE is read as YAML; 'null' removes the key)",
        )

    r = sub.add_parser("run", help="validate, mesh, solve and write results",
                       description="Validate the scenario, build the mesh(es), solve every variant, "
                       "write fields, metrics and pictures into the output folder.")
    scenario_args(r, optional=True)
    r.add_argument("-o", "--output", help="output folder (default: outputs.directory or results/<name>)")
    r.add_argument(
        "--restart", metavar="DIR",
        help="continue a transient run from the newest checkpoint in its output folder DIR (any number of "
        "ranks); the scenario defaults to DIR/scenario.input.yaml",
    )
    r.add_argument("--no-pictures", action="store_true", help="skip PNG rendering")
    r.add_argument("-q", "--quiet", action="store_true", help="no progress lines")
    r.add_argument(
        "--group-size", type=int, metavar="K",
        help="run the cases (variants, sweep points) K ranks at a time: mpirun -n N splits into N/K "
        "groups that take cases in turn (default: all ranks solve each case together)",
    )

    c = sub.add_parser("check", help="validate a scenario without solving",
                       description="Validate a scenario (and all its variants and --set overrides) "
                       "without building a mesh; print the resolved scenario with --print.")
    scenario_args(c)
    c.add_argument("--print", action="store_true", help="print the resolved scenario (SI units)")

    rd = sub.add_parser("render", help="(re)draw the pictures of an existing output folder")
    rd.add_argument("folder", help="output folder written by 'run'")

    sub.add_parser("info", help="print versions of this package, DOLFINx, PETSc, Gmsh, MPI")

    sc = sub.add_parser("schema", help="print the JSON schema of scenario files (for editors)")
    sc.add_argument("-o", "--output", help="write to this file instead of stdout")
    return p


def main(argv: list[str] | None = None) -> int:
    from solver.errors import SolverError, UserError

    args = _parser().parse_args(argv)
    try:
        return _dispatch(args)
    except UserError as err:
        _error(str(err))
        return 2
    except SolverError as err:
        _error(f"solver: {err}")
        return 3
    except BrokenPipeError:  # output piped into e.g. `head`, which stopped reading
        sys.stderr.close()
        return 0


def _rank() -> int:
    if "mpi4py" in sys.modules:
        from mpi4py import MPI

        return MPI.COMM_WORLD.rank
    return 0


def _error(message: str) -> None:
    if _rank() == 0:
        print(f"error: {message}", file=sys.stderr, flush=True)


def _dispatch(args) -> int:
    if args.command == "schema":
        from solver.scenario import json_schema

        text = json.dumps(json_schema(), indent=2) + "\n"
        if args.output:
            Path(args.output).write_text(text)
        else:
            sys.stdout.write(text)
        return 0
    if args.command == "check":
        import yaml

        from solver.scenario import load_plan

        plan = load_plan(args.scenario, args.overrides)
        cases = plan.cases
        if args.print:
            resolved = {c.label: c.resolved() for c in cases}
            print(yaml.safe_dump(resolved, sort_keys=False))
        if plan.sweep is None:
            names = ", ".join(c.name for c in cases)
            print(f"{args.scenario}: OK ({len(cases)} case{'s' if len(cases) > 1 else ''}: {names})")
        else:
            unique = sum(c.same_as is None for c in cases)
            print(f"{args.scenario}: OK ({plan.sweep.mode} sweep: {len(plan.points)} points x "
                  f"{len(plan.points[0].cases)} variant(s) = {len(cases)} cases, {unique} to solve)")
            for point in plan.points:
                print(f"  {point.label}: " + ", ".join(f"{k}={v}" for k, v in point.values.items()))
        return 0
    if args.command == "render":
        from solver import render

        folder = Path(args.folder)
        if not (folder / "metrics.json").exists():
            from solver.errors import UserError

            raise UserError(f"{folder}: not an output folder of 'run' (no metrics.json)")
        for path in render.render_folder(folder):
            print(path)
        return 0
    if args.command == "info":
        from solver._dolfinx import MPI
        from solver.output import provenance

        info = provenance(MPI.COMM_WORLD)
        for key in ("package_version", "git_commit", "dolfinx", "petsc", "basix", "ufl", "gmsh",
                    "mpi_library", "mpi_ranks", "python", "platform"):
            if MPI.COMM_WORLD.rank == 0:
                print(f"{key:16s} {info[key]}")
        return 0
    if args.command == "run":
        from solver.scenario import load_plan

        scenario = args.scenario
        if scenario is None:
            if not args.restart:
                from solver.errors import UserError

                raise UserError("run: give a scenario file (or --restart DIR)")
            scenario = str(Path(args.restart) / "scenario.input.yaml")
        plan = load_plan(scenario, args.overrides)  # validate everything before importing DOLFINx
        if args.group_size is not None and args.group_size < 1:
            from solver.errors import UserError

            raise UserError(f"--group-size {args.group_size}: must be a positive number of ranks")
        from solver import study
        from solver._dolfinx import MPI

        study.run(plan, comm=MPI.COMM_WORLD, outdir=args.output, quiet=args.quiet,
                  pictures=False if args.no_pictures else None, group_size=args.group_size,
                  restart=args.restart)
        return 0
    raise AssertionError(args.command)
