"""What a manager must never see on a page, checked in a real browser: text boxes that overlap,
a raw column name or an unformatted float where a figure should be, a stderr box or a
traceback. Used on every subject report and on the apps (their tests call it)."""

from __future__ import annotations

#: the sizes managers read pages at (a laptop, a desktop)
VIEWPORTS = ((1366, 768), (1920, 1080))

# Runs in the page. Text boxes: elements outside charts (SVG) with text of their own, visible.
# Two boxes overlap when their rectangles intersect by more than 2 px each way (sub-pixel
# rounding and borders shared by neighbouring cells are not overlaps).
_PROBLEMS_JS = r"""
(columns) => {
  const known = new Set(columns);
  const problems = [];
  const boxes = [];
  const ownText = e => [...e.childNodes]
    .filter(n => n.nodeType === Node.TEXT_NODE)
    .map(n => n.textContent.trim()).join(' ').trim();
  for (const e of document.body.querySelectorAll('*')) {
    if (e.closest('svg, script, style, noscript, .js-plotly-plot')) continue;
    const text = ownText(e);
    if (!text) continue;
    const style = getComputedStyle(e);
    if (style.visibility === 'hidden' || style.display === 'none') continue;
    const r = e.getBoundingClientRect();
    if (r.width < 1 || r.height < 1) continue;
    boxes.push({e, text, r});
    // a float nobody formatted: four or more decimals
    if (/^-?\d[\d,]*\.\d{4,}$/.test(text)) problems.push(`unformatted number "${text}"`);
    // a column name where a header, a label or a figure's name should be (a code such as the
    // segment "high_value" is data, not a column name)
    const snake = /^[a-z]+(_[a-z0-9]+)+$/.test(text);
    if ((snake && ['TH', 'LABEL', 'H1', 'H2', 'H3', 'H4'].includes(e.tagName)) || known.has(text))
      problems.push(`raw column name "${text}"`);
  }
  for (let i = 0; i < boxes.length; i++) {
    for (let j = i + 1; j < boxes.length; j++) {
      const a = boxes[i], b = boxes[j];
      if (a.e.contains(b.e) || b.e.contains(a.e)) continue;
      const dx = Math.min(a.r.right, b.r.right) - Math.max(a.r.left, b.r.left);
      const dy = Math.min(a.r.bottom, b.r.bottom) - Math.max(a.r.top, b.r.top);
      if (dx > 2 && dy > 2)
        problems.push(`"${a.text.slice(0, 40)}" overlaps "${b.text.slice(0, 40)}"`);
    }
  }
  const errors = document.querySelectorAll(
    '.output_stderr, [data-mime-type="application/vnd.jupyter.stderr"], '
    + '.jp-OutputArea-output.jp-mod-error');
  if (errors.length) problems.push(`${errors.length} stderr or error box(es)`);
  if (document.body.innerText.includes('Traceback')) problems.push('a traceback');
  return problems;
}
"""


def column_names() -> list[str]:
    """Every column name of the catalog's tables (with an underscore: one-word names such as
    ``month`` read as words)."""
    from workbench.catalog import tables

    return sorted({c.name for t in tables() for c in t.columns if "_" in c.name})


def page_problems(page) -> list[str]:
    """Everything wrong with the page as shown now (empty: nothing)."""
    return page.evaluate(_PROBLEMS_JS, column_names())


def check_at_both_sizes(browser, url: str) -> dict[str, list[str]]:
    """:func:`page_problems` of ``url`` at each of :data:`VIEWPORTS`, by size; only the sizes
    with problems. The page is loaded once, at the first size, and resized (a report's layout
    follows the window's width as it does on load; a second load cost the browser as much
    again, a report's plotly.js parsed twice)."""
    width, height = VIEWPORTS[0]
    context = browser.new_context(viewport={"width": width, "height": height})
    try:
        tab = context.new_page()
        tab.goto(url)
        tab.wait_for_load_state("load")
        return open_page_at_both_sizes(tab)
    finally:
        context.close()


def open_page_at_both_sizes(page) -> dict[str, list[str]]:
    """:func:`page_problems` of an open page (an app as the test left it) at each of
    :data:`VIEWPORTS`, by size; only the sizes with problems."""
    found = {}
    for width, height in VIEWPORTS:
        page.set_viewport_size({"width": width, "height": height})
        page.wait_for_timeout(500)  # the widgets' layout follows the new width
        problems = page_problems(page)
        if problems:
            found[f"{width}x{height}"] = problems
    return found
