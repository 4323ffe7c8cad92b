"""Metrics of the anode-design studies: where the current goes on an alloy skeleton or a HoMS membrane.

Called by :func:`solver.study.compute_metrics` (``metrics["design"]``) when the geometry has the
boundaries of one of the designs:

* ``alloy_skeleton`` (``skeleton_surface``): Zhang et al., Adv. Funct. Mater. 2021 claim that the
  Li3Mg7 skeleton takes the Li into its pores, below its top, and evens out the current.
* ``homs_membrane`` (``shell_surface`` + ``electrode_surface``): Wei et al., Adv. Energy Mater.
  2024 claim that Li grows inside the shells and under the membrane, not on its top.

How the numbers are made. The plating current density i is the recovered (consistent) boundary
current of :mod:`solver.postprocess`, a P1 field. The current of a group of electrode facets is
the integral of i over them (A, or A per metre of depth in 2D); these integrals add up exactly to
the electrode total. A facet belongs to a height band by its midpoint, so a band edge is resolved
to one facet (refine to converge). Areas are true (curved, rough) areas of the mesh facets.

Apparent exchange current density: the exchange current of the whole electrode per projected
(footprint) area, ``sum_b i0_b A_b / A_projected``. The papers' i0 values (Tafel / EIS fits on a
whole electrode) are apparent values of this kind; a true-surface i0 that reproduces a measured
apparent value follows from the areas (``skeleton_i0_for_paper_apparent_A_m2``).
"""

from __future__ import annotations

import math

import numpy as np
import ufl

from solver._dolfinx import MPI, dolfinx

# Apparent exchange current densities measured by Zhang et al., Adv. Funct. Mater. 2021 [paper]
# (per geometric electrode area), A/m^2 (1 mA/cm^2 = 10 A/m^2).
PAPER_APPARENT_I0 = {"bare_li": 4.1, "lih_at_li": 21.3, "li3mg7_at_li": 37.1}
TOP_BAND = 0.1  # alloy: the "top" of the skeleton is its upper 10 % of height
HEIGHT_FRACTIONS = (0.25, 0.5, 0.75, 0.9)  # alloy: cumulative current/area below these heights / top

__all__ = ["compute", "alloy_metrics", "homs_metrics", "apparent_exchange_current_density",
           "PAPER_APPARENT_I0", "TOP_BAND", "HEIGHT_FRACTIONS"]


def compute(case, problem, current, metrics: dict) -> dict | None:
    """The design block of ``metrics.json`` for this geometry, or None for other geometries."""
    names = problem.domain.boundaries
    if "skeleton_surface" in names:
        return alloy_metrics(case, problem, current, metrics)
    if "shell_surface" in names and "electrode_surface" in names:
        return homs_metrics(case, problem, current, metrics)
    return None


# ------------------------------------------------------------------------------------ helpers
def _region_of_cells(domain) -> np.ndarray:
    """Region tag of every local cell (owned and ghost), -1 where untagged."""
    Q = dolfinx.fem.functionspace(domain.mesh, ("DG", 0))
    tag = dolfinx.fem.Function(Q)
    tag.x.array[:] = -1.0
    tag.x.array[domain.cell_tags.indices] = domain.cell_tags.values
    tag.x.scatter_forward()
    return np.rint(tag.x.array).astype(np.int64)


def _facets_of(domain, names: list[str]):
    """Exterior facets of the named boundaries: (facets, midpoints (n, 3), boundary tag,
    region tag of the adjacent cell)."""
    mesh = domain.mesh
    tdim = mesh.topology.dim
    mesh.topology.create_connectivity(tdim - 1, tdim)
    f2c = mesh.topology.connectivity(tdim - 1, tdim)
    mask = np.isin(domain.facet_tags.values, domain.facet_ids([n for n in names if n in domain.boundaries]))
    facets = domain.facet_tags.indices[mask]
    btag = domain.facet_tags.values[mask]
    exterior = np.diff(f2c.offsets)[facets] == 1
    facets, btag = facets[exterior], btag[exterior]
    region = _region_of_cells(domain)
    cell = f2c.array[f2c.offsets[facets]].astype(np.int64)
    rtag = region[cell] if facets.size else np.zeros(0, dtype=np.int64)
    mid = dolfinx.mesh.compute_midpoints(mesh, tdim - 1, facets) if facets.size else np.zeros((0, 3))
    return facets, mid, btag, rtag


