"""Material parameter sets, each value with its source.

Values are SI. A preset is selected by name in a scenario (``preset: ...``)
and any of its values may be overridden key by key there.
"""

from __future__ import annotations

# Each preset: parameter -> (value in SI, source). Sources tagged [lit] are literature values
# that were not re-checked against the original paper; [unconfirmed] marks ranges, not data.
ELECTROLYTES: dict[str, dict[str, tuple[float, str]]] = {
    "lipf6_ec_emc": {
        # 1 M LiPF6 in EC:EMC 3:7 (w/w) at 25 degC.
        "conductivity": (
            0.949,
            "Nyman et al., Electrochim. Acta 53 (2008) 6356, kappa(c) at 1 M [lit, as in PyBaMM]",
        ),
        "diffusivity": (1.77e-10, "Nyman et al. 2008, D(c) at 1 M [lit, as in PyBaMM]"),
        "transference_number": (0.2594, "Nyman et al. 2008, t+ = 0.2594 (PyBaMM Chen2020) [lit]"),
        "thermodynamic_factor": (1.0, "ideal solution, as in PyBaMM Chen2020 [assumed]"),
        "concentration": (1000.0, "1 M nominal"),
    },
    "litfsi_dol_dme": {
        # 1 M LiTFSI in DOL/DME (1:1 v/v), the BTO study's electrolyte (+1% LiNO3).
        "conductivity": (1.1, "typical 1.0-1.2 S/m [lit, unconfirmed: range, not a measurement]"),
        "diffusivity": (3.0e-10, "typical 2-4e-10 m^2/s [lit, unconfirmed: range midpoint]"),
        "transference_number": (0.45, "typical 0.4-0.5 [lit, unconfirmed: range midpoint]"),
        "thermodynamic_factor": (1.0, "ideal solution [assumed; unconfirmed]"),
        "concentration": (1000.0, "1 M nominal (Li et al., Batteries & Supercaps 2022)"),
    },
}

# Concentration-dependent transport laws of the presets (tertiary model), each written once for
# UFL and numpy: law(c, m) with c in mol/m^3 and m the module (``ufl`` or ``numpy``). A preset
# without a law for a property uses its constant value above. Ranges of validity are noted.
def _nyman_conductivity(c, m):
    x = c / 1000.0  # mol/L
    return 0.1297 * x**3 - 2.51 * x**1.5 + 3.329 * x


def _nyman_diffusivity(c, m):
    x = c / 1000.0
    return 8.794e-11 * x**2 - 3.972e-10 * x + 4.862e-10


ELECTROLYTE_LAWS: dict[str, dict[str, tuple[object, str]]] = {
    "lipf6_ec_emc": {
        "conductivity": (
            _nyman_conductivity,
            "Nyman, Behm, Lindbergh, Electrochim. Acta 53 (2008) 6356: kappa = 0.1297 c^3 - 2.51 c^1.5 "
            "+ 3.329 c (S/m, c in mol/L), fitted over 0.2-2 M at 25 degC [lit, as in PyBaMM Chen2020]",
        ),
        "diffusivity": (
            _nyman_diffusivity,
            "Nyman et al. 2008: D = 8.794e-11 c^2 - 3.972e-10 c + 4.862e-10 (m^2/s, c in mol/L), "
            "0.2-2 M [lit, as in PyBaMM Chen2020]",
        ),
    },
}

# Single-ion conducting solid electrolytes (t+ = 1): ionic conductivity in S/m at room temperature.
# ``electronic_conductivity`` (S/m) is used by the mixed-conduction model only (absent = 0).
SOLID_ELECTROLYTES: dict[str, dict[str, tuple[float, str]]] = {
    "li6ps5cl": {
        "conductivity": (0.48, "Li6PS5Cl cold-pressed powder, 4.8 mS/cm, Li et al., Adv. Funct. Mater. 2024 "
                               "(film study) [paper]"),
        "electronic_conductivity": (1.6e-6, "LPSCl electronic 1.6e-8 S/cm, Li et al., Adv. Funct. Mater. 2024 [paper]"),
    },
    "e_lpscl_film": {
        "conductivity": (0.11, "E-LPSCl film with PEVA scaffold, 1.1 mS/cm, Li et al., Adv. Funct. Mater. 2024 [paper]"),
        "electronic_conductivity": (1.0e-7, "E-LPSCl film electronic 1.0e-9 S/cm, Li et al., Adv. Funct. Mater. 2024 "
                                            "[paper]"),
    },
    "p_lpscl_pellet": {
        "conductivity": (0.36, "P-LPSCl pellet, 3.6 mS/cm, Li et al., Adv. Funct. Mater. 2024 [paper]"),
    },
    "li3n": {
        "conductivity": (0.12, "Li3N single crystal, ~1.2e-3 S/cm perpendicular to c at room temperature, Alpen, "
                               "Rabenau, Talat, Appl. Phys. Lett. 30 (1977) 621 [lit, not re-checked]; the in-situ "
                               "SEI may conduct an order less [assumed, see docs/film.md]"),
        "electronic_conductivity": (0.0, "Li3N: an electronic insulator (taken as 0) [assumed; lit: negligible]"),
    },
    "ptfe_interphase": {
        "conductivity": (1e-5, "Li-reduced PTFE (LiF + C) interphase, ionic 1e-7 S/cm [assumed: order of "
                               "magnitude of LiF-rich interphases; not measured in the film study]"),
        "electronic_conductivity": (7.1e-5, "Li-reduced PTFE interphase (MIEC), electronic 7.1e-7 S/cm, Li et al., "
                                            "Adv. Funct. Mater. 2024 [paper]"),
    },
}

