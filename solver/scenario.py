"""Scenario files: schema, loading, overrides and validation.

A scenario mirrors a COMSOL model tree::

    name:        run name (output folder name by default)
    geometry:    which ``meshes`` builder and its parameters
    mesh:        element sizes (``meshes.base.MeshOptions``)
    materials:   named materials, each assigned to geometry regions
    physics:     current-distribution model, electrodes and kinetics
    study:       control mode (galvanostatic / potentiostatic) and the applied value
    solver:      element degree, nonlinear and linear solver settings (PETSc options)
    outputs:     what to write and where
    variants:    named sets of overrides (e.g. bare vs coated) run side by side

Every quantity accepts a number (SI) or a string with units. The whole file, all
variants and all ``--set`` overrides are validated before any mesh is built;
every problem is reported with the file, the dotted key and what is wrong.
"""

from __future__ import annotations

import copy
import difflib
import typing
from pathlib import Path
from typing import Annotated, Any, Literal, Union

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

import meshes
from meshes.base import MeshOptions
from solver import materials as matlib
from solver.errors import UserError
from solver.units import Conductivity, CurrentDensity, Dimensionless, Potential, Pressure, Temperature


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


# ----------------------------------------------------------------------------- materials
class ElectrolyteMaterial(Strict):
    """A liquid electrolyte filling a region (its ionic conductivity drives the potential)."""

    type: Literal["electrolyte"] = "electrolyte"
    preset: Literal[tuple(matlib.ELECTROLYTES)] | None = Field(  # type: ignore[valid-type]
        "litfsi_dol_dme", description="parameter set the values default to (see solver/materials.py)"
    )
    conductivity: Conductivity | None = Field(
        None, gt=0, description="ionic conductivity; default: the preset's value"
    )
    regions: list[str] = Field(..., min_length=1, description="geometry regions made of this material")

    @model_validator(mode="after")
    def _fill(self):
        if self.conductivity is None:
            if self.preset is None:
                raise ValueError("give either 'preset' or 'conductivity'")
            self.conductivity = matlib.preset_values(matlib.ELECTROLYTES, self.preset)["conductivity"]
        return self


class PorousLayerMaterial(Strict):
    """A porous, electrolyte-filled layer (e.g. BTO/PVDF): kappa_eff = kappa * porosity**bruggeman."""

    type: Literal["porous_layer"]
    electrolyte: str = Field(..., description="name of the electrolyte material that fills the pores")
    porosity: Dimensionless = Field(0.4, gt=0, le=1, description="pore volume fraction")
    bruggeman: float = Field(1.5, ge=1, le=5, description="Bruggeman exponent b in kappa*eps^b")
    conductivity: Conductivity | None = Field(
        None, gt=0, description="effective conductivity; overrides the Bruggeman estimate"
    )
    regions: list[str] = Field(..., min_length=1, description="geometry regions made of this material")


Material = Annotated[Union[ElectrolyteMaterial, PorousLayerMaterial], Field(discriminator="type")]


# ----------------------------------------------------------------------------- physics
class Kinetics(Strict):
    """Butler-Volmer kinetics: i = i0 [exp(alpha_a F eta/RT) - exp(-alpha_c F eta/RT)] (anodic +)."""

    exchange_current_density: CurrentDensity = Field(10.0, gt=0, description="i0")
    alpha_a: float = Field(0.5, gt=0, le=1, description="anodic transfer coefficient")
    alpha_c: float = Field(0.5, gt=0, le=1, description="cathodic transfer coefficient")
    equilibrium_potential: Potential = Field(0.0, description="E_eq vs Li/Li+")


class KineticsOverride(Strict):
    exchange_current_density: CurrentDensity | None = Field(None, gt=0)
    alpha_a: float | None = Field(None, gt=0, le=1)
    alpha_c: float | None = Field(None, gt=0, le=1)
    equilibrium_potential: Potential | None = None


class Electrode(Strict):
    """The working electrode (Li): boundaries, kinetics (secondary), per-boundary overrides."""

    boundaries: list[str] = Field(["bud", "flat"], min_length=1)
    kinetics: Kinetics = Kinetics()
    per_boundary: dict[str, KineticsOverride] = Field(
        {}, description="kinetics overrides for some of the boundaries (e.g. a different i0 on the bud)"
    )

    def kinetics_on(self, boundary: str) -> Kinetics:
        override = self.per_boundary.get(boundary)
        if override is None:
            return self.kinetics
        return self.kinetics.model_copy(update=override.model_dump(exclude_none=True))


