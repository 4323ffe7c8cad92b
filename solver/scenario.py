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
import dataclasses
import difflib
import typing
from pathlib import Path
from typing import Annotated, Any, Literal, Union

import yaml
from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, ValidationError, model_validator

import meshes
from meshes.base import MeshOptions
from solver import materials as matlib
from solver.errors import UserError
from solver.units import (
    Area, AreaResistance, ChargeDensity, Concentration, Conductivity, CurrentDensity, Diffusivity, Dimensionless,
    Length, MolarVolume, Potential, Pressure, Rate, SpecificArea, Temperature, Time,
)


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


# ----------------------------------------------------------------------------- materials
class ElectrolyteMaterial(Strict):
    """A liquid binary electrolyte filling a region.

    Each property defaults to the preset (``solver/materials.py``: values and, for LiPF6 in
    EC:EMC, Nyman 2008's concentration-dependent laws, each with its source); a value given
    here overrides the preset's for that property only, as a constant. The primary and
    secondary models use the conductivity at ``concentration``; the tertiary model uses all.
    """

    type: Literal["electrolyte"] = "electrolyte"
    preset: Literal[tuple(matlib.ELECTROLYTES)] | None = Field(  # type: ignore[valid-type]
        "litfsi_dol_dme", description="parameter set the values default to (see solver/materials.py)"
    )
    conductivity: Conductivity | None = Field(
        None, gt=0, description="ionic conductivity (constant); default: the preset's kappa(c)"
    )
    diffusivity: Diffusivity | None = Field(
        None, gt=0, description="salt diffusivity (constant); default: the preset's D(c)"
    )
    transference_number: float | None = Field(
        None, ge=0, lt=1, description="cation transference number t+; default: the preset's"
    )
    thermodynamic_factor: float | None = Field(
        None, gt=0, description="1 + dln f/dln c (constant); default: the preset's"
    )
    concentration: Concentration | None = Field(
        None, gt=0, description="initial and bulk salt concentration; default: the preset's nominal one"
    )
    regions: list[str] = Field(..., min_length=1, description="geometry regions made of this material")

    @model_validator(mode="after")
    def _fill(self):
        if self.preset is None:
            missing = [k for k in ("conductivity",) if getattr(self, k) is None]
            if missing:
                raise ValueError("give either 'preset' or 'conductivity'")
        return self

    def value(self, key: str):
        """A property: the value given here, else the preset's value (None if neither)."""
        given = getattr(self, key)
        if given is not None or self.preset is None:
            return given
        return matlib.preset_values(matlib.ELECTROLYTES, self.preset).get(key)

    def law(self, key: str):
        """``law(c, m)`` of a property: the constant given here, else the preset's law, else
        the preset's constant value."""
        given = getattr(self, key)
        if given is None and self.preset is not None:
            law = matlib.ELECTROLYTE_LAWS.get(self.preset, {}).get(key)
            if law is not None:
                return law[0]
        value = self.value(key)
        if value is None:
            return None
        return lambda c, m, v=float(value): v + 0.0 * c

    def nominal_conductivity(self) -> float:
        """kappa at the nominal concentration (primary and secondary models)."""
        if self.conductivity is not None:
            return self.conductivity
        import numpy as np

        return float(self.law("conductivity")(np.float64(self.value("concentration") or 1000.0), np))


class PorousLayerMaterial(Strict):
    """A porous, electrolyte-filled layer (e.g. BTO/PVDF): kappa_eff = kappa * porosity**bruggeman."""

    type: Literal["porous_layer"]
    electrolyte: str = Field(..., description="name of the electrolyte material that fills the pores")
    porosity: Dimensionless = Field(0.4, gt=0, le=1, description="pore volume fraction")
    bruggeman: float = Field(1.5, ge=1, le=5, description="Bruggeman exponent b in kappa*eps^b")
    conductivity: Conductivity | None = Field(
        None, gt=0, description="effective conductivity; overrides the Bruggeman estimate"
    )
    kinetic_factor: float = Field(
        1.0, ge=0,
        description="phase field: deposition-rate multiplier (L_eta) inside the layer; > 1 for a lithiophilic "
        "host, e.g. 9 for Li3Mg7 vs bare Li (apparent i0 3.71 vs 0.41 mA/cm^2, Zhang et al. 2021 [paper]), "
        "0 for a layer Li cannot grow into",
    )
    regions: list[str] = Field(..., min_length=1, description="geometry regions made of this material")


class SolidElectrolyteMaterial(Strict):
    """A single-ion conducting solid (t+ = 1, e.g. Li6PS5Cl): Ohm's law, no salt transport.

    In the tertiary model the liquid's anions stop at its surface (salt flux (1 - t+) i.n / F
    there, as at an electrode) and Li under it sees a constant Li+ activity.
    """

    type: Literal["solid_electrolyte"]
    preset: Literal[tuple(matlib.SOLID_ELECTROLYTES)] | None = Field(  # type: ignore[valid-type]
        "li6ps5cl", description="parameter set (see solver/materials.py)"
    )
    conductivity: Conductivity | None = Field(None, gt=0, description="ionic conductivity; default: the preset's")
    electronic_conductivity: Conductivity | None = Field(
        None, ge=0, description="electronic conductivity, used by physics.model: mixed_conduction only (the other "
        "models ignore it); default: the preset's, else 0 (an electronic insulator)",
    )
    specific_interface_area: SpecificArea | None = Field(
        None, ge=0, description="mixed_conduction: a_v, the Li-deposition interface per volume inside this material "
        "(where it conducts electrons); default: physics.mixed_conduction.specific_interface_area",
    )
    regions: list[str] = Field(..., min_length=1, description="geometry regions made of this material")

    @model_validator(mode="after")
    def _fill(self):
        if self.conductivity is None:
            if self.preset is None:
                raise ValueError("give either 'preset' or 'conductivity'")
            self.conductivity = matlib.preset_values(matlib.SOLID_ELECTROLYTES, self.preset)["conductivity"]
        if self.electronic_conductivity is None:
            preset = matlib.preset_values(matlib.SOLID_ELECTROLYTES, self.preset) if self.preset else {}
            self.electronic_conductivity = preset.get("electronic_conductivity", 0.0)
        return self


