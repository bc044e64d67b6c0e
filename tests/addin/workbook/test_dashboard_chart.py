"""The Dashboard's closest-to-liquidation chart: one bar per position in its level's colour,
its value written at the bar (a 1.7% bar is short, its label is not)."""

from __future__ import annotations

from addin.workbook import builder, layout


def test_closest_chart_draws_each_level_in_its_colour_with_values() -> None:
    wb = builder.build_workbook(layout.TEMPLATES["credit-risk-assessment"])
    charts = wb[layout.DASHBOARD.title]._charts
    spec = next(c for c in layout.DASHBOARD.charts if c.key == "closest")
    chart = next(c for c in charts if c.title is not None and spec.title in str(
        c.title.tx.rich.p[0].r[0].t))
    table = layout.DASHBOARD.table("closest")
    refs = [str(s.val.numRef.f) for s in chart.series]
    for level, ref in zip(layout.LEVEL_COLOURS, refs, strict=True):
        letter = table.column_letter(f"{level}_distance")
        assert ref.endswith(f"${letter}${table.first_row}:${letter}${table.last_row}")
    colours = [s.graphicalProperties.solidFill.srgbClr for s in chart.series]
    assert colours == list(layout.LEVEL_COLOURS.values())
    assert chart.grouping == "stacked" and chart.overlap == 100  # one bar per row
    assert chart.dataLabels.showVal and not chart.dataLabels.showCatName
    assert chart.x_axis.scaling.orientation == "maxMin"  # the most urgent at the top