class Counter(Strict):
    """Where the current leaves the electrolyte.

    ``reference``: the electrolyte potential is 0 there (bulk electrolyte at the reference
    potential; an ideally non-polarisable counter electrode).
    """

    boundaries: list[str] = Field(["counter"], min_length=1)
    type: Literal["reference"] = "reference"


class Composite(Strict):
    """0-3 composite of piezoelectric particles in a polymer (see solver.physics.piezo.composite)."""

    active: Literal[tuple(matlib.PIEZO)] = "batio3"  # type: ignore[valid-type]
    matrix: Literal[tuple(matlib.PIEZO)] = "pvdf"  # type: ignore[valid-type]
    fraction: Dimensionless = Field(0.3, ge=0, le=1, description="volume fraction of the active phase in the solid")
    poling_efficiency: Dimensionless = Field(1.0, ge=0, le=1, description="scales the active phase's e")


class PiezoLayer(Strict):
    """Piezoelectric response of a layer to the bud beneath it, and its effect on the ions.

    The layer was cast on flat Li; the bud grew beneath it and presses on it (``loading``), the
    layer being held on the flat Li; linear theory about the present geometry. The piezo potential psi (0 on the Li) then acts on the ions in the
    layer's pores as an extra field: i = -kappa_eff grad(phi + screening_factor * psi).
    """

    region: str = Field("coating", description="the layer region (a porous_layer material)")
    material: Literal[tuple(matlib.PIEZO) + ("composite",)] = "composite"  # type: ignore[valid-type]
    composite: Composite = Composite()
    piezo_scale: float = Field(1.0, ge=0, description="multiplies the piezoelectric constants e")
    poling: Literal["up", "down"] = Field(
        "up", description="poling along the layer normal pointing into the electrolyte (up) or toward the Li"
    )
    loading: Literal["pressure", "displacement"] = Field(
        "pressure",
        description="how the bud loads the layer: a contact pressure (Li creeps, so a growing bud cannot "
        "push harder than about its flow stress) or a displacement equal to the bud height (linear "
        "elasticity: only meaningful for buds much thinner than the layer)",
    )
    contact_pressure: Pressure = Field(
        1e6, ge=0, description="loading: pressure. Li flow stress ~0.4-1 MPa [lit]"
    )
    bottom: Literal["bonded", "sliding"] = Field(
        "bonded", description="layer on the flat Li: no displacement, or free to slide tangentially"
    )
    top: Literal["free", "clamped", "pressure"] = Field(
        "free", description="layer top: traction-free, held by a separator, or under a stack pressure"
    )
    pressure: Pressure = Field(0.0, ge=0, description="stack pressure on the top (top: pressure)")
    electrical_top: Literal["open", "screened"] = Field(
        "open", description="electrolyte side: charge-free (open circuit) or held at the Li potential"
    )
    screening_factor: float = Field(
        1.0, ge=0, le=1, description="fraction of the piezo potential felt by the ions (0 = fully screened)"
    )
    degree: Literal[1, 2] = 2


class Physics(Strict):
    model: Literal["primary", "secondary"] = Field(
        "secondary",
        description="primary: eta = 0 on the electrode (ohmic limit); secondary: Butler-Volmer",
    )
    temperature: Temperature = Field(298.15, gt=0)
    electrode: Electrode = Electrode()
    counter: Counter = Counter()
    piezo: PiezoLayer | None = Field(None, description="piezoelectric layer coupling (off when absent)")


# ----------------------------------------------------------------------------- study
class Study(Strict):
    """Stationary study. Sign convention: positive current density = plating (Li+ -> Li)."""

    control: Literal["galvanostatic", "potentiostatic"] = "galvanostatic"
    current_density: CurrentDensity = Field(
        10.0, description="mean plating current density over the projected electrode area"
    )
    electrode_potential: Potential = Field(
        -0.05,
        description="potentiostatic: electrode potential vs the electrolyte at the counter "
        "(negative = plating)",
    )

    @model_validator(mode="after")
    def _nonzero(self):
        if self.control == "galvanostatic" and self.current_density == 0:
            raise ValueError("current_density must be non-zero for galvanostatic control")
        return self