class LithiumMaterial(Strict):
    """Li metal as a region (phase-field model: where xi = 1 at the start)."""

    type: Literal["lithium"]
    molar_volume: MolarVolume = Field(
        1.3e-5, gt=0, description="V_m of Li metal, 1.3e-5 m^3/mol (M = 6.94 g/mol, rho = 0.534 g/cm^3) [lit]"
    )
    regions: list[str] = Field(..., min_length=1, description="geometry regions made of Li metal")


Material = Annotated[Union[ElectrolyteMaterial, PorousLayerMaterial, SolidElectrolyteMaterial, LithiumMaterial],
                     Field(discriminator="type")]


# ----------------------------------------------------------------------------- physics
class Kinetics(Strict):
    """Butler-Volmer kinetics: i = i0 [exp(alpha_a F eta/RT) - exp(-alpha_c F eta/RT)] (anodic +),
    optionally in series with a surface film (``film_resistance``), or switched off
    (``deposition: false``)."""

    exchange_current_density: CurrentDensity = Field(10.0, gt=0, description="i0")
    alpha_a: float = Field(0.5, gt=0, le=1, description="anodic transfer coefficient")
    alpha_c: float = Field(0.5, gt=0, le=1, description="cathodic transfer coefficient")
    equilibrium_potential: Potential = Field(0.0, description="E_eq vs Li/Li+")
    film_resistance: AreaResistance = Field(
        0.0, ge=0,
        description="area-specific resistance R_f of a surface film (e.g. a LiH / Li-polymer coating, an SEI) in "
        "series with Butler-Volmer: V - phi - E_eq = eta_ct + R_f i_a, i_a = BV(eta_ct), solved exactly (not "
        "linearised); e.g. '49 Ohm cm^2'. 0: no film. Secondary model only",
    )
    deposition: bool = Field(
        True,
        description="false: this surface takes no Li at all (no Faradaic current; an insulating, blocked surface, "
        "e.g. a coating Li cannot plate on or pass through); the ions still flow around it. At least one electrode "
        "boundary must keep deposition on",
    )


class KineticsOverride(Strict):
    """Per-boundary changes to ``kinetics`` (keys not given keep the shared value)."""

    exchange_current_density: CurrentDensity | None = Field(None, gt=0)
    alpha_a: float | None = Field(None, gt=0, le=1)
    alpha_c: float | None = Field(None, gt=0, le=1)
    equilibrium_potential: Potential | None = None
    film_resistance: AreaResistance | None = Field(
        None, ge=0, description="film resistance R_f on this boundary (see Kinetics.film_resistance)"
    )
    deposition: bool | None = Field(
        None, description="false: this boundary takes no Li (blocked, insulating; see Kinetics.deposition)"
    )


class Electrode(Strict):
    """The working electrode (Li): boundaries, kinetics (secondary), per-boundary overrides."""

    boundaries: list[str] = Field(["bud", "flat"], min_length=1)
    kinetics: Kinetics = Kinetics()
    per_boundary: dict[str, KineticsOverride] = Field(
        {}, description="kinetics overrides for some of the boundaries (e.g. a different i0 on the bud, a film, "
        "deposition: false)"
    )

    def kinetics_on(self, boundary: str) -> Kinetics:
        override = self.per_boundary.get(boundary)
        if override is None:
            return self.kinetics
        return self.kinetics.model_copy(update=override.model_dump(exclude_none=True))

    def faradaic(self) -> list[str]:
        """The boundaries that take Li (deposition on), in order."""
        return [b for b in self.boundaries if self.kinetics_on(b).deposition]

    def has_film(self) -> bool:
        return any(self.kinetics_on(b).film_resistance > 0 for b in self.faradaic())


class Floating(Strict):
    """An electronically isolated conductor (a bipolar electrode): boundaries that share one potential,
    a global unknown fixed by zero net current (e.g. HoMS shells not in contact with the Cu).

    Butler-Volmer on every surface, with the working electrode's ``kinetics`` unless overridden here;
    Li plates on one side of it while it strips on the other. Secondary model only.
    """

    name: str | None = Field(None, pattern=r"^[A-Za-z0-9_.-]+$", description="label in metrics.json "
                             "(default: floating_<k>)")
    boundaries: list[str] = Field(..., min_length=1, description="boundaries forming the conductor")
    kinetics: KineticsOverride = Field(
        KineticsOverride(), description="changes to the working electrode's kinetics on this conductor"
    )
    per_boundary: dict[str, KineticsOverride] = Field({}, description="per-boundary changes on this conductor")

    def kinetics_on(self, electrode: Electrode, boundary: str) -> Kinetics:
        k = electrode.kinetics.model_copy(update=self.kinetics.model_dump(exclude_none=True))
        override = self.per_boundary.get(boundary)
        return k if override is None else k.model_copy(update=override.model_dump(exclude_none=True))


