"""mesh.save writes a mesh that mesh.load reuses (same results); a mismatch is refused."""

import pytest

from solver._dolfinx import MPI
from solver.errors import UserError
from tests.util_scenarios import bud_scenario, solve

R = 1e-6


@pytest.mark.mpi
def test_save_then_load_gives_same_metrics(tmp_path):
    path = str(tmp_path / "bud.msh")
    path = MPI.COMM_WORLD.bcast(path, root=0)
    raw = bud_scenario("axisymmetric", 2 * R, R, 10 * R, 10 * R, R / 4, R, 3 * R, order=1, degree=1)
    raw["mesh"]["save"] = path
    first = solve(raw)
    raw["mesh"].pop("save")
    raw["mesh"]["load"] = path
    again = solve(raw)
    assert again["cells"] == first["cells"]
    assert again["tip_over_far"] == pytest.approx(first["tip_over_far"], rel=1e-10)

    raw["geometry"]["bud"]["height"] = 1.5 * R
    with pytest.raises(UserError, match="other geometry parameters"):
        solve(raw)


def test_load_missing_file_is_a_validation_error(tmp_path):
    raw = bud_scenario("2d", R, R, 10 * R, 10 * R, R / 4, R, 3 * R)
    raw["mesh"]["load"] = str(tmp_path / "nope.msh")
    from solver.scenario import cases_from_dict

    with pytest.raises(UserError, match="mesh: load: no such file"):
        cases_from_dict(raw)