class Solver(Strict):
    degree: Literal[1, 2] = Field(2, description="Lagrange degree of the potential")
    linear_solver: Literal["auto", "direct", "iterative"] = Field(
        "auto", description="auto: direct (MUMPS) below 100k DOFs, else CG/GMRES + GAMG"
    )
    rtol: float = Field(1e-10, gt=0, lt=1, description="SNES relative tolerance")
    atol: float = Field(
        1e-12, gt=0, description="SNES absolute tolerance, relative to the electrode current scale "
        "max(|i_app|, i0) * electrode area"
    )
    max_iterations: int = Field(50, ge=1)
    petsc_options: dict[str, str | int | float | bool | None] = Field(
        {}, description="PETSc options merged over the defaults (keys without prefix)"
    )


class Outputs(Strict):
    directory: str | None = Field(None, description="default: results/<name>")
    fields: bool = Field(True, description="write VTKHDF fields (ParaView >= 5.12, pyvista.read)")
    pictures: bool = Field(True, description="render PNG pictures with PyVista")
    overwrite: bool = Field(True, description="replace an existing output folder")


class Geometry(Strict):
    builder: Literal[tuple(meshes.BUILDERS)] = "li_bud"  # type: ignore[valid-type]
    model_config = ConfigDict(extra="allow")  # the builder's own model checks the rest

    def params(self):
        builder = meshes.BUILDERS[self.builder]
        return builder.params.model_validate(self.model_extra or {})


class Scenario(Strict):
    name: str = Field("scenario", pattern=r"^[A-Za-z0-9_.-]+$")
    description: str = ""
    geometry: Geometry = Geometry()
    mesh: MeshOptions = MeshOptions()
    materials: dict[str, Material] = Field(
        default_factory=lambda: {"electrolyte": ElectrolyteMaterial(regions=["electrolyte"])}
    )
    physics: Physics = Physics()
    study: Study = Study()
    solver: Solver = Solver()
    outputs: Outputs = Outputs()
    variants: dict[str, dict[str, Any]] = Field(
        {}, description="name -> {dotted.key: value} overrides; null removes a key (its default applies)"
    )


# ----------------------------------------------------------------------------- schema
def json_schema() -> dict:
    """JSON schema of scenario files (geometry: all builders' parameters)."""
    schema = Scenario.model_json_schema()
    builders = []
    for name, builder in meshes.BUILDERS.items():
        sub = builder.params.model_json_schema()
        sub.setdefault("properties", {})["builder"] = {"const": name}
        for key, value in sub.pop("$defs", {}).items():
            schema.setdefault("$defs", {})[key] = value
        builders.append(sub)
    schema["$defs"]["Geometry"] = {"anyOf": builders, "description": "geometry builder parameters"}
    schema["title"] = "lianode scenario"
    return schema


# ----------------------------------------------------------------------------- loading
def set_dotted(tree: dict, dotted: str, value: Any) -> None:
    """Set ``tree[a][b][c] = value`` for ``dotted = 'a.b.c'``; ``None`` deletes the key."""
    keys = dotted.split(".")
    node = tree
    for key in keys[:-1]:
        child = node.get(key)
        if child is None:
            child = node[key] = {}
        if not isinstance(child, dict):
            raise UserError(f"cannot set '{dotted}': '{key}' is not a section")
        node = child
    if value is None:
        node.pop(keys[-1], None)
    else:
        node[keys[-1]] = value


def parse_set(option: str) -> tuple[str, Any]:
    """``'geometry.bud.height=3 um'`` -> ``('geometry.bud.height', '3 um')`` (YAML scalars)."""
    if "=" not in option:
        raise UserError(f"--set {option!r}: expected KEY=VALUE, e.g. geometry.bud.height='3 um'")
    key, raw = option.split("=", 1)
    try:
        value = yaml.safe_load(raw) if raw.strip() else None
    except yaml.YAMLError:
        value = raw
    return key.strip(), value


_TAGS = {"electrolyte", "porous_layer"}  # discriminator values of Material