def _floating_list(value):
    """``physics.floating``: one group (a mapping) or a list of groups; null: none."""
    if value is None:
        return []
    if isinstance(value, dict):
        return [value]
    return value


class Counter(Strict):
    """Where the current leaves the electrolyte.

    ``reference``: the electrolyte potential is 0 there (bulk electrolyte at the reference
    potential; an ideally non-polarisable counter electrode); in the tertiary model the salt
    concentration is also held at the bulk value there (a reservoir).
    ``electrode`` (tertiary model): a Li counter electrode at 0 V with Butler-Volmer kinetics
    and the salt flux (1 - t+) i / F: a closed cell (Li|Li or Li|Cu) that conserves salt.
    """

    boundaries: list[str] = Field(["counter"], min_length=1)
    type: Literal["reference", "electrode"] = "reference"
    kinetics: Kinetics | None = Field(None, description="counter electrode kinetics; default: the working electrode's")


class Cell(Strict):
    """Cell set-up of a transient study: Li|Li (symmetric) or Li|Cu (half cell).

    In a half cell the working electrode is Cu carrying ``initial_lithium`` of Li; the Li
    plated on it is counted, and a stripping step ends when it is used up (the voltage would
    then rise to the Cu dissolution potential). The inventory is tracked as one number for the
    whole electrode (not locally): an approximation stated in the results.
    """

    type: Literal["symmetric", "half"] = "symmetric"
    initial_lithium: ChargeDensity = Field(
        0.0, ge=0, description="half cell: Li on the Cu working electrode at the start (e.g. '1 mAh/cm^2')"
    )


class Composite(Strict):
    """0-3 composite of piezoelectric particles in a polymer (see solver.physics.piezo.composite)."""

    active: Literal[tuple(matlib.PIEZO)] = "batio3"  # type: ignore[valid-type]
    matrix: Literal[tuple(matlib.PIEZO)] = "pvdf"  # type: ignore[valid-type]
    fraction: Dimensionless = Field(0.3, ge=0, le=1, description="volume fraction of the active phase in the solid")
    poling_efficiency: Dimensionless = Field(1.0, ge=0, le=1, description="scales the active phase's e")


class PiezoLayer(Strict):
    """Piezoelectric response of a layer to the bud beneath it, and its effect on the ions.

    The layer was cast on flat Li; the bud grew beneath it and presses on it (``loading``), the
    layer resting on the flat Li (``bottom``); linear theory about the present geometry. The piezo potential psi (0 on the Li) then acts on the ions in the
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
    bottom: Literal["bonded", "sliding", "li_substrate"] = Field(
        "bonded",
        description="layer on the flat Li: bonded to rigid Li (u = 0), sliding on rigid Li (u_n = 0), or "
        "bonded to an elastic Li foil of thickness li_thickness on a rigid current collector, as a thin-layer "
        "(Winkler) foundation: traction -K u with K_n = M/H (M the oedometric modulus) and K_t = G/H",
    )
    li_thickness: Length = Field(
        20e-6, gt=0,
        description="bottom: li_substrate. Li foil thickness H (default 20 um: a thin anode foil, an "
        "assumption, not from the BTO study); Li E = 4.91 GPa, nu = 0.36 [lit] (solver/materials.py)",
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
    update_interval: int = Field(
        10, ge=1, description="phase field only: psi is recomputed from the present Li before every N-th time step"
    )


class Anisotropy(Strict):
    """2D: kappa(theta) = kappa0 [1 + strength cos(mode (theta - angle))], theta the angle of grad xi;
    3D: the cubic form kappa0 [1 + strength (4 sum n_i^4 - 3)] (mode 4 and angle 0 only)."""

    strength: float = Field(0.0, ge=0, lt=1, description="delta (0: isotropic)")
    mode: int = Field(4, ge=1, le=12, description="omega: 4 = four-fold")
    angle: Dimensionless = Field(0.0, description="theta0, e.g. '0 deg' (preferred directions along x and y)")


class Noise(Strict):
    """Langevin noise on the interface: amplitude * U(-1, 1) * h'(xi), new numbers every step."""

    amplitude: Rate = Field(0.0, ge=0, description="in 1/s (0.04 1/s in the MOOSE benchmark input)")
    seed: int = Field(0, ge=0, description="same seed, same numbers, whatever the number of ranks")


PF_MIN_SOLID_RATIO = 1e-5  # phase field: inert solids conduct at least this fraction of the liquid (tested: 1e-5 runs, 2.5e-6 does not)


class Roughness(Strict):
    """Random initial roughness of the Li surface: the flat surface (y = 0; z = 0 in 3D) is moved to
    ``s(x) = sum_k a_k cos(k pi (x - x0) / W + ...)``, cosine modes that keep zero slope on the side
    walls (symmetry planes), wavelengths 2 W / k from ``2 W`` down to ``min_wavelength``, random
    amplitudes and phases from ``seed`` (numpy default_rng; the same numbers on every rank), the
    sum scaled to the root-mean-square height ``amplitude``. Nodes of the Li and electrolyte regions
    below ``s`` start as Li (xi = 1), those above as electrolyte; then the profile relaxes as usual."""

    amplitude: Length = Field(..., gt=0, description="root-mean-square height of the initial surface")
    min_wavelength: Length = Field(4e-6, gt=0, description="shortest wavelength (resolve it: >= ~4 interface widths)")
    spectral_exponent: float = Field(
        1.0, ge=0, le=4, description="mode k's expected amplitude ~ k^-exponent (0: white, 1: 1/f-like)")
    seed: int = Field(0, ge=0, description="same seed, same surface, whatever the number of ranks")


