"""Chart PNGs: the service's own PNG writer against Pillow's decoder, and the AGP PNG as drawn
for a request (kept background, the patient's shapes over it, texts set by Pillow) against a
whole matplotlib draw of the same figure: the same picture."""

from __future__ import annotations

import io

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays
from PIL import Image, ImageDraw

from app.analytics import chart_drawing
from app.analytics.chart_drawing import AgpSpec

HOURS = np.array([*range(0, 1440, 5), 1440], dtype=np.float64) / 60.0
MEDIAN = 7.0 + 2.5 * np.sin(HOURS / 24.0 * 2.0 * np.pi)


def _spec(language: str) -> AgpSpec:
    # The bands cross both edges of the target range and the axes' frame.
    chinese = language == "zh"
    return AgpSpec(
        heading="王小明  2026-11-23 至 2026-12-06（14 天）"
        if chinese
        else "Wang Xiaoming  2026-11-23 to 2026-12-06 (14 days)",
        tir_title="目标范围内时间" if chinese else "Time in ranges",
        band_labels=tuple(
            f"{name}  {share:.1f}%"
            for name, share in zip(
                ("很低", "低", "目标范围", "高", "很高")
                if chinese
                else ("Very low", "Low", "In range", "High", "Very high"),
                (1.2, 3.4, 70.1, 19.0, 6.3),
                strict=True,
            )
        ),
        shares=(1.2, 3.4, 70.1, 19.0, 6.3),
        facts="\n".join(
            ("平均葡萄糖 8.1 mmol/L", "GMI 6.9%", "CV 33.0%", "有数据 14/14 天", "数据充足")
            if chinese
            else ("Mean glucose 8.1 mmol/L", "GMI 6.9%", "CV 33.0%", "Data on 14/14 days", "")
        ),
        title="动态葡萄糖图谱 (AGP)" if chinese else "Ambulatory glucose profile (AGP)",
        legend=("5%–95%", "25%–75%", "中位数" if chinese else "Median"),
        y_label="葡萄糖 (mmol/L)" if chinese else "Glucose (mmol/L)",
        x_label="时间" if chinese else "Time of day",
        hours=HOURS,
        percentiles=np.vstack([MEDIAN - 4, MEDIAN - 1.5, MEDIAN, MEDIAN + 1.5, MEDIAN + 5]),
    )


@settings(max_examples=60, deadline=None)
@given(
    st.integers(1, 40).flatmap(
        lambda height: st.integers(1, 40).flatmap(
            lambda width: arrays(np.uint8, (height, width, 3))
        )
    )
)
def test_a_png_decodes_to_its_pixels(pixels) -> None:
    png = chart_drawing._png_bytes(pixels)
    checked = Image.open(io.BytesIO(png))
    checked.verify()  # chunk checksums, structure
    decoded = Image.open(io.BytesIO(png))
    assert decoded.format == "PNG" and decoded.mode == "RGB"
    assert np.array_equal(np.asarray(decoded), pixels)


@settings(max_examples=200, deadline=None)
@given(
    line=st.text(
        st.sampled_from("葡萄糖目标范围内时间 Glucose 8.1%/()gjpqy"), min_size=1, max_size=14
    ),
    size_px=st.floats(8, 24),
    x=st.floats(-30, 150),
    y=st.floats(-10, 70),
    colour=st.sampled_from(["#000000", "#2e9e49", "#e53935"]),
)
def test_a_line_set_on_its_tile_is_the_line_set_on_the_whole_image(
    line, size_px, x, y, colour
) -> None:
    # Against Pillow setting the same line on an image of the whole canvas: any sub-pixel
    # place, lines running off every edge, on a background that is not blank.
    background = np.fromfunction(
        lambda row, column, channel: (row * 7 + column * 3 + channel * 50) % 256, (60, 120, 4)
    ).astype(np.uint8)
    font = chart_drawing._pillow_font(size_px)
    whole = Image.fromarray(background[:, :, :3].copy())
    ImageDraw.Draw(whole).text((x, y), line, font=font, fill=colour, anchor="ls")
    pixels = background.copy()
    chart_drawing._set_line(pixels, line, font, colour, (x, y), font.getbbox(line, anchor="ls"))
    assert np.array_equal(pixels[:, :, :3], np.asarray(whole))
    assert np.array_equal(pixels[:, :, 3], background[:, :, 3])


def test_a_chart_png_is_no_larger_than_pillows() -> None:
    image = Image.open(io.BytesIO(chart_drawing.render(_spec("zh"), "png")))
    ours = chart_drawing._png_bytes(np.asarray(image.convert("RGB")))
    pillows = io.BytesIO()
    image.save(pillows, format="png", compress_level=1)
    assert len(ours) <= len(pillows.getvalue())


def _grey(png: bytes) -> np.ndarray:
    return np.asarray(Image.open(io.BytesIO(png)).convert("L"), dtype=np.int16)


def _ink(grey: np.ndarray, box: tuple[int, int, int, int]) -> tuple[float, float, float]:
    """Amount of ink in a box (top, bottom, left, right) and its centre (row, column)."""
    top, bottom, left, right = box
    ink = 255 - grey[top:bottom, left:right].astype(np.float64)
    rows, columns = np.mgrid[top:bottom, left:right]
    return ink.sum(), (ink * rows).sum() / ink.sum(), (ink * columns).sum() / ink.sum()


@pytest.mark.parametrize("language", ["zh", "en"])
def test_an_agp_png_is_the_picture_of_a_whole_draw(language) -> None:
    spec = _spec(language)
    drawn = _grey(chart_drawing.render(spec, "png"))
    agp = chart_drawing._agp_figure()
    with chart_drawing.drawing():
        whole = _grey(chart_drawing.encode(agp.figure, "png"))
        renderer = agp.figure.canvas.get_renderer()
        boxes = [text.get_window_extent(renderer) for text in agp.texts]
    assert drawn.shape == whole.shape
    height = whole.shape[0]
    # The plot: the same pixels (the target range's edges and the frame over the bands).
    left, bottom, right, top = agp.median.axes.bbox.extents
    plot = np.s_[int(height - top) - 1 : int(height - bottom) + 2, int(left) - 1 : int(right) + 2]
    assert np.abs(drawn[plot] - whole[plot]).max() <= 8
    # Each text where matplotlib sets it, as large and as dark (another rasteriser: its glyph
    # advances round differently, so a long Latin line's ink sits up to ~2 px along).
    for box in boxes:
        region = (
            int(height - box.y1) - 3,
            int(height - box.y0) + 3,
            int(box.x0) - 3,
            int(box.x1) + 3,
        )
        ink, row, column = _ink(drawn, region)
        whole_ink, whole_row, whole_column = _ink(whole, region)
        assert 0.85 < ink / whole_ink < 1.15
        assert abs(row - whole_row) < 1.5 and abs(column - whole_column) < 2.5
    assert (np.abs(drawn - whole) > 64).mean() < 0.01