def _unwrap(annotation):
    """Strip Annotated/Optional wrappers."""
    while typing.get_origin(annotation) is Annotated:
        annotation = typing.get_args(annotation)[0]
    return annotation


def _model_at(model: type[BaseModel], loc: tuple) -> type[BaseModel] | None:
    """The pydantic model class that owns the key at ``loc`` (best effort, for hints)."""
    node: Any = model
    for key in loc[:-1]:
        node = _unwrap(node)
        if isinstance(node, type) and issubclass(node, BaseModel):
            if node is Geometry or str(key) not in node.model_fields:
                return None
            node = node.model_fields[str(key)].annotation
        elif typing.get_origin(node) is dict:
            node = typing.get_args(node)[1]
        elif typing.get_args(node):  # a union: pick the member named by a tag, or the model
            members = [_unwrap(a) for a in typing.get_args(node)]
            models = [m for m in members if isinstance(m, type) and issubclass(m, BaseModel)]
            tagged = [m for m in models if m.model_fields.get("type") and key in typing.get_args(m.model_fields["type"].annotation)]
            if tagged:
                node = tagged[0]
                continue
            if len(models) != 1:
                return None
            node = models[0]
            if str(key) not in node.model_fields:
                return None
            node = node.model_fields[str(key)].annotation
        else:
            return None
    node = _unwrap(node)
    if typing.get_origin(node) is not None or not isinstance(node, type):
        models = [m for m in map(_unwrap, typing.get_args(node)) if isinstance(m, type) and issubclass(m, BaseModel)]
        node = models[0] if len(models) == 1 else None
    return node if isinstance(node, type) and issubclass(node, BaseModel) else None


def _format_errors(err: ValidationError, root: type[BaseModel], prefix: str = "") -> list[str]:
    lines = []
    for e in err.errors():
        loc = tuple(e["loc"])
        shown = tuple(x for i, x in enumerate(loc) if not (i == 2 and loc[0] == "materials" and x in _TAGS))
        dotted = ".".join(str(x) for x in shown)
        where = f"{prefix}{dotted}" if dotted else prefix.rstrip(".") or "(top level)"
        if e["type"] == "extra_forbidden":
            owner = _model_at(root, loc)
            hint = ""
            if owner is not None:
                close = difflib.get_close_matches(str(loc[-1]), list(owner.model_fields), n=1)
                hint = f" (did you mean '{close[0]}'?)" if close else f" (allowed: {', '.join(owner.model_fields)})"
            lines.append(f"{where}: unknown key{hint}")
        else:
            msg = e["msg"]
            if msg.startswith("Value error, "):
                msg = msg[len("Value error, "):]
            lines.append(f"{where}: {msg}")
    return lines