class PhaseFieldSettings(Strict):
    """Phase-field electrodeposition (Chen et al., J. Power Sources 2015); defaults: the normalised
    constants of Hong & Viswanathan's MOOSE input (ACS Energy Lett. 2018) in SI. D, sigma and c0
    come from the electrolyte material, V_m from the lithium material. See docs/phase_field.md."""

    interface_mobility: Rate = Field(6.25, gt=0, description="L_sigma (1/s)")
    barrier: float = Field(2.4, gt=0, description="W of g = W xi^2 (1 - xi)^2")
    gradient_coefficient: Area = Field(0.3e-12, gt=0, description="kappa0; width sqrt(2 kappa0 / W)")
    kinetic_coefficient: Rate = Field(1e-3, gt=0, description="L_eta (1/s)")
    alpha: float = Field(0.5, gt=0, lt=1, description="charge-transfer coefficient")
    anisotropy: Anisotropy = Anisotropy()
    noise: Noise = Noise()
    initial_roughness: Roughness | None = Field(
        None, description="random initial roughness of the flat Li surface (off when absent)")
    ramp_time: Time = Field(0.2, ge=0, description="a potentiostatic start reaches its potential over this time")
    potential_form: Literal["conserving", "single"] = Field(
        "conserving",
        description="conserving: electrolyte potential, metal at V, deposited Li = charge passed; single: Chen's "
        "and the MOOSE inputs' one potential in metal and electrolyte (sigma_s h + sigma (1 - h), phi = V on the "
        "collector, eta = local phi), potentiostatic only, Faraday balance not closed (docs/phase_field.md)",
    )
    metal_conductivity: Conductivity = Field(1e6, gt=0, description="single form: sigma_s of the metal")
    metal_conductivity_fraction: float = Field(
        1e-2, gt=0, le=1, description="numerical: conductivity of phi's equation inside the metal / sigma")
    regularisation: float = Field(1e-4, gt=0, le=0.1, description="numerical: u's capacity and mobility in the metal")


class MixedConductionSettings(Strict):
    """Mixed ionic-electronic conduction between two Li electrodes (solver/physics/mixed_conduction.py,
    docs/film.md): ionic and electronic potentials, Li deposition inside electron-conducting solids at the
    rate a_v i_a(eta), eta = phi_e - phi_i - E_eq. The Li surfaces use physics.electrode.kinetics (the
    bottom, plated Li: physics.electrode.boundaries) and physics.counter.kinetics (the top Li)."""

    specific_interface_area: SpecificArea = Field(
        1e5, ge=0,
        description="a_v (1/m) of electron-conducting materials that do not give their own: reaction interface per "
        "volume. Default 1e5 1/m (0.1 um^2 per um^3) [assumed: no measurement; the results hold while the reaction "
        "length stays below the layer thickness, docs/film.md]",
    )
    exchange_current_density: CurrentDensity | None = Field(
        None, gt=0, description="i0 of the volumetric reaction, per interface area; default: the electrode's"
    )
    alpha_a: float | None = Field(None, gt=0, le=1, description="default: the electrode's")
    alpha_c: float | None = Field(None, gt=0, le=1, description="default: the electrode's")
    kinetics: Literal["butler_volmer", "linear"] = Field(
        "butler_volmer",
        description="Butler-Volmer, or its linearisation i0 (alpha_a + alpha_c) F eta / RT (an ohmic contact of "
        "resistance R_ct) at the Li surfaces and in the volume",
    )
    electronic_floor: float = Field(
        1e-10, gt=0, le=1e-3,
        description="numerical: electronic conductivity of electron-insulating regions, relative to the largest "
        "(they get no reaction and no electronic boundary condition, so carry no electronic current)",
    )
    nitsche_penalty: float = Field(20.0, ge=2, description="numerical: Nitsche penalty of the electronic contacts")


class Physics(Strict):
    model: Literal["primary", "secondary", "tertiary", "phase_field", "mixed_conduction"] = Field(
        "secondary",
        description="primary: eta = 0 on the electrode (ohmic limit); secondary: Butler-Volmer; tertiary: "
        "Butler-Volmer with transient salt transport; phase_field: moving Li surface (the last two need "
        "study.type: transient); mixed_conduction: ionic + electronic conduction in solids between two Li "
        "electrodes with internal Li deposition (stationary)",
    )
    phase_field: PhaseFieldSettings = PhaseFieldSettings()
    mixed_conduction: MixedConductionSettings = MixedConductionSettings()
    temperature: Temperature = Field(298.15, gt=0)
    electrode: Electrode = Electrode()
    counter: Counter = Counter()
    piezo: PiezoLayer | None = Field(None, description="piezoelectric layer coupling (off when absent)")
    cell: Cell = Cell()
    floating: Annotated[list[Floating] | Floating, BeforeValidator(_floating_list)] = Field(
        [], description="floating (bipolar) conductors: one group {boundaries: [...]} or a list of them; each is "
        "electronically isolated, at its own potential (zero net current), Butler-Volmer on its surfaces "
        "(secondary model)",
    )

    @model_validator(mode="after")
    def _floating_as_list(self):
        if isinstance(self.floating, Floating):  # one group given as a mapping
            self.floating = [self.floating]
        return self

    def floating_names(self) -> list[str]:
        return [g.name or f"floating_{k}" for k, g in enumerate(self.floating)]