def _integrate_groups(domain, field, facets: np.ndarray, groups: np.ndarray, count: int):
    """(integral of ``field``, area) over the facets of each group 0 .. count-1 (summed over ranks)."""
    mesh = domain.mesh
    order = np.argsort(facets)
    tags = dolfinx.mesh.meshtags(mesh, mesh.topology.dim - 1, facets[order].astype(np.int32),
                                 (groups[order] + 1).astype(np.int32))
    ds = ufl.Measure("ds", domain=mesh, subdomain_data=tags)
    w = domain.weight
    values, areas = np.zeros(count), np.zeros(count)
    for g in range(count):
        values[g] = domain.integrate(field * w * ds(g + 1))
        areas[g] = domain.integrate(w * ufl.as_ufl(1.0) * ds(g + 1))
    return values, areas


def apparent_exchange_current_density(problem) -> tuple[float, dict[str, float]]:
    """(sum_b i0_b A_b / A_projected in A/m^2, true area of every electrode boundary)."""
    d = problem.domain
    areas = {name: d.area([name]) for name in problem.electrode}
    exchange = sum(bv.i0 * areas[name] for name, bv in problem.electrode.items())
    return exchange / d.projected_area, areas


def _by_boundary(domain, current, facets, btag, names, total) -> dict[str, float]:
    """Share of the electrode current on each named boundary (facet integrals: a vertex shared by
    two boundaries is not counted twice)."""
    lookup = {tag: k for k, tag in enumerate(domain.facet_ids(names))}
    index = np.array([lookup[int(t)] for t in btag], dtype=np.int64)
    values, _ = _integrate_groups(domain, current.field, facets, index, len(names))
    return {n: float(v / total) for n, v in zip(names, values)}


def _volume_below(domain, top: float) -> float:
    """Volume of the mesh below the height ``top``, exactly: the divergence theorem turns the
    integral of H(top - z) = d/dz min(z, top) into the boundary integral of min(z, top) n_z,
    whose integrand is linear on every facet that does not cross ``top`` (side walls, where
    n_z = 0, may). The quadrature of a step function over the cells would miss by the cells
    that straddle ``top``."""
    mesh = domain.mesh
    vertical = mesh.geometry.dim - 1
    x = ufl.SpatialCoordinate(mesh)
    n = ufl.FacetNormal(mesh)
    ds = ufl.Measure("ds", domain=mesh, metadata={"quadrature_degree": 2})
    return domain.integrate(ufl.min_value(x[vertical], top) * n[vertical] * ds)


def _ratio(a: float, b: float) -> float | None:
    return a / b if b else None


