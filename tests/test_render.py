"""Pictures of an output folder: solver.render.render_folder and ``run.py render``."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
import yaml
from PIL import Image

from solver import render
from solver.cli import main

ROOT = Path(__file__).resolve().parents[1]
SCENARIO = str(ROOT / "scenarios" / "default.yaml")
COARSE = [
    "--set", "mesh.size_far=6 um",
    "--set", "mesh.size_electrode=1 um",
    "--set", "mesh.size_feature=0.2 um",
]


def _run(folder: Path, *overrides: str) -> Path:
    rc = main(["run", SCENARIO, "--no-pictures", "-q", "-o", str(folder), *COARSE, *overrides])
    assert rc == 0
    return folder


@pytest.fixture(scope="module")
def axi_folder(tmp_path_factory) -> Path:
    """The default scenario (bare and bto, axisymmetric), coarse."""
    return _run(tmp_path_factory.mktemp("render") / "axi")


@pytest.fixture(scope="module")
def single_2d_folder(tmp_path_factory) -> Path:
    """One case (no variants), 2D: files at the top level of the folder."""
    return _run(tmp_path_factory.mktemp("render") / "single", "--set", "variants=null",
                "--set", "geometry.dimension=2d")


def assert_picture(path: Path, min_std: float = 15.0) -> None:
    """A non-empty PNG that is not blank: the pixels vary and not all are background."""
    assert path.is_file() and path.stat().st_size > 0, path
    with Image.open(path) as img:
        assert img.format == "PNG"
        width, height = img.size
        assert 300 <= width <= 2600 and 300 <= height <= 1600, (path, img.size)
        grey = np.asarray(img.convert("L"), dtype=float)
    assert grey.std() > min_std, (path, grey.std())
    assert (grey < 240).mean() > 0.05, path  # more than a white page with a title


def test_render_folder_two_cases(axi_folder):
    paths = render.render_folder(axi_folder)
    names = {p.name for p in paths}
    assert names == {
        "bare_potential.png", "bare_current.png", "bto_potential.png", "bto_current.png",
        "electrode_current.png", "comparison.png",
    }
    for path in paths:
        assert path.parent == axi_folder / "pictures"
        assert_picture(path)
    # the maps carry colour, not just lines
    with Image.open(axi_folder / "pictures" / "comparison.png") as img:
        rgb = np.asarray(img.convert("RGB"), dtype=float)
    assert (rgb.max(axis=2) - rgb.min(axis=2)).mean() > 20


def test_cli_render_single_2d_case(single_2d_folder, capsys):
    (case,) = json.loads((single_2d_folder / "metrics.json").read_text())["cases"]
    assert (single_2d_folder / "fields.vtkhdf").exists()
    assert main(["render", str(single_2d_folder)]) == 0
    printed = capsys.readouterr().out.split()
    pictures = single_2d_folder / "pictures"
    expected = {f"{case}_potential.png", f"{case}_current.png", "electrode_current.png"}
    assert {Path(p).name for p in printed} == expected
    assert {p.name for p in pictures.iterdir()} == expected  # no comparison for one case
    for name in expected:
        assert_picture(pictures / name)


def test_cli_render_rejects_a_folder_without_metrics(tmp_path):
    assert main(["render", str(tmp_path)]) == 2


def test_missing_fields_are_skipped(axi_folder, tmp_path):
    """outputs.fields = false leaves metrics only: nothing to draw, and no error."""
    folder = tmp_path / "nofields"
    folder.mkdir()
    for name in ("metrics.json", "scenario.resolved.yaml"):
        shutil.copy(axi_folder / name, folder / name)
    for case in ("bare", "bto"):
        (folder / case).mkdir()
        shutil.copy(axi_folder / case / "metrics.json", folder / case / "metrics.json")
    assert render.render_folder(folder) == []
    assert not (folder / "pictures").exists()
    # with the electrode CSV of one case only: just the profile along the electrode
    shutil.copy(axi_folder / "bto" / "electrode_current.csv", folder / "bto" / "electrode_current.csv")
    paths = render.render_folder(folder)
    assert [p.name for p in paths] == ["electrode_current.png"]
    assert_picture(paths[0])


def test_3d_slice_of_a_synthetic_folder(tmp_path):
    """A 3D folder made without a solver: linear tetrahedra, a bump on the electrode."""
    pv = render.pv
    um = 1e-6
    box = pv.ImageData(dimensions=(9, 9, 9), spacing=(1.0, 1.0, 1.0), origin=(-4.0, -4.0, 0.0))
    grid = box.cast_to_unstructured_grid().triangulate()
    pts = np.asarray(grid.points).copy()
    bump = 1.5 * np.exp(-(pts[:, 0] ** 2 + pts[:, 1] ** 2) / 2.0)
    pts[:, 2] = bump + pts[:, 2] * (8.0 - bump) / 8.0  # electrode z = bump(x, y), counter z = 8
    grid.points = pts * um
    grid.point_data["electrolyte_potential"] = -1e-3 * (8.0 - pts[:, 2]) / 8.0
    grid.point_data["plating_current_density"] = np.where(pts[:, 2] <= bump + 1e-9, 10.0, 0.0)
    centres = np.asarray(grid.cell_centers().points) / um
    vec = np.zeros((grid.n_cells, 3))
    vec[:, 2] = -10.0 * (1 + 0.2 * np.exp(-(centres[:, 0] ** 2 + centres[:, 1] ** 2)))
    grid.cell_data["current_density"] = vec
    grid.cell_data["current_density_magnitude"] = np.linalg.norm(vec, axis=1)
    grid.cell_data["conductivity"] = np.ones(grid.n_cells)
    grid.cell_data["region"] = np.where(centres[:, 2] < 4.0, 2, 1).astype(np.int32)
    grid.field_data["region_names"] = np.array(["1=electrolyte", "2=coating"])
    grid.save(str(tmp_path / "fields.vtkhdf"))
    bottom = pts[:, 2] <= bump + 1e-9
    rows = ["x_m,y_m,z_m,boundary,plating_current_density_A_m2"]
    for x, y, z in pts[bottom] * um:
        rows.append(f"{x:.9e},{y:.9e},{z:.9e},{'bud' if z > 0.5 * um else 'flat'},{10.0 + 5 * z / um:.9e}")
    (tmp_path / "electrode_current.csv").write_text("\n".join(rows) + "\n")
    metrics = {"case": "synthetic", "tip_over_far": 1.5, "wagner_number": 2.0, "model": "secondary",
               "electrode": {"all": {"max_over_mean": 1.2}}}
    (tmp_path / "metrics.json").write_text(json.dumps({"source": "test", "cases": {"synthetic": metrics}}))
    scenario = {"name": "synthetic", "geometry": {"dimension": "3d", "bud": {"height": 1.5 * um,
                "base_radius": 2 * um, "count": 1}, "coating": {"thickness": 4 * um}}}
    (tmp_path / "scenario.resolved.yaml").write_text(yaml.safe_dump(scenario))

    paths = render.render_folder(tmp_path)
    assert {p.name for p in paths} == {
        "synthetic_potential.png", "synthetic_current.png", "electrode_current.png",
    }
    for path in paths:
        assert_picture(path)
    sec = render._section(render._read_cases(tmp_path)[0])
    assert sec.xlabel == "x (µm)" and sec.ylabel == "z (µm)"
    assert sec.apex == pytest.approx((0.0, 1.5))
    assert len(sec.electrode_path) > 2 and sec.interface.n_points > 0


@pytest.fixture(scope="module")
def piezo_folder(tmp_path_factory) -> Path:
    """The BTO piezo scenario, coarse, without the passive case: bare (no layer), piezo_up and
    piezo_down (layer.vtkhdf each)."""
    folder = tmp_path_factory.mktemp("render") / "piezo"
    rc = main(["run", str(ROOT / "scenarios" / "bud_bto_piezo.yaml"), "--no-pictures", "-q", "-o", str(folder),
               *COARSE, "--set", "variants.passive=null"])
    assert rc == 0
    return folder


def _blue_red(path: Path) -> tuple[float, float]:
    """Fractions of clearly blue and clearly red pixels."""
    with Image.open(path) as img:
        rgb = np.asarray(img.convert("RGB"), dtype=float)
    return float((rgb[..., 2] - rgb[..., 0] > 60).mean()), float((rgb[..., 0] - rgb[..., 2] > 60).mean())


def test_piezo_pictures(piezo_folder):
    assert not (piezo_folder / "bare" / "layer.vtkhdf").exists()
    paths = render.render_folder(piezo_folder)
    names = {p.name for p in paths}
    assert {"piezo_up_piezo.png", "piezo_down_piezo.png", "piezo_comparison.png"} <= names
    assert "bare_piezo.png" not in names
    assert not (piezo_folder / "pictures" / "bare_piezo.png").exists()
    for name in ("piezo_up_piezo.png", "piezo_down_piezo.png", "piezo_comparison.png"):
        assert_picture(piezo_folder / "pictures" / name)
    # psi in mV, mirrored like the other maps; poling down reverses it: mostly blue, mostly red
    cases = {c.name: c for c in render._read_cases(piezo_folder)}
    layers = {name: render._layer_section(cases[name], render._section(cases[name]))
              for name in ("piezo_up", "piezo_down")}
    up, down = (np.asarray(layers[n].grid.field_data["psi_range_mV"]) for n in ("piezo_up", "piezo_down"))
    psi_max = cases["piezo_up"].metrics["piezo"]["piezo_potential_max_V"] * 1e3
    assert up[1] == pytest.approx(psi_max) and up == pytest.approx(-down[::-1], rel=1e-6)
    assert render._psi_clim(list(layers.values())) == pytest.approx((-abs(up).max(), abs(up).max()))
    b = layers["piezo_up"].grid.bounds
    assert b[0] == pytest.approx(-b[1]) and layers["piezo_up"].xlabel == "r (µm)"
    blue, red = _blue_red(piezo_folder / "pictures" / "piezo_up_piezo.png")
    assert blue > red
    blue, red = _blue_red(piezo_folder / "pictures" / "piezo_down_piezo.png")
    assert red > blue


def test_piezo_picture_needs_a_layer(piezo_folder, tmp_path):
    """Only cases with layer.vtkhdf get a piezo map; one such case: no piezo comparison."""
    metrics = json.loads((piezo_folder / "metrics.json").read_text())
    metrics["cases"] = {k: v for k, v in metrics["cases"].items() if k in ("piezo_up", "piezo_down")}
    (tmp_path / "metrics.json").write_text(json.dumps(metrics))
    shutil.copy(piezo_folder / "scenario.resolved.yaml", tmp_path / "scenario.resolved.yaml")
    shutil.copytree(piezo_folder / "piezo_up", tmp_path / "piezo_up")
    shutil.copytree(piezo_folder / "piezo_down", tmp_path / "piezo_down",
                    ignore=shutil.ignore_patterns("layer.vtkhdf"))
    names = {p.name for p in render.render_folder(tmp_path)}
    assert {"piezo_up_piezo.png", "piezo_up_potential.png", "piezo_down_potential.png"} <= names
    assert sorted(p.name for p in (tmp_path / "pictures").glob("*piezo.png")) == ["piezo_up_piezo.png"]
    assert not (tmp_path / "pictures" / "piezo_comparison.png").exists()
    assert_picture(tmp_path / "pictures" / "piezo_up_piezo.png")