# ----------------------------------------------------------------------------- study
class Growth(Strict):
    """Quasi-static, two-way growth of the bud (``study.growth``).

    Each step solves the stationary problem on the present geometry (piezo layer included),
    then advances the bud's height relative to the flat electrode by Faraday's law,
    dh/dt = (i_apex - i_far) V_m / F, with explicit Euler steps; the flat electrode's own rise
    (i_far V_m / F) moves everything together and is not followed. The new height updates the
    geometry, the layer's loading, the piezo field and the current. The bud's other dimensions
    stay as given. Growth stops early when the bud flattens (height <= ``min_height``) or the
    geometry can no longer be built (e.g. the bud reaches the layer top).
    """

    advance: str = Field(
        "geometry.bud.height", description="dotted key of the geometry parameter that Faraday's law advances"
    )
    duration: Time = Field(..., gt=0, description="plating time")
    steps: int = Field(10, ge=1, le=10000, description="number of equal time steps")
    molar_volume: MolarVolume = Field(
        1.3e-5, gt=0, description="molar volume of the deposit; Li metal 1.3e-5 m^3/mol "
        "(M = 6.94 g/mol, rho = 0.534 g/cm^3) [lit]"
    )
    min_height: Length = Field(0.1e-6, gt=0, description="below this the bud counts as flattened")


class TimeStepping(Strict):
    """Adaptive implicit (backward Euler) time steps of a transient study."""

    initial_step: Time = Field(1e-3, gt=0, description="first step")
    min_step: Time = Field(1e-9, gt=0, description="smallest step before giving up")
    max_step: Time | None = Field(None, gt=0, description="largest step (default: unlimited)")
    target_change: Dimensionless = Field(
        0.02, gt=0, le=0.5, description="aimed largest change of c per step, relative to the bulk concentration"
    )
    growth: float = Field(1.5, gt=1, le=10, description="largest ratio between consecutive steps")
    voltage_tolerance: Potential = Field(1e-4, gt=0, description="how closely an 'until' voltage limit is hit")


class Study(Strict):
    """Stationary or transient study. Sign convention: positive current density = plating (Li+ -> Li)."""

    type: Literal["stationary", "transient"] = Field(
        "stationary", description="stationary (primary/secondary) or transient (tertiary, follows the protocol)"
    )
    protocol: list[str | dict] | None = Field(
        None, description="transient: steps such as 'Plate at 1 mA/cm^2 for 1 hour', 'Rest for 10 minutes', "
        "'Strip at 2 mA/cm^2 until 50 mV', or {repeat: N, steps: [...]} (see solver/protocol.py)",
    )
    cycles: int = Field(1, ge=1, le=100000, description="transient: the protocol is run this many times")
    output_interval: Time | None = Field(
        None, gt=0, description="transient: fields are written every this much time (and at the end of each step)"
    )
    time_stepping: TimeStepping = TimeStepping()
    stop_at_sand: bool = Field(
        True, description="transient: stop when the electrode surface concentration reaches zero (Sand's time)"
    )
    sand_threshold: Dimensionless = Field(
        1e-3, gt=0, lt=1, description="the surface concentration counts as zero below this fraction of the bulk"
    )
    checkpoint_every: int = Field(
        1, ge=0, description="transient: write a checkpoint at every n-th field output (0: never)"
    )
    checkpoint_keep: int = Field(3, ge=0, description="transient: keep the newest n checkpoints (0: all)")

    control: Literal["galvanostatic", "potentiostatic"] = "galvanostatic"
    current_density: CurrentDensity = Field(
        10.0, description="mean plating current density over the projected electrode area"
    )
    electrode_potential: Potential = Field(
        -0.05,
        description="potentiostatic: electrode potential vs the electrolyte at the counter "
        "(negative = plating)",
    )

    growth: Growth | None = Field(
        None, description="quasi-static growth: Faraday's law advances the bud over time steps (off when absent)"
    )

    @model_validator(mode="after")
    def _nonzero(self):
        if self.type == "stationary" and self.control == "galvanostatic" and self.current_density == 0:
            raise ValueError("current_density must be non-zero for galvanostatic control")
        if self.type == "transient":
            if not self.protocol:
                raise ValueError("a transient study needs a protocol (e.g. ['Plate at 1 mA/cm^2 for 1 hour'])")
            from solver import protocol as protocol_lib

            try:
                protocol_lib.expand(self.protocol, 1)
            except UserError as err:
                raise ValueError(f"protocol: {err}") from None
            if self.growth is not None:
                raise ValueError("growth is a stationary-study option")
        return self


