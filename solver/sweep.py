"""The summary of a parameter sweep: a table (CSV and JSON) and plots of metrics vs parameters.

``study.run`` runs the cases; this module only reads their metrics (rank 0). The CSV holds
one row per case (point x variant): the swept parameters in SI units, ``status`` (ok/failed),
the chosen metrics and the error message of failed cases. Numbers are written with 10
significant digits so that the table does not depend on how the cases were spread over MPI
ranks; ``summary.json`` keeps full precision and the timings.
"""

from __future__ import annotations

import csv
import json
import math
import re
from pathlib import Path
from typing import Any

import numpy as np

from solver import units
from solver.output import write_json
from solver.scenario import Case, Plan, Point


def lookup(metrics: dict, dotted: str):
    """``metrics['a']['b']`` for ``'a.b'``; None where absent."""
    node: Any = metrics
    for key in dotted.split("."):
        if not isinstance(node, dict) or key not in node:
            return None
        node = node[key]
    return node


def _parameter_value(point: Point, case: Case, key: str):
    """A parameter's value for a row, in SI: the resolved value (of this case, else of any case of the
    point, e.g. when a variant removes the key), else the value as written."""
    for c in [case, *point.cases]:
        value = c.value(key)
        if value is not None:
            return value
    return point.values.get(key)


def rows(plan: Plan, results: dict) -> list[dict]:
    keys = list(plan.sweep.parameters)
    out = []
    for point in plan.points:
        for case in point.cases:
            m = results[case.label]
            row = {"point": point.label, "variant": case.name}
            row.update({k: _parameter_value(point, case, k) for k in keys})
            row["status"] = "failed" if "error" in m else "ok"
            row.update({name: lookup(m, name) for name in plan.sweep.metrics})
            row["error"] = m.get("error", "")
            out.append(row)
    return out


def _cell(value) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, float):
        return "nan" if math.isnan(value) else f"{value:.10g}"
    if isinstance(value, (list, dict)):
        return json.dumps(value, default=lambda v: f"{v:.10g}" if isinstance(v, float) else str(v))
    return str(value)


def write_summary(folder: Path, plan: Plan, results: dict) -> None:
    table = rows(plan, results)
    with (folder / "summary.csv").open("w", newline="") as fh:
        writer = csv.writer(fh, lineterminator="\n")
        writer.writerow(list(table[0]))
        for row in table:
            writer.writerow([_cell(v) for v in row.values()])
    write_json(folder / "summary.json", {
        "source": plan.source,
        "mode": plan.sweep.mode,
        "parameters": {k: [p.values.get(k) for p in plan.points if k in p.values] for k in plan.sweep.parameters},
        "metrics": plan.sweep.metrics,
        "points": {p.label: p.values for p in plan.points},
        "rows": table,
        "failed": [f"{r['point']}/{r['variant']}" for r in table if r["status"] == "failed"],
        "timings_s": {label: m.get("timings_s") for label, m in results.items()},
    })


# ----------------------------------------------------------------------------- plots
def _axis(values: list) -> tuple[list, str | None, list[str] | None]:
    """Plot coordinates of a parameter's values: (x, unit, category labels or None)."""
    quantities = [units.split(v) for v in values]
    unit = next((q[1] for q in quantities if q), None)
    if unit is not None:
        try:
            return [units.magnitude(v, unit) for v in values], unit, None
        except ValueError:
            pass
    if all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in values):
        return [float(v) for v in values], None, None
    labels = list(dict.fromkeys(str(v) for v in values))
    return [labels.index(str(v)) for v in values], None, labels


def _slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9]+", "_", text).strip("_")


def plot_summary(folder: Path, plan: Plan, results: dict) -> list[Path]:
    """``plots/<metric>_vs_<parameter>.png``: each metric against each swept parameter, one line
    per variant (and per combination of the other parameters in a grid)."""
    from solver.render import _figure, _save

    out = folder / "plots"
    out.mkdir(exist_ok=True)
    written = []
    keys = list(plan.sweep.parameters)
    for key in keys:
        points = [p for p in plan.points if key in p.values]
        x_all, unit, labels = _axis([p.values[key] for p in points])
        x_of = {p.label: x for p, x in zip(points, x_all)}
        others = [k for k in keys if k != key and plan.sweep.mode == "grid"]
        for metric in plan.sweep.metrics:
            series: dict[str, list[tuple[float, float]]] = {}
            failed = 0
            for p in points:
                for case in p.cases:
                    m = results[case.label]
                    y = lookup(m, metric)
                    if "error" in m:
                        failed += 1
                        continue
                    if not isinstance(y, (int, float)) or isinstance(y, bool):
                        continue
                    name = ", ".join([case.name] * (len(p.cases) > 1) + [f"{k}={p.values[k]}" for k in others])
                    series.setdefault(name or metric, []).append((x_of[p.label], float(y)))
            if not series:
                continue
            fig = _figure(8, 5.5)
            ax = fig.add_subplot()
            for k, (name, xy) in enumerate(series.items()):
                xy.sort()
                xs, ys = np.array(xy).T
                ax.plot(xs, ys, "o-" if labels is None else "o", color=f"C{k % 10}", label=name)
            if labels is not None:
                ax.set_xticks(range(len(labels)), labels)
                ax.set_xlim(-0.5, len(labels) - 0.5)
            ax.set_xlabel(f"{key} ({unit})" if unit else key, fontsize=12)
            ax.set_ylabel(metric, fontsize=12)
            ax.grid(True, alpha=0.3)
            title = f"{plan.sweep.mode} sweep of {Path(plan.source).name}"
            ax.set_title(title + (f" ({failed} failed case(s) not shown)" if failed else ""), fontsize=12)
            if len(series) > 1 or next(iter(series)) != metric:
                ax.legend(fontsize=9, frameon=False)
            written.append(_save(fig, out / f"{_slug(metric)}_vs_{_slug(key)}.png"))
    return written
