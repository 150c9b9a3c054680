"""The page check that every report and app passes finds what it is meant to find."""

from __future__ import annotations

from tests.pages import check_at_both_sizes

BROKEN = """<!doctype html><meta charset="utf-8"><body style="font:14px sans-serif">
<div style="position:absolute;top:10px;left:10px">在网用户数 Active subscribers</div>
<div style="position:absolute;top:14px;left:60px">环比 MoM +0.3%</div>
<table style="position:absolute;top:80px"><tr><th>churn_probability</th><th>流失概率</th></tr>
<tr><td>0.264866</td><td>26.5%</td></tr><tr><td>revenue_cny</td><td>¥12</td></tr></table>
<pre class="output_stderr" style="position:absolute;top:200px">WARNING: Using incubator</pre>
</body>"""

CLEAN = """<!doctype html><meta charset="utf-8"><body style="font:14px sans-serif">
<div>在网用户数 Active subscribers</div><div>环比 MoM +0.3%</div>
<table><tr><th>流失概率 Churn risk</th><th>分群 Segment</th></tr>
<tr><td>26.5%</td><td>high_value</td></tr></table></body>"""


def test_overlaps_raw_names_raw_floats_and_stderr_are_found(browser, tmp_path):
    broken = tmp_path / "broken.html"
    broken.write_text(BROKEN, encoding="utf-8")
    found = check_at_both_sizes(browser, broken.as_uri())
    assert set(found) == {"1366x768", "1920x1080"}
    problems = " | ".join(found["1366x768"])
    assert '"在网用户数 Active subscribers" overlaps "环比 MoM +0.3%"' in problems
    assert 'raw column name "churn_probability"' in problems  # a header
    assert 'raw column name "revenue_cny"' in problems  # a catalog column shown as a value
    assert 'unformatted number "0.264866"' in problems
    assert "1 stderr or error box(es)" in problems
    # a data code such as the segment "high_value" is not a column name; nothing else is wrong
    clean = tmp_path / "clean.html"
    clean.write_text(CLEAN, encoding="utf-8")
    assert check_at_both_sizes(browser, clean.as_uri()) == {}