# Butler-Volmer kinetics of Li/Li+ at the Li surface.
KINETICS: dict[str, dict[str, tuple[float, str]]] = {
    "li_bare": {
        "exchange_current_density": (
            4.1,
            "0.41 mA/cm^2, bare Li, Zhang et al., Adv. Funct. Mater. 2021 (alloy study) [paper]",
        ),
        "alpha_a": (0.5, "symmetric charge transfer, assumed"),
        "alpha_c": (0.5, "symmetric charge transfer, assumed"),
    },
    "li_fast": {
        "exchange_current_density": (
            37.1,
            "3.71 mA/cm^2, Li3Mg7@Li apparent i0, Zhang et al. 2021 [paper]",
        ),
        "alpha_a": (0.5, "symmetric charge transfer, assumed"),
        "alpha_c": (0.5, "symmetric charge transfer, assumed"),
    },
}


def preset_values(table: dict[str, dict[str, tuple[float, str]]], name: str) -> dict[str, float]:
    return {key: value for key, (value, _source) in table[name].items()}


def preset_sources(table: dict[str, dict[str, tuple[float, str]]], name: str) -> dict[str, str]:
    return {key: source for key, (_value, source) in table[name].items()}


# Piezoelectric ceramics and polymers, stress-charge form, poled along the material 3-axis.
# Stiffness in Pa, e in C/m^2, relative permittivities at constant strain.
PIEZO: dict[str, dict[str, tuple[float, str]]] = {
    "batio3": {
        **{
            key: (value * 1e9, "BaTiO3 poled ceramic, COMSOL material library [lit]")
            for key, value in {"c11": 150.4, "c12": 65.6, "c13": 65.9, "c33": 145.5, "c44": 43.9, "c66": 42.4}.items()
        },
        "e31": (-4.32, "BaTiO3, COMSOL material library [lit]; e = d c^E checked [derived]"),
        "e33": (17.36, "BaTiO3, COMSOL material library [lit]"),
        "e15": (11.40, "BaTiO3, COMSOL material library [lit]"),
        "eps11_r": (1115.1, "BaTiO3 eps^S/eps0, COMSOL material library [lit]"),
        "eps33_r": (1251.3, "BaTiO3 eps^S/eps0, COMSOL material library [lit]"),
    },
    "pvdf": {
        # beta-PVDF, treated as an isotropic elastic dielectric with a small uniaxial piezo response.
        "young": (2.5e9, "PVDF E ~2-3 GPa [lit, unconfirmed: typical range]"),
        "poisson": (0.34, "PVDF [lit, unconfirmed]"),
        "eps_r": (12.0, "beta-PVDF relative permittivity ~10-13 [lit, unconfirmed]"),
        "d31": (23e-12, "beta-PVDF d31 ~ 20-28 pC/N [lit, unconfirmed]"),
        "d33": (-33e-12, "beta-PVDF d33 ~ -(20-35) pC/N [lit, unconfirmed]"),
    },
}

# Isotropic elastic solids (Young's modulus in Pa, Poisson's ratio), e.g. the Li foil under a layer.
ELASTIC: dict[str, dict[str, tuple[float, str]]] = {
    "li_metal": {
        "young": (4.91e9, "Li metal, polycrystalline, room temperature, E = 4.91 GPa "
                          "[lit, as listed in the project's physics reference; not re-checked]"),
        "poisson": (0.36, "Li metal nu = 0.36 [lit, as listed in the project's physics reference; not re-checked]"),
    },
}


def li_foundation_stiffness(thickness: float, young: float | None = None,
                            poisson: float | None = None) -> tuple[float, float]:
    """(k_normal, k_tangential) in Pa/m of a thin Li foil of ``thickness`` on a rigid base.

    Thin-layer (Winkler) model: k_n = M / H with M = E (1 - nu) / ((1 + nu)(1 - 2 nu)) the
    constrained (oedometric) modulus and k_t = G / H with G = E / (2 (1 + nu)); E and nu
    default to ``ELASTIC["li_metal"]``.
    """
    li = preset_values(ELASTIC, "li_metal")
    E = li["young"] if young is None else young
    nu = li["poisson"] if poisson is None else poisson
    oedometric = E * (1 - nu) / ((1 + nu) * (1 - 2 * nu))
    shear = E / (2 * (1 + nu))
    return oedometric / thickness, shear / thickness
