"""CPU per chart image, drawn in this process as a renderer process draws it (no database, no
HTTP): the AGP PNG and SVG of a 14-day report, and where an AGP PNG's CPU goes (the kept
background and PNG encoding, the patient's shapes, the patient's texts).

    .venv/bin/python -m bench.chart_render [--renders 60]

Each render is of a spec not drawn before (other texts and curves), after a warm-up, as
`chart_drawing.render` runs for a request; CPU is this process's (`time.process_time`).
"""

from __future__ import annotations

import argparse
import os
import time
from collections.abc import Callable

import numpy as np

from app.analytics import chart_drawing
from app.analytics.chart_drawing import AgpSpec

HOURS = np.array([*range(0, 1440, 5), 1440], dtype=np.float64) / 60.0


def agp_spec(n: int) -> AgpSpec:
    """The `n`-th patient's AGP report, in Chinese: every text and curve differs from the
    previous patient's."""
    median = 7.0 + 2.5 * np.sin(HOURS / 24.0 * 2.0 * np.pi + n / 7.0)
    shares = (1.0 + n % 3, 3.0, 70.0 - n % 9, 19.0 + n % 9 - n % 3, 7.0)
    return AgpSpec(
        heading=f"患者{n:05d}  2026-11-{1 + n % 20:02d} 至 2026-12-06（14 天）",
        tir_title="目标范围内时间",
        band_labels=tuple(
            f"{name}  {share:.1f}%"
            for name, share in zip(("很低", "低", "目标范围", "高", "很高"), shares, strict=True)
        ),
        shares=shares,
        facts="\n".join(
            (
                f"平均葡萄糖 {7 + n % 30 / 10:.1f} mmol/L",
                f"GMI {6 + n % 20 / 10:.1f}%",
                f"CV {30 + n % 10:.1f}%",
                f"SD {2 + n % 10 / 10:.1f}",
                f"有效 {90 + n % 10:.1f}%",
                f"有数据 {14 - n % 3}/14 天",
                "数据充足",
            )
        ),
        title="动态葡萄糖图谱 (AGP)",
        legend=("5%–95%", "25%–75%", "中位数"),
        y_label="葡萄糖 (mmol/L)",
        x_label="时间",
        hours=HOURS,
        percentiles=np.vstack([median - 4, median - 1.5, median, median + 1.5, median + 5]),
    )


def cpu_ms(renders: int, start: int, draw: Callable[[AgpSpec], object]) -> float:
    """CPU per call of `draw` over `renders` specs not drawn before (ms)."""
    specs = [agp_spec(start + n) for n in range(renders)]
    began = time.process_time()
    for spec in specs:
        draw(spec)
    return 1000 * (time.process_time() - began) / renders


def main() -> None:
    """Print CPU per AGP PNG and SVG, and the PNG's parts."""
    parser = argparse.ArgumentParser()
    parser.add_argument("--renders", type=int, default=60)
    args = parser.parse_args()
    chart_drawing.warm_up()
    n = args.renders
    cpu_ms(10, 0, lambda spec: chart_drawing.render(spec, "png"))
    png = cpu_ms(n, 10, lambda spec: chart_drawing.render(spec, "png"))
    svg = cpu_ms(n, 10 + n, lambda spec: chart_drawing.render(spec, "svg"))
    load = " ".join(f"{x:.2f}" for x in os.getloadavg())
    print(f"load average {load}; {n} renders each, ms of CPU per render")
    print(f"AGP PNG  {png:6.1f}")
    print(f"AGP SVG  {svg:6.1f}")
    # The PNG's parts: the same renders with the patient's texts, then also its shapes, left out.
    figure = chart_drawing._agp_figure()
    kept = figure.texts, figure.lettering, figure.shapes
    figure.texts, figure.lettering = [], []
    no_texts = cpu_ms(n, 10 + 2 * n, lambda spec: chart_drawing.render(spec, "png"))
    figure.shapes = []
    background = cpu_ms(n, 10 + 3 * n, lambda spec: chart_drawing.render(spec, "png"))
    figure.texts, figure.lettering, figure.shapes = kept
    print(f"  kept background + PNG encoding  {background:6.1f}")
    print(f"  the patient's shapes            {no_texts - background:6.1f}")
    print(f"  the patient's texts (Pillow)    {png - no_texts:6.1f}")


if __name__ == "__main__":
    main()