def _read_yaml(path: Path) -> dict:
    try:
        text = path.read_text()
    except OSError as err:
        raise UserError(f"{path}: cannot read ({err.strerror})") from None
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as err:
        mark = getattr(err, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        problem = getattr(err, "problem", None) or str(err).splitlines()[0]
        raise UserError(f"{path}: malformed YAML{where}: {problem}") from None
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise UserError(f"{path}: a scenario must be a mapping of sections (geometry, physics, ...)")
    return data


class Case:
    """One validated variant of a scenario, ready to run."""

    def __init__(self, name: str, scenario: Scenario, geometry_params: BaseModel):
        self.name = name
        self.scenario = scenario
        self.geometry = geometry_params

    def resolved(self) -> dict:
        """All defaults filled in, quantities in SI: what is saved with the results."""
        data = self.scenario.model_dump(mode="json", exclude={"variants", "geometry"})
        data["geometry"] = {"builder": self.scenario.geometry.builder, **self.geometry.model_dump(mode="json")}
        data["variant"] = self.name
        return data


def _check_names(s: Scenario, params: BaseModel, where: str) -> list[str]:
    regions, boundaries = meshes.BUILDERS[s.geometry.builder].names(params)
    problems = []

    def need(names, available, key, kind):
        for n in names:
            if n not in available:
                close = difflib.get_close_matches(n, sorted(available), n=1)
                hint = f" (did you mean '{close[0]}'?)" if close else ""
                problems.append(
                    f"{where}{key}: no {kind} named '{n}' in this geometry{hint}; "
                    f"available: {', '.join(sorted(available))}"
                )

    assigned: dict[str, str] = {}
    for mname, mat in s.materials.items():
        need(mat.regions, regions, f"materials.{mname}.regions", "region")
        for r in mat.regions:
            if r in assigned:
                problems.append(f"{where}materials.{mname}.regions: region '{r}' already has material '{assigned[r]}'")
            assigned[r] = mname
        if isinstance(mat, PorousLayerMaterial):
            host = s.materials.get(mat.electrolyte)
            if not isinstance(host, ElectrolyteMaterial):
                problems.append(
                    f"{where}materials.{mname}.electrolyte: '{mat.electrolyte}' is not an electrolyte material"
                )
    for r in sorted(regions - set(assigned)):
        problems.append(f"{where}materials: region '{r}' has no material (add it to some material's regions)")
    need(s.physics.electrode.boundaries, boundaries, "physics.electrode.boundaries", "boundary")
    need(s.physics.counter.boundaries, boundaries, "physics.counter.boundaries", "boundary")
    for b in s.physics.electrode.per_boundary:
        if b not in s.physics.electrode.boundaries:
            problems.append(f"{where}physics.electrode.per_boundary.{b}: not one of the electrode's boundaries")
    if s.physics.piezo is not None:
        pz = s.physics.piezo
        need([pz.region], regions, "physics.piezo.region", "region")
        owner = next((m for m in s.materials.values() if pz.region in m.regions), None)
        if owner is not None and not isinstance(owner, PorousLayerMaterial):
            problems.append(f"{where}physics.piezo.region: '{pz.region}' must be a porous_layer material")
    both = set(s.physics.electrode.boundaries) & set(s.physics.counter.boundaries)
    if both:
        problems.append(f"{where}physics: boundaries {sorted(both)} are both electrode and counter")
    return problems


def load(path: str | Path, overrides: list[str] | None = None) -> list[Case]:
    """Read, override and validate a scenario file; return one Case per variant.

    Raises ``UserError`` listing every problem found (file, dotted key, message).
    """
    path = Path(path)
    return cases_from_dict(_read_yaml(path), str(path), overrides)


def cases_from_dict(raw: dict, source: str = "<scenario>", overrides: list[str] | None = None) -> list[Case]:
    """Validate a scenario given as a (YAML-like) dict; see ``load``."""
    raw = copy.deepcopy(raw)
    path = source
    for option in overrides or []:
        key, value = parse_set(option)
        set_dotted(raw, key, value)

    problems: list[str] = []
    variants = raw.get("variants") or {}
    if not isinstance(variants, dict) or not all(isinstance(v, dict) or v is None for v in variants.values()):
        raise UserError(f"{path}: variants: expected a mapping of name -> {{dotted.key: value}}")
    cases: list[Case] = []
    for vname, changes in (variants or {"": {}}).items():
        data = copy.deepcopy(raw)
        data.pop("variants", None)
        where = f"variants.{vname}: " if vname else ""
        for key, value in (changes or {}).items():
            try:
                set_dotted(data, str(key), value)
            except UserError as err:
                problems.append(f"{where}{err}")
        try:
            scenario = Scenario.model_validate(data)
        except ValidationError as err:
            problems += [where + line for line in _format_errors(err, Scenario)]
            # still check the geometry block for its own errors
            geo = data.get("geometry") or {}
            if isinstance(geo, dict) and geo.get("builder", "li_bud") in meshes.BUILDERS:
                params_model = meshes.BUILDERS[geo.get("builder", "li_bud")].params
                try:
                    params_model.model_validate({k: v for k, v in geo.items() if k != "builder"})
                except ValidationError as gerr:
                    problems += [where + line for line in _format_errors(gerr, params_model, "geometry.")]
            continue
        try:
            params = scenario.geometry.params()
        except ValidationError as err:
            builder_model = meshes.BUILDERS[scenario.geometry.builder].params
            problems += [where + line for line in _format_errors(err, builder_model, "geometry.")]
            continue
        problems += _check_names(scenario, params, where)
        cases.append(Case(vname or scenario.name, scenario, params))
    if problems:
        unique = list(dict.fromkeys(problems))
        raise UserError(f"{path}: invalid scenario\n  " + "\n  ".join(unique))
    return cases