# ------------------------------------------------------------------------------------ alloy
def alloy_metrics(case, problem, current, metrics: dict) -> dict:
    """Alloy skeleton (Zhang et al. 2021): current below the skeleton top, on the true surface.

    Keys (currents in A, 2D: A per metre of depth; densities in A/m^2):

    ``current_fraction_below_top``
        fraction of the electrode current on facets strictly below the skeleton top (every facet
        but the top caps of the trunks; 0 for a dense layer covering the Li: all on its top face).
    ``current_fraction_top_band`` / ``area_fraction_top_band`` / ``top_band_focusing``
        the same for the upper ``TOP_BAND`` of the skeleton height (midpoint above
        (1 - TOP_BAND) top), the share of the true area there, and their ratio (> 1: the top
        takes more than its share of area, i.e. tip focusing; 1: deposition follows the area).
    ``current_fraction_below_height`` / ``area_fraction_below_height``
        cumulative shares below ``f * top`` for f in ``HEIGHT_FRACTIONS``.
    ``current_fraction_by_boundary``
        e.g. Li foil at the bottom of the pores vs skeleton surface.
    ``max_over_mean_true`` / ``cv_true``, ``mean_current_density_true_A_m2`` / ``max_current_density_true_A_m2``
        of the current density over the whole true electrode surface (the mean is the applied
        current over the true area: a rough host lowers it by its roughness factor).
    ``apparent_exchange_current_density_A_m2``, ``true_over_projected_area``
        sum i0 A / A_projected (compare ``paper_apparent_i0_A_m2``) and the roughness factor.
    ``skeleton_i0_for_paper_apparent_A_m2``
        the true-surface skeleton i0 that gives the paper's apparent 3.71 mA/cm^2 on this
        geometry, with the Li foil's i0 as set (None when impossible, i.e. negative).
    ``wagner_number_skeleton``
        kappa R_ct / skeleton height, R_ct of the skeleton surface plus its film resistance R_f, if
        any (of the electrode when the skeleton is not an electrode or takes no Li).
    ``porous_wagner_number``, ``penetration_depth_m``
        dendritic layout only (skeleton cut out of the mesh): a = electrode area inside the
        skeleton layer / electrolyte volume there (``pore_volume``); lambda = sqrt(kappa R_ct / a) is how deep a linear-kinetics current penetrates a
        porous electrode with a perfectly conducting matrix, porous Wa = (lambda / height)^2:
        >> 1 the pores fill evenly, << 1 the current stays near the top.
    """
    d = problem.domain
    top = float(d.landmarks["skeleton_top"])
    vertical = d.mesh.geometry.dim - 1
    names = list(problem.electrode)
    facets, mid, btag, _ = _facets_of(d, names)
    h = mid[:, vertical]
    eps = 1e-6 * top
    edges = [f * top for f in HEIGHT_FRACTIONS] + [(1 - TOP_BAND) * top, top - eps]
    cuts = np.array(sorted(set(edges)))
    groups = np.searchsorted(cuts, h, side="right")  # bin k: cuts[k-1] <= h < cuts[k]
    values, areas = _integrate_groups(d, current.field, facets, groups, len(cuts) + 1)
    total, area = values.sum(), areas.sum()

    def below(height):
        k = int(np.searchsorted(cuts, height)) + 1  # bins entirely below ``height``
        return float(values[:k].sum() / total), float(areas[:k].sum() / area)

    below_top = below(top - eps)
    band = below((1 - TOP_BAND) * top)
    out = {
        "skeleton_top_m": top,
        "total_current_A": float(total),
        "current_fraction_below_top": below_top[0],
        "area_fraction_below_top": below_top[1],
        "top_band": TOP_BAND,
        "current_fraction_top_band": 1 - band[0],
        "area_fraction_top_band": 1 - band[1],
        "top_band_focusing": _ratio(1 - band[0], 1 - band[1]),
        "current_fraction_below_height": {f"{f:g}": below(f * top)[0] for f in HEIGHT_FRACTIONS},
        "area_fraction_below_height": {f"{f:g}": below(f * top)[1] for f in HEIGHT_FRACTIONS},
        "current_fraction_by_boundary": _by_boundary(d, current, facets, btag, names, total),
        "max_over_mean_true": metrics["electrode"]["all"]["max_over_mean"],
        "cv_true": metrics["electrode"]["all"]["cv"],
        "mean_current_density_true_A_m2": metrics["electrode"]["all"]["mean"],
        "max_current_density_true_A_m2": metrics["electrode"]["all"]["max"],
    }
    apparent, true_areas = apparent_exchange_current_density(problem)
    out["apparent_exchange_current_density_A_m2"] = apparent
    out["paper_apparent_i0_A_m2"] = dict(PAPER_APPARENT_I0)
    out["true_area"] = {**true_areas, "all": float(sum(true_areas.values()))}
    out["true_over_projected_area"] = sum(true_areas.values()) / d.projected_area
    if "skeleton_surface" in problem.electrode and true_areas["skeleton_surface"] > 0:
        li = problem.electrode.get("li_surface")
        li_exchange = li.i0 * true_areas["li_surface"] if li is not None else 0.0
        value = (PAPER_APPARENT_I0["li3mg7_at_li"] * d.projected_area - li_exchange) / true_areas["skeleton_surface"]
        out["skeleton_i0_for_paper_apparent_A_m2"] = value if value > 0 else None

    kappa = metrics["wagner_inputs"]["conductivity_S_m"]
    kinetics = problem.electrode.get("skeleton_surface") or next(iter(problem.electrode.values()))
    r_ct = kinetics.interface_resistance(problem.f)
    primary = problem.model == "primary"
    out["wagner_number_skeleton"] = 0.0 if primary else kappa * r_ct / top
    if getattr(case.geometry, "layout", None) == "dendritic" and set(d.regions) == {"electrolyte"}:
        pore_volume = _volume_below(d, top)
        specific = float(areas[: int(np.searchsorted(cuts, top - eps)) + 1].sum()) / pore_volume
        penetration = 0.0 if primary else math.sqrt(kappa * r_ct / specific)
        out["pore_volume"] = pore_volume
        out["specific_area_per_m"] = specific
        out["penetration_depth_m"] = penetration
        out["porous_wagner_number"] = (penetration / top) ** 2
    return out