class Solver(Strict):
    degree: Literal[1, 2] = Field(2, description="Lagrange degree of the potential")
    linear_solver: Literal["auto", "direct", "iterative"] = Field(
        "auto", description="auto: direct (MUMPS) below 100k DOFs, else iterative: CG/GMRES + GAMG "
        "(potential), GMRES + Schur complement on V and a field split (phase field), FGMRES + Schur "
        "field split with GAMG and the rigid-body near-nullspace on the displacement (piezo layer)"
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


# ----------------------------------------------------------------------------- sweep
class Range(Strict):
    """Evenly spaced values from start to stop (both ends included), in start's unit."""

    start: float | str
    stop: float | str
    num: int = Field(..., ge=2, le=1000)
    spacing: Literal["linear", "log"] = "linear"

    def values(self) -> list:
        import numpy as np

        from solver import units

        unit = (units.split(self.start) or (None, None))[1]
        try:
            a = units.magnitude(self.start, unit) if unit else float(self.start)
            b = units.magnitude(self.stop, unit) if unit else float(self.stop)
        except ValueError as err:
            raise UserError(f"{err} (start and stop must be numbers or quantities of one kind)") from None
        if self.spacing == "log":
            if a <= 0 or b <= 0:
                raise UserError("spacing: log needs positive start and stop")
            grid = np.geomspace(a, b, self.num)
        else:
            grid = np.linspace(a, b, self.num)
        return [f"{v:.12g} {unit}" if unit else float(f"{v:.12g}") for v in grid]


class Sweep(Strict):
    """A parameter sweep: every point runs every variant, each into ``<output>/<point>/<variant>``.

    Values are written as in the rest of the file ("8 um", 0.5, up). The summary
    (``summary.csv``, ``summary.json``, plots of ``metrics`` against each parameter) is written
    to the output folder. Cases that fail are listed there and do not stop the others.
    """

    parameters: dict[str, list[Any] | Range] = Field(
        ..., min_length=1,
        description="dotted key -> list of values, or {start, stop, num, spacing}",
    )
    mode: Literal["grid", "zip", "each"] = Field(
        "grid",
        description="grid: every combination; zip: the i-th values of every list together (equal "
        "lengths); each: one parameter at a time, the others at the scenario's values",
    )
    metrics: list[str] = Field(
        ["tip_over_far"], min_length=1,
        description="metrics (dotted paths into a case's metrics.json) tabulated and plotted",
    )

    @model_validator(mode="after")
    def _lists(self):
        for key, values in self.parameters.items():
            if isinstance(values, list) and not values:
                raise ValueError(f"parameters.{key}: give at least one value")
        return self

    def points(self) -> list[dict[str, Any]]:
        """The sweep's points: dicts of dotted key -> value, in run order."""
        lists = {}
        for key, values in self.parameters.items():
            try:
                lists[key] = values.values() if isinstance(values, Range) else list(values)
            except UserError as err:
                raise UserError(f"sweep.parameters.{key}: {err}") from None
        if self.mode == "each":
            return [{key: v} for key, values in lists.items() for v in values]
        if self.mode == "zip":
            lengths = {len(v) for v in lists.values()}
            if len(lengths) > 1:
                raise UserError(
                    "sweep: mode zip needs lists of equal length; got "
                    + ", ".join(f"{k}: {len(v)}" for k, v in lists.items())
                )
            return [dict(zip(lists, combo)) for combo in zip(*lists.values())]
        import itertools

        return [dict(zip(lists, combo)) for combo in itertools.product(*lists.values())]


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
    sweep: Sweep | None = Field(None, description="parameter sweep over dotted keys (see Sweep)")


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


_TAGS = {"electrolyte", "porous_layer", "solid_electrolyte", "lithium"}  # discriminator values of Material


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

    def __init__(self, name: str, scenario: Scenario, geometry_params: BaseModel, point: str = ""):
        self.name = name  # the variant's name (the scenario's name when it has no variants)
        self.scenario = scenario
        self.geometry = geometry_params
        self.point = point  # the sweep point's label ("" outside sweeps)
        self.same_as: Case | None = None  # an identical case earlier in the sweep (run once)

    @property
    def label(self) -> str:
        """``point/variant`` in a sweep, the variant's name otherwise."""
        return f"{self.point}/{self.name}" if self.point else self.name

    def key(self) -> str:
        """Identity of the computation: two cases with equal keys give equal results."""
        data = self.resolved()
        data.pop("variant")
        data.pop("name", None)
        data.pop("description", None)
        data.pop("outputs", None)
        return yaml.safe_dump(data, sort_keys=True)

    def with_values(self, changes: dict[str, Any]) -> Case:
        """A copy with some dotted keys set (SI values), validated again."""
        data = self.resolved()
        data.pop("variant")
        for key, value in changes.items():
            set_dotted(data, key, value)
        cases, problems = _validate(data, "", self.point)
        if problems:
            raise UserError("; ".join(problems))
        new = cases[0]
        new.name = self.name
        return new

    def value(self, dotted: str):
        """The resolved (SI) value at a dotted key; None where the key is absent."""
        node: Any = self.resolved()
        for k in dotted.split("."):
            if not isinstance(node, dict) or k not in node:
                return None
            node = node[k]
        return node

    def resolved(self) -> dict:
        """All defaults filled in, quantities in SI: what is saved with the results."""
        data = self.scenario.model_dump(mode="json", exclude={"variants", "geometry", "sweep"})
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
    el = s.physics.electrode
    model = s.physics.model
    if not el.faradaic():
        problems.append(f"{where}physics.electrode: every boundary has deposition: false; at least one must take Li")
    film_keys = [f"physics.electrode.kinetics.film_resistance"] if el.kinetics.film_resistance > 0 else []
    film_keys += [f"physics.electrode.per_boundary.{b}.film_resistance" for b, o in el.per_boundary.items()
                  if o.film_resistance]
    blocked_keys = (["physics.electrode.kinetics.deposition"] if not el.kinetics.deposition else []) + [
        f"physics.electrode.per_boundary.{b}.deposition" for b, o in el.per_boundary.items() if o.deposition is False]
    for g, group in enumerate(s.physics.floating):
        key = f"physics.floating.{g}"
        need(group.boundaries, boundaries, f"{key}.boundaries", "boundary")
        for b in group.per_boundary:
            if b not in group.boundaries:
                problems.append(f"{where}{key}.per_boundary.{b}: not one of this conductor's boundaries")
        for b in group.boundaries:
            if b in el.boundaries or b in s.physics.counter.boundaries:
                problems.append(f"{where}{key}.boundaries: '{b}' is also an electrode or counter boundary; a floating "
                                "conductor is isolated from both")
            if not group.kinetics_on(el, b).deposition:
                problems.append(f"{where}{key}: deposition: false on '{b}'; a floating conductor reacts on its "
                                "surfaces by definition (leave an inert surface out of it)")
            if group.kinetics_on(el, b).film_resistance > 0:
                film_keys.append(f"{key}.film_resistance")
        for other in s.physics.floating[:g]:
            shared = set(group.boundaries) & set(other.boundaries)
            if shared:
                problems.append(f"{where}{key}.boundaries: {sorted(shared)} belong to two floating conductors")
    names_f = s.physics.floating_names()
    if len(set(names_f)) != len(names_f):
        problems.append(f"{where}physics.floating: two conductors have the same name")
    if model != "secondary":
        for k in film_keys[:1]:
            problems.append(f"{where}{k}: a film resistance needs the secondary model (physics.model is '{model}'; "
                            "in the primary limit a film would make the electrode a linear Robin boundary, not "
                            "supported: use secondary kinetics with a large i0)")
        if s.physics.floating:
            problems.append(f"{where}physics.floating: floating conductors need the secondary model "
                            f"(physics.model is '{model}')")
        if model in ("tertiary", "phase_field"):
            for k in blocked_keys[:1]:
                problems.append(f"{where}{k}: deposition: false is a stationary-model option (physics.model is "
                                f"'{model}'; leave the boundary out of the electrode instead)")
    if (film_keys or s.physics.floating) and s.solver.linear_solver == "iterative":
        problems.append(f"{where}solver.linear_solver: 'iterative' does not handle film resistances or floating "
                        "conductors yet; use 'auto' or 'direct' (MUMPS)")
    if s.physics.piezo is not None:
        pz = s.physics.piezo
        need([pz.region], regions, "physics.piezo.region", "region")
        owner = next((m for m in s.materials.values() if pz.region in m.regions), None)
        if owner is not None and not isinstance(owner, PorousLayerMaterial):
            problems.append(f"{where}physics.piezo.region: '{pz.region}' must be a porous_layer material")
    transient = s.study.type == "transient"
    time_dependent = s.physics.model in ("tertiary", "phase_field")
    if transient != time_dependent:
        problems.append(f"{where}physics.model: '{s.physics.model}' goes with a "
                        f"{'transient' if time_dependent else 'stationary'} study "
                        f"(study.type is '{s.study.type}')")
    has_li = any(isinstance(m, LithiumMaterial) for m in s.materials.values())
    if s.physics.model == "phase_field" and not has_li:
        problems.append(f"{where}materials: the phase field needs a region of type 'lithium' (e.g. the "
                        "deposition_cell geometry's 'lithium')")
    if s.physics.model == "phase_field":
        liquid = next((m for m in s.materials.values() if isinstance(m, ElectrolyteMaterial)), None)
        for mname, mat in s.materials.items():
            if (liquid is not None and isinstance(mat, SolidElectrolyteMaterial) and mat.conductivity is not None
                    and mat.conductivity < PF_MIN_SOLID_RATIO * liquid.nominal_conductivity()):
                problems.append(
                    f"{where}materials.{mname}.conductivity: below {PF_MIN_SOLID_RATIO:g} of the electrolyte's, the "
                    "phase-field system is too ill-conditioned to converge; for an ion-blocking solid cut the "
                    "region out of the mesh instead (e.g. alloy_skeleton's mesh_skeleton: false): its surface is "
                    "then a wall without flux")
    aniso = s.physics.phase_field.anisotropy
    if (s.physics.model == "phase_field" and getattr(params, "dimension", None) == "3d" and aniso.strength > 0
            and (aniso.mode != 4 or aniso.angle != 0)):
        problems.append(f"{where}physics.phase_field.anisotropy: in 3D only the cubic (mode 4, angle 0) form exists")
    if has_li and s.physics.model != "phase_field":
        problems.append(f"{where}materials: Li metal regions ('lithium') are meshed for the phase field only")
    if s.physics.counter.type == "electrode" and s.physics.model not in ("tertiary", "mixed_conduction"):
        problems.append(f"{where}physics.counter.type: 'electrode' needs the tertiary or mixed_conduction model")
    if s.physics.model == "mixed_conduction":
        problems += _check_mixed(s, where)
    if s.physics.model == "tertiary" and s.physics.piezo is not None:
        problems.append(f"{where}physics.piezo: not yet coupled to the tertiary model")
    if s.physics.model == "phase_field" and s.physics.piezo is not None:
        if s.physics.piezo.loading != "pressure":
            problems.append(f"{where}physics.piezo.loading: the phase field loads the layer by the Li's contact "
                            "pressure only ('pressure')")
        if "coating_bottom" not in boundaries:
            problems.append(f"{where}physics.piezo: the phase-field coupling needs the layer's interface with the "
                            "flat Li named 'coating_bottom' (deposition_cell with a coating)")
    if transient and len({id(m) for m in s.materials.values() if isinstance(m, ElectrolyteMaterial)}) > 1:
        problems.append(f"{where}materials: the tertiary model takes one electrolyte (porous layers share it)")
    both = set(s.physics.electrode.boundaries) & set(s.physics.counter.boundaries)
    if both:
        problems.append(f"{where}physics: boundaries {sorted(both)} are both electrode and counter")
    return problems


def _check_mixed(s: Scenario, where: str) -> list[str]:
    """What the mixed_conduction model needs (besides the names checked above)."""
    problems = []
    for mname, mat in s.materials.items():
        if not isinstance(mat, SolidElectrolyteMaterial):
            problems.append(f"{where}materials.{mname}: the mixed_conduction model takes solid_electrolyte "
                            f"materials only (with an optional electronic_conductivity), not '{mat.type}'")
    if s.physics.counter.type != "electrode":
        problems.append(f"{where}physics.counter.type: the mixed_conduction model's counter is a Li electrode "
                        "with kinetics: set it to 'electrode'")
    if s.physics.electrode.per_boundary:
        problems.append(f"{where}physics.electrode.per_boundary: not supported by the mixed_conduction model "
                        "(one kinetics for the plated Li)")
    if s.physics.piezo is not None:
        problems.append(f"{where}physics.piezo: not coupled to the mixed_conduction model")
    if s.study.growth is not None:
        problems.append(f"{where}study.growth: not available with the mixed_conduction model")
    if s.solver.linear_solver == "iterative":
        problems.append(f"{where}solver.linear_solver: the mixed_conduction model solves with MUMPS (direct) only")
    return problems


def load(path: str | Path, overrides: list[str] | None = None) -> list[Case]:
    """Read, override and validate a scenario file; return one Case per variant (and sweep point).

    Raises ``UserError`` listing every problem found (file, dotted key, message).
    """
    return load_plan(path, overrides).cases


def cases_from_dict(raw: dict, source: str = "<scenario>", overrides: list[str] | None = None) -> list[Case]:
    """Validate a scenario given as a (YAML-like) dict; see ``load``."""
    return plan_from_dict(raw, source, overrides).cases


@dataclasses.dataclass
class Point:
    """One point of a sweep (the only point, labelled "", without a sweep)."""

    label: str
    values: dict[str, Any]  # dotted key -> value as written in the scenario
    cases: list[Case]


@dataclasses.dataclass
class Plan:
    """Everything a scenario file asks to run, validated."""

    source: str
    sweep: Sweep | None
    points: list[Point]
    raw: dict | None = None  # the scenario as read, with the --set overrides applied

    @property
    def cases(self) -> list[Case]:
        return [c for p in self.points for c in p.cases]


def load_plan(path: str | Path, overrides: list[str] | None = None) -> Plan:
    path = Path(path)
    return plan_from_dict(_read_yaml(path), str(path), overrides)


def plan_from_dict(raw: dict, source: str = "<scenario>", overrides: list[str] | None = None) -> Plan:
    """Validate a scenario dict with its variants, sweep and ``--set`` overrides."""
    raw = copy.deepcopy(raw)
    for option in overrides or []:
        key, value = parse_set(option)
        try:
            set_dotted(raw, key, value)
        except UserError as err:
            raise UserError(f"{source}: --set {option}: {err}") from None
    given = copy.deepcopy(raw)
    sweep = None
    if raw.get("sweep") is not None:
        try:
            sweep = Sweep.model_validate(raw["sweep"])
        except ValidationError as err:
            lines = _format_errors(err, Sweep, "sweep.")
            raise UserError(f"{source}: invalid scenario\n  " + "\n  ".join(lines)) from None
        try:
            values = sweep.points()
        except UserError as err:
            raise UserError(f"{source}: {err}") from None
    else:
        values = [{}]
    raw.pop("sweep", None)
    points, problems = [], []
    width = max(3, len(str(len(values) - 1)))
    for n, point_values in enumerate(values):
        label = f"p{n:0{width}d}" if sweep else ""
        data = copy.deepcopy(raw)
        for key, value in point_values.items():
            try:
                set_dotted(data, key, value)
            except UserError as err:
                problems.append(f"sweep.parameters.{key}: {err}")
        where = f"sweep point {label} ({', '.join(f'{k}={v}' for k, v in point_values.items())}): " if sweep else ""
        cases, found = _validate(data, where, label)
        problems += found
        points.append(Point(label, point_values, cases))
        if problems and n == 0:
            break  # the first point's problems are (nearly always) every point's
    if problems:
        unique = list(dict.fromkeys(problems))
        raise UserError(f"{source}: invalid scenario\n  " + "\n  ".join(unique))
    plan = Plan(source, sweep, points, given)
    seen: dict[str, Case] = {}
    for case in plan.cases:
        case.same_as = seen.setdefault(case.key(), case) if sweep else None
        if case.same_as is case:
            case.same_as = None
    return plan


def _validate(raw: dict, prefix: str, point: str) -> tuple[list[Case], list[str]]:
    """One Case per variant of a scenario dict (sweep already applied), and the problems found."""
    problems: list[str] = []
    variants = raw.get("variants") or {}
    if not isinstance(variants, dict) or not all(isinstance(v, dict) or v is None for v in variants.values()):
        return [], [f"{prefix}variants: expected a mapping of name -> {{dotted.key: value}}"]
    cases: list[Case] = []
    for vname, changes in (variants or {"": {}}).items():
        data = copy.deepcopy(raw)
        data.pop("variants", None)
        where = prefix + (f"variants.{vname}: " if vname else "")
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
        case = Case(vname or scenario.name, scenario, params, point)
        growth = scenario.study.growth
        if growth is not None and not isinstance(case.value(growth.advance), (int, float)):
            problems.append(f"{where}study.growth.advance: '{growth.advance}' is not a number in this scenario")
        cases.append(case)
    return cases, problems
