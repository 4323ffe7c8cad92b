"""Phase-field studies run from scenario files (solver/deposition.py, meshes/deposit.py):
Faraday consistency over a 2D run, seeded noise equal on 1 and 2 ranks, restart, inert solids,
and the deposition_cell geometry across its parameters."""

import json
import shutil

import numpy as np
import pytest
import yaml

from tests.test_cli import cli
from tests.test_transient import history, run_ok

CELL = {
    "name": "pf",
    "geometry": {"builder": "deposition_cell", "dimension": "2d", "width": "16 um", "height": "16 um",
                 "lithium_thickness": "2 um", "growth_zone": "8 um",
                 "nuclei": {"shape": "semi_ellipsoid", "height": "2 um", "base_radius": "1.5 um", "count": 1}},
    "mesh": {"size_electrode": "0.4 um", "size_far": "2 um", "grading_distance": "3 um"},
    "materials": {
        "electrolyte": {"type": "electrolyte", "preset": "litfsi_dol_dme", "diffusivity": "3.197e-10 m^2/s",
                        "conductivity": "1.19 S/m", "regions": ["electrolyte"]},
        "li": {"type": "lithium", "regions": ["lithium"]}},
    "physics": {"model": "phase_field", "temperature": "300 K", "electrode": {"boundaries": ["collector"]},
                "counter": {"boundaries": ["counter"]},
                "phase_field": {"noise": {"amplitude": "2 1/s", "seed": 5}}},
    "study": {"type": "transient", "protocol": ["Hold at -0.45 V for 0.6 s"], "output_interval": "0.2 s",
              "checkpoint_keep": 0,
              "time_stepping": {"initial_step": "1 ms", "target_change": 0.05, "max_step": "50 ms"}},
    "solver": {"degree": 1},
    "outputs": {"pictures": False},
}


def write(tmp_path, data, name="pf.yaml"):
    path = tmp_path / name
    path.write_text(yaml.safe_dump(data))
    return path