# ------------------------------------------------------------------------------------ HoMS
HOMS_GROUPS = ("electrode_under_membrane", "sphere_interiors", "membrane_top", "membrane_outer_below_top")


def homs_metrics(case, problem, current, metrics: dict) -> dict:
    """HoMS membrane (Wei et al. 2024): current split between the electrode under the membrane,
    the sphere interiors and the membrane top, and the evenness on the electrode.

    Groups of facets (``HOMS_GROUPS``):

    ``electrode_under_membrane``
        ``electrode_surface`` (the Cu / Li under the membrane).
    ``sphere_interiors``
        shell surfaces facing the region ``interior`` (the inner face of the outer shell and both
        faces of the inner shells): in steady state the current through the ``opening``s.
    ``membrane_top``
        outer shell (or nanoparticle) surfaces facing the bulk electrolyte above the height of the
        upper row's centres.
    ``membrane_outer_below_top``
        the rest of the outer surfaces (lower halves of the upper row, the lower row, the cut
        faces of the openings' channels below that height).

    Keys: ``current_fraction`` and ``area_fraction`` per group (shares of the electrode current
    and of the true shell + electrode area; a group that is not an electrode carries no current),
    ``mean_current_density_A_m2`` per group, ``electrode_cv``, ``electrode_max_over_mean``,
    ``electrode_min_over_mean`` (the evenness of the current on the electrode under the
    membrane; None when the electrode takes no current, e.g. shielded in the primary limit), ``apparent_exchange_current_density_A_m2``, ``true_over_projected_area``, and the
    Wagner numbers with the sphere diameter and with the membrane thickness as lengths.
    """
    d = problem.domain
    vertical = d.mesh.geometry.dim - 1
    centres = np.asarray(d.landmarks["sphere_centres"], dtype=float)
    upper = float(centres[:, vertical].max())
    surfaces = ["electrode_surface", "shell_surface"]
    facets, mid, btag, rtag = _facets_of(d, surfaces)
    interior_tag = d.regions.get("interior", -999)
    groups = np.full(facets.size, 3, dtype=np.int64)
    groups[mid[:, vertical] > upper] = 2
    groups[rtag == interior_tag] = 1
    groups[btag == d.boundaries["electrode_surface"]] = 0
    values, areas = _integrate_groups(d, current.field, facets, groups, len(HOMS_GROUPS))
    total = current.total(list(problem.electrode))
    electrode = metrics["electrode"].get("electrode_surface") or {}
    if abs(values[0]) <= 1e-9 * abs(total):  # no current on the electrode (shielded): no evenness to speak of
        electrode = {}
    out = {
        "upper_row_centre_m": upper,
        "membrane_top_m": float(d.landmarks["membrane_top"]),
        "total_current_A": total,
        "current_fraction": {g: float(v / total) for g, v in zip(HOMS_GROUPS, values)},
        "area_fraction": {g: float(a / areas.sum()) for g, a in zip(HOMS_GROUPS, areas)},
        "area": {g: float(a) for g, a in zip(HOMS_GROUPS, areas)},
        "mean_current_density_A_m2": {g: (float(v / a) if a > 0 else None)
                                      for g, v, a in zip(HOMS_GROUPS, values, areas)},
        "electrode_cv": electrode.get("cv"),
        "electrode_max_over_mean": electrode.get("max_over_mean"),
        "electrode_min_over_mean": (electrode["min"] / electrode["mean"]) if electrode.get("mean") else None,
    }
    apparent, true_areas = apparent_exchange_current_density(problem)
    out["apparent_exchange_current_density_A_m2"] = apparent
    out["true_over_projected_area"] = sum(true_areas.values()) / d.projected_area
    kappa = metrics["wagner_inputs"]["conductivity_S_m"]
    r_ct = min(bv.interface_resistance(problem.f) for bv in problem.electrode.values())
    primary = problem.model == "primary"
    diameter = float(getattr(case.geometry, "outer_diameter", 0.0)) or None
    out["wagner_number_sphere"] = 0.0 if primary else (kappa * r_ct / diameter if diameter else None)
    out["wagner_number_membrane"] = 0.0 if primary else kappa * r_ct / out["membrane_top_m"]
    return out