@pytest.fixture(scope="module")
def serial(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("pf")
    out = tmp / "out"
    run_ok(write(tmp, CELL), "-o", out, "-q")
    return out


def test_deposited_li_equals_charge_passed(serial):
    from solver.transient import read_series

    m = json.loads((serial / "metrics.json").read_text())
    print(f"2D phase field 0.6 s: Faraday ratio {m['faraday_ratio']:.6f}, height "
          f"{m['deposit_height_initial_m'] * 1e6:.3f} -> {m['deposit_height_final_m'] * 1e6:.3f} um")
    assert m["status"] == "completed"
    assert m["faraday_ratio"] == pytest.approx(1.0, abs=0.01)
    assert m["deposited_li_mol"] > 0
    h = history(serial)
    assert {"deposit_height_m", "tip_velocity_m_s", "charge_passed_C", "roughness"} <= set(h)
    times, grids = read_series(serial / "fields.vtkhdf")
    assert times[-1] == pytest.approx(0.6) and "order_parameter" in grids[-1].point_data.keys()


def test_seeded_noise_same_on_two_ranks(serial, tmp_path):
    out = tmp_path / "out2"
    run_ok(write(tmp_path, CELL), "-o", out, "-q", ranks=2)
    a = json.loads((serial / "metrics.json").read_text())
    b = json.loads((out / "metrics.json").read_text())
    for key in ("deposit_height_final_m", "deposited_li_mol", "charge_passed_C", "interface_measure_final"):
        print(f"{key}: serial {a[key]:.12e}, 2 ranks {b[key]:.12e}")
        assert b[key] == pytest.approx(a[key], rel=1e-6)
    # the morphology metrics (sampled lines, reduced over the ranks) agree too
    for key in ("fingers_final", "overhangs_final", "interface_normal_lateral_final",
                "interface_normal_vertical_final"):
        print(f"{key}: serial {a[key]}, 2 ranks {b[key]}")
        assert b[key] == pytest.approx(a[key], rel=1e-6)


def test_restart_continues_the_phase_field(serial, tmp_path):
    cut = tmp_path / "cut"
    shutil.copytree(serial, cut)
    for f in (cut / "checkpoints").glob("checkpoint_*.npz"):
        if int(f.stem.split("_")[1]) > 2:  # keep t = 0 and t = 0.2 s
            f.unlink()
    run_ok("--restart", cut, "-q")
    a, b = history(serial), history(cut)
    assert a["time_s"].size == b["time_s"].size
    np.testing.assert_allclose(b["deposit_height_m"], a["deposit_height_m"], rtol=1e-8)
    np.testing.assert_allclose(b["charge_passed_C"][1:], a["charge_passed_C"][1:], rtol=1e-8)


def test_inert_solid_stays_free_of_li(tmp_path):
    """A dense ion-conducting solid layer on the Li (solid_electrolyte): no Li grows into it."""
    from solver.transient import read_series

    data = json.loads(json.dumps(CELL))
    data["geometry"]["coating"] = {"thickness": "3 um"}
    data["materials"]["se"] = {"type": "solid_electrolyte", "preset": "li6ps5cl", "regions": ["coating"]}
    data["physics"]["phase_field"]["noise"] = {"amplitude": 0.0}
    data["study"]["protocol"] = ["Hold at -0.45 V for 0.3 s"]
    out = tmp_path / "out"
    run_ok(write(tmp_path, data), "-o", out, "-q")
    times, grids = read_series(out / "fields.vtkhdf")
    g = grids[-1]
    coating = g.extract_cells(np.flatnonzero(np.asarray(g.cell_data["region"]) == 3))
    xi = np.asarray(coating.point_data["order_parameter"])
    y = np.asarray(coating.points[:, 1])
    inner = y > 0.5e-6  # away from the Li / layer boundary and the nucleus (height 2 um pokes into it)
    print(f"max xi inside the solid layer above 0.5 um: {xi[inner & (np.abs(coating.points[:, 0]) > 3e-6)].max():.2e}")
    assert xi[inner & (np.abs(coating.points[:, 0]) > 3e-6)].max() < 1e-12


@pytest.mark.parametrize("dimension", ["2d", "axisymmetric", "3d"])
def test_deposition_cell_meshes_and_refuses_bad_input(dimension, tmp_path):
    from solver.errors import UserError
    from solver.scenario import cases_from_dict

    data = json.loads(json.dumps(CELL))
    data["geometry"]["dimension"] = dimension
    if dimension == "3d":
        data["mesh"] = {"size_electrode": "1.5 um", "size_far": "4 um", "grading_distance": "3 um"}
    case = cases_from_dict(data)[0]
    from solver._dolfinx import MPI
    from solver.study import build_domain

    d = build_domain(case, MPI.COMM_WORLD)
    assert set(d.regions) == {"lithium", "electrolyte"}
    assert {"collector", "counter", "side"} <= set(d.boundaries)
    bad = json.loads(json.dumps(data))
    bad["geometry"]["nuclei"]["base_radius"] = "20 um"
    with pytest.raises(UserError, match="reaches the side wall"):
        cases_from_dict(bad)
    bad = json.loads(json.dumps(data))
    bad["materials"].pop("li")
    bad["materials"]["electrolyte"]["regions"] = ["electrolyte", "lithium"]
    with pytest.raises(UserError, match="phase field needs a region of type 'lithium'"):
        cases_from_dict(bad)


def test_3d_anisotropy_other_than_cubic_is_refused():
    from solver.errors import UserError
    from solver.scenario import cases_from_dict

    data = json.loads(json.dumps(CELL))
    data["geometry"]["dimension"] = "3d"
    data["physics"]["phase_field"]["anisotropy"] = {"strength": 0.05, "mode": 6}
    with pytest.raises(UserError, match="only the cubic"):
        cases_from_dict(data)


def test_lithiophilic_host_factor_reaches_the_model():
    """A porous layer's kinetic_factor (lithiophilic host, e.g. 9 for Li3Mg7 vs bare Li) becomes
    the deposition-rate factor of its cells, 1 elsewhere (its effect on the rate: test_phasefield)."""
    from solver._dolfinx import MPI
    from solver.deposition import PhaseFieldModel
    from solver.scenario import cases_from_dict
    from solver.study import build_domain

    data = json.loads(json.dumps(CELL))
    data["geometry"]["coating"] = {"thickness": "4 um"}
    data["materials"]["host"] = {"type": "porous_layer", "electrolyte": "electrolyte", "porosity": 0.5,
                                 "kinetic_factor": 9.0, "regions": ["coating"]}
    case = cases_from_dict(data)[0]
    d = build_domain(case, MPI.COMM_WORLD)
    model = PhaseFieldModel(case, d)
    k = model.problem.kinetics.x.array
    host = d.region_cells("coating")
    others = np.setdiff1d(np.arange(k.size), host)
    assert np.all(k[host] == 9.0) and np.all(k[others] == 1.0)
    assert np.allclose(model.problem.transport.x.array[host], 0.5**1.5)


def test_galvanostatic_start_on_a_flat_electrode_under_a_layer(tmp_path):
    """A current step from rest on flat Li under a porous layer (once failing at t = 0): the
    relaxed initial profile lets it start with the default first step."""
    data = json.loads(json.dumps(CELL))
    data["geometry"]["nuclei"] = {"count": 0}
    data["geometry"]["coating"] = {"thickness": "4 um"}
    data["materials"]["layer"] = {"type": "porous_layer", "electrolyte": "electrolyte", "porosity": 0.5,
                                  "regions": ["coating"]}
    data["physics"]["phase_field"]["noise"] = {"amplitude": 0.0}
    data["study"]["protocol"] = ["Plate at 300 mA/cm^2 for 0.3 s"]
    out = tmp_path / "out"
    run_ok(write(tmp_path, data), "-o", out, "-q")
    m = json.loads((out / "metrics.json").read_text())
    assert m["status"] == "completed" and m["faraday_ratio"] == pytest.approx(1.0, abs=0.01)


def _piezo_cell(**piezo):
    data = json.loads(json.dumps(CELL))
    data["geometry"]["coating"] = {"thickness": "4 um"}
    data["materials"]["layer"] = {"type": "porous_layer", "electrolyte": "electrolyte", "porosity": 0.4,
                                  "regions": ["coating"]}
    data["physics"]["piezo"] = {"region": "coating", "update_interval": 2, **piezo}
    data["physics"]["phase_field"]["noise"] = {"amplitude": 0.0}
    return data


def _model(data):
    from solver._dolfinx import MPI
    from solver.deposition import PhaseFieldModel
    from solver.scenario import cases_from_dict
    from solver.study import build_domain

    case = cases_from_dict(data)[0]
    return PhaseFieldModel(case, build_domain(case, MPI.COMM_WORLD))


def test_piezo_layer_under_a_li_front_matches_the_1d_solution():
    """A flat Li front 1.5 um into the layer: the Li in the pores presses with p_c h(xi), so the
    Li-filled part is under a uniaxial (laterally held) tension p_c h; with D_y = 0 (open top)
    psi(top) = e p_c int h dy / (eps c + e^2), e, c, eps the layer's vertical components."""
    from solver.physics.phasefield import planar_profile
    from solver.piezo_layer import material

    data = _piezo_cell()
    data["geometry"]["nuclei"] = {"count": 0}
    model = _model(data)
    pf, coupling = model.problem, model.piezo
    front = 1.5e-6
    pf.xi.interpolate(lambda x: planar_profile(x[1] - front, pf.p))
    coupling.update(pf)
    config = model.case.scenario.physics.piezo
    mat = material(config, 0.4).poled_along([0.0, 1.0, 0.0])
    c, e, eps = mat.C[1, 1, 1, 1], mat.e[1, 1, 1], mat.eps[1, 1]
    d = pf.domain
    filled = d.integrate(pf.h(pf.xi) * d.dx(domain=d.mesh, subdomain_data=d.cell_tags,
                                            subdomain_id=d.regions["coating"])) / d.projected_area
    expected = e * config.contact_pressure * filled / (eps * c + e**2)
    low, high = coupling.extremes()
    print(f"psi at the layer top {high * 1e3:.6f} mV, 1D solution {expected * 1e3:.6f} mV (int h dy "
          f"{filled * 1e6:.4f} um), min {low:.2e} V")
    assert high == pytest.approx(expected, rel=2e-3)
    assert low > -1e-3 * high


def test_piezo_poling_reverses_psi_and_unscreened_ions_see_it(tmp_path):
    """Reversed poling mirrors psi; screening_factor 0 gives exactly the passive layer's run."""
    up, down = _model(_piezo_cell()), _model(_piezo_cell(poling="down"))
    np.testing.assert_allclose(down.piezo.psi.x.array, -up.piezo.psi.x.array, atol=1e-12)
    assert max(abs(v) for v in up.piezo.extremes()) > 1e-3  # mV range at 1 MPa
    runs = {}
    for name, piezo in (("passive", None), ("screened", {"screening_factor": 0.0}), ("up", {})):
        data = _piezo_cell(**(piezo or {}))
        if piezo is None:
            data["physics"].pop("piezo")
        data["study"]["protocol"] = ["Plate at 300 mA/cm^2 for 0.2 s"]
        out = tmp_path / name
        run_ok(write(tmp_path, data, f"{name}.yaml"), "-o", out, "-q")
        runs[name] = history(out)
    np.testing.assert_allclose(runs["screened"]["deposit_height_m"], runs["passive"]["deposit_height_m"],
                               rtol=1e-12)
    change = runs["up"]["deposit_height_m"][-1] - runs["passive"]["deposit_height_m"][-1]
    print(f"height after 0.2 s: passive {runs['passive']['deposit_height_m'][-1] * 1e6:.5f} um, "
          f"piezo (up) {runs['up']['deposit_height_m'][-1] * 1e6:.5f} um")
    assert abs(change) > 1e-10 and "piezo_potential_max_V" in runs["up"]


def test_restart_with_the_piezo_layer_continues_the_same_run(tmp_path):
    """psi and the step of its last update come back with a checkpoint: a restart gives the
    continuous run's history, piezo potential included."""
    data = _piezo_cell(update_interval=3)
    data["study"]["protocol"] = ["Plate at 300 mA/cm^2 for 0.3 s"]
    data["study"]["output_interval"] = "0.1 s"
    out = tmp_path / "full"
    run_ok(write(tmp_path, data), "-o", out, "-q")
    cut = tmp_path / "cut"
    shutil.copytree(out, cut)
    for f in (cut / "checkpoints").glob("checkpoint_*.npz"):
        if int(f.stem.split("_")[1]) > 1:  # keep t = 0 and t = 0.1 s
            f.unlink()
    run_ok("--restart", cut, "-q")
    a, b = history(out), history(cut)
    assert a["time_s"].size == b["time_s"].size
    for key in ("deposit_height_m", "piezo_potential_max_V", "cell_voltage_V"):
        np.testing.assert_allclose(b[key], a[key], rtol=1e-7)


def test_3d_nucleus_closes_faraday_and_matches_on_two_ranks(tmp_path):
    """The phase field in 3D: a nucleus plated for 0.1 s deposits the charge passed (1 %), and
    serial and 2 ranks agree."""
    data = json.loads(json.dumps(CELL))
    data["geometry"] |= {"dimension": "3d", "width": "6 um", "height": "6 um", "lithium_thickness": "1 um",
                         "growth_zone": "3 um",
                         "nuclei": {"shape": "semi_ellipsoid", "height": "1.2 um", "base_radius": "1 um", "count": 1}}
    data["mesh"] = {"size_electrode": "0.5 um", "size_far": "1.5 um", "grading_distance": "1.5 um"}
    data["physics"]["phase_field"]["noise"] = {"amplitude": 0.0}
    data["study"] |= {"protocol": ["Plate at 300 mA/cm^2 for 0.1 s"], "output_interval": "0.05 s"}
    runs = {}
    for ranks in (1, 2):
        out = tmp_path / f"r{ranks}"
        run_ok(write(tmp_path, data, f"r{ranks}.yaml"), "-o", out, "-q", ranks=ranks)
        runs[ranks] = json.loads((out / "metrics.json").read_text())
    m = runs[1]
    print(f"3D: Faraday ratio {m['faraday_ratio']:.6f}, height {m['deposit_height_final_m'] * 1e6:.4f} um; "
          f"2 ranks {runs[2]['deposit_height_final_m'] * 1e6:.4f} um")
    assert m["status"] == "completed" and m["faraday_ratio"] == pytest.approx(1.0, abs=0.01)
    for key in ("deposit_height_final_m", "deposited_li_mol", "charge_passed_C"):
        assert runs[2][key] == pytest.approx(m[key], rel=1e-6)


# ----------------------------------------------------------------------------- initial roughness
ROUGH = {"amplitude": "0.4 um", "min_wavelength": "3 um", "seed": 3}


def _rough_initial(dimension="2d", settings=None, comm=None):
    """Initial Li indicator of a flat deposition cell with a random surface: (domain, V, xi0 flat,
    xi0 rough, the surface function)."""
    from solver import deposition, study
    from solver._dolfinx import MPI, dolfinx
    from solver.physics.phasefield import region_indicator
    from solver.scenario import Roughness, cases_from_dict

    raw = {**CELL, "geometry": {**CELL["geometry"], "dimension": dimension, "nuclei": {"count": 0}}}
    if dimension == "3d":
        raw["geometry"].update(width="8 um", height="6 um", growth_zone="3 um")
        raw["mesh"] = {"size_electrode": "0.5 um", "size_far": "1.5 um", "grading_distance": "2 um"}
    case = cases_from_dict(raw)[0]
    domain = study.build_domain(case, comm or MPI.COMM_WORLD)
    V = dolfinx.fem.functionspace(domain.mesh, ("Lagrange", 1))
    flat = region_indicator(domain, V, ["lithium"])
    settings = Roughness.model_validate(settings or ROUGH)
    rough = deposition.roughen(flat, domain, V, ["lithium", "electrolyte"], settings)
    return domain, V, flat, rough, settings


def _integrals(domain, V, values):
    """(int xi, int |grad xi|) of nodal values on V."""
    import ufl
    from solver._dolfinx import dolfinx

    f = dolfinx.fem.Function(V)
    n = V.dofmap.index_map.size_local
    f.x.array[:n] = values[:n]
    f.x.scatter_forward()
    grad = ufl.sqrt(ufl.inner(ufl.grad(f), ufl.grad(f)) + 1e-300)
    return domain.integrate(f * domain.weight * domain.dx), domain.integrate(grad * domain.weight * domain.dx)


@pytest.mark.mpi
@pytest.mark.parametrize("dimension", ["2d", "axisymmetric", "3d"])
def test_initial_roughness_keeps_the_li_and_roughens_the_surface(dimension):
    """A random surface of rms 0.4 um: zero mean (the Li amount is the flat one's to the cells'
    discreteness), the interface longer than flat, the sampled surface has the asked rms, only
    wavelengths >= min_wavelength, and the same surface on any number of ranks (global sums)."""
    from solver.deposition import surface_height

    domain, V, flat, rough, settings = _rough_initial(dimension)
    li_flat, len_flat = _integrals(domain, V, flat)
    li_rough, len_rough = _integrals(domain, V, rough)
    print(f"{dimension}: Li amount rough/flat {li_rough / li_flat:.5f}, interface rough/flat "
          f"{len_rough / len_flat:.4f}")
    assert li_rough == pytest.approx(li_flat, rel=0.03)
    assert len_rough > 1.02 * len_flat
    from solver._dolfinx import MPI

    if MPI.COMM_WORLD.size > 1:  # the same initial state as one rank alone (nodes on the surface included)
        d1, V1, _, rough1, _ = _rough_initial(dimension, comm=MPI.COMM_SELF)
        assert _integrals(d1, V1, rough1) == pytest.approx((li_rough, len_rough), rel=1e-12)
    # the surface itself: rms and spectrum
    width = 16e-6
    if dimension == "3d":
        width = 8e-6
        g = (np.arange(64) + 0.5) / 64 * width - width / 2
        pts = np.array(np.meshgrid(g, g, indexing="ij")).reshape(2, -1).T
        s = surface_height(settings, [(-width / 2, width / 2)] * 2, False)(pts)
        assert np.sqrt(np.mean(s**2)) == pytest.approx(0.4e-6, rel=0.05)
    else:
        lo = 0.0 if dimension == "axisymmetric" else -width / 2
        x = lo + (np.arange(4096) + 0.5) / 4096 * width
        s = surface_height(settings, [(lo, lo + width)], dimension == "axisymmetric")(x[:, None])
        w = x - lo if dimension == "axisymmetric" else np.ones_like(x)
        assert np.sqrt(np.sum(w * s**2) / w.sum()) == pytest.approx(0.4e-6, rel=1e-3)
        assert abs(np.sum(w * s) / w.sum()) < 1e-12
        spectrum = np.abs(np.fft.rfft(np.concatenate([s, s[::-1]])))  # even extension: cosine modes
        k = np.arange(spectrum.size)
        wavelength = 2 * width / np.maximum(k, 1)
        assert spectrum[(wavelength < 3e-6 * 0.95) & (k > 0)].max() < 1e-9 * spectrum.max()
    # same seed, same surface; another seed, another one
    assert np.array_equal(surface_height(settings, [(0, width)], False)(np.array([[1e-6], [5e-6]])),
                          surface_height(settings, [(0, width)], False)(np.array([[1e-6], [5e-6]])))
    other = settings.model_copy(update={"seed": 4})
    assert not np.allclose(surface_height(other, [(0, width)], False)(np.array([[1e-6], [5e-6]])),
                           surface_height(settings, [(0, width)], False)(np.array([[1e-6], [5e-6]])))


def test_initial_roughness_that_reaches_the_collector_is_refused(tmp_path):
    data = json.loads(json.dumps(CELL))
    data["geometry"]["nuclei"] = {"count": 0}
    data["physics"]["phase_field"]["initial_roughness"] = {"amplitude": "1.5 um", "min_wavelength": "3 um"}
    r = cli("run", str(write(tmp_path, data)), "-o", str(tmp_path / "out"), "-q")
    assert r.returncode == 2, r.stderr
    assert "initial_roughness.amplitude" in r.stderr and "Traceback" not in r.stderr
    assert not (tmp_path / "out").exists()


def test_rough_surface_grows_and_closes_faraday(tmp_path):
    """A rough flat electrode (no nuclei) plated for 0.3 s: it runs, the Li deposited equals the
    charge passed, and the initial roughness (interface / flat) is above 1 in the history."""
    data = json.loads(json.dumps(CELL))
    data["geometry"]["nuclei"] = {"count": 0}
    data["physics"]["phase_field"] = {"initial_roughness": {**ROUGH, "amplitude": "0.5 um", "min_wavelength": "5 um"}}
    data["study"]["protocol"] = ["Hold at -0.45 V for 0.3 s"]
    data["study"]["output_interval"] = "0.1 s"
    out = tmp_path / "out"
    run_ok(write(tmp_path, data), "-o", out, "-q")
    m = json.loads((out / "metrics.json").read_text())
    h = history(out)
    print(f"rough electrode: roughness {h['roughness'][0]:.4f} -> {h['roughness'][-1]:.4f}, "
          f"Faraday ratio {m['faraday_ratio']:.6f}")
    assert m["status"] == "completed"
    assert h["roughness"][0] > 1.01  # a flat front measures 1.004-1.005 on these cells (docs/phase_field.md)
    assert m["faraday_ratio"] == pytest.approx(1.0, abs=0.01)


# ----------------------------------------------------------------------------- other builders
SKELETON = {
    "name": "pf_alloy",
    "geometry": {"builder": "alloy_skeleton", "dimension": "2d", "width": "20 um", "height": "20 um",
                 "tree_height": "6 um", "pitch": "10 um", "trunk_width": "2 um", "generations": 0,
                 "lithium_thickness": "3 um", "mesh_skeleton": False},
    "mesh": {"size_far": "2 um", "size_electrode": "0.5 um", "size_feature": "0.5 um", "grading_distance": "4 um"},
    "materials": {"electrolyte": CELL["materials"]["electrolyte"], "li": {"type": "lithium", "regions": ["lithium"]}},
    "physics": {"model": "phase_field", "temperature": "300 K", "electrode": {"boundaries": ["collector"]},
                "counter": {"boundaries": ["counter"]}},
    "study": {"type": "transient", "protocol": ["Hold at -0.45 V for 0.3 s"], "output_interval": "0.15 s",
              "checkpoint_keep": 0,
              "time_stepping": {"initial_step": "1 ms", "target_change": 0.05, "max_step": "50 ms"}},
    "solver": {"degree": 1},
    "outputs": {"pictures": False},
}


def test_phase_field_on_another_builder_alloy_skeleton(tmp_path):
    """The phase field binds to region and boundary names, not to the deposition_cell: on the
    alloy_skeleton geometry with its Li meshed (posts cut out: ion-blocking walls) Li plates between
    the posts and Faraday closes."""
    out = tmp_path / "out"
    run_ok(write(tmp_path, SKELETON), "-o", out, "-q")
    m = json.loads((out / "metrics.json").read_text())
    print(f"alloy_skeleton phase field: Faraday ratio {m['faraday_ratio']:.7f}, mean rise "
          f"{m['mean_rise_m'] * 1e6:.4f} um")
    assert m["status"] == "completed"
    assert m["deposited_li_mol"] > 0
    assert m["faraday_ratio"] == pytest.approx(1.0, abs=0.01)


def test_phase_field_refuses_a_nearly_insulating_solid(tmp_path):
    data = json.loads(json.dumps(SKELETON))
    data["geometry"]["mesh_skeleton"] = True
    data["materials"]["skeleton"] = {"type": "solid_electrolyte", "conductivity": "1e-6 S/m", "regions": ["skeleton"]}
    r = cli("check", str(write(tmp_path, data)))
    assert r.returncode == 2 and "materials.skeleton.conductivity" in r.stderr and "mesh_skeleton" in r.stderr
    assert "Traceback" not in r.stderr
