"""What a person sees: every notebook run in JupyterLab in Chromium, and the control room played by clicking.

For each notebook: open it, run all cells through JupyterLab's own command, wait until every cell ran, then assert no
error output, every figure output is a picture (a ``<Figure ...>`` text without a PNG is what a missing formatter
looks like), widget views rendered where the notebook has widgets, and no announcement pop-up. In the control room:
press play, see virtual time advance, pick the leader of partition 0 in the node menu and click crash, and see the
partition table, the topology picture and the charts change. Screenshots go to ``tests/browser/output/``.
"""
from __future__ import annotations

import json
import re
import time
from pathlib import Path

import pytest

from tests.browser.conftest import ROOT

NOTEBOOKS = sorted(p.name for p in (ROOT / "notebooks").glob("*.ipynb"))
_RUN_TIMEOUT_S = 300

_STATE_JS = """(name) => {
  const panel = Array.from(window.jupyterapp.shell.widgets('main')).find(w => w.context && w.context.path === name);
  if (!panel || !panel.content || !panel.content.model) { return null; }
  const kernel = panel.sessionContext.session && panel.sessionContext.session.kernel;
  const cells = [];
  for (const cell of panel.content.model.cells) {
    if (cell.type !== 'code') { continue; }
    cells.push({count: cell.executionCount, outputs: cell.outputs.toJSON(),
                source: cell.sharedModel.getSource().slice(0, 80)});
  }
  return {kernel: kernel ? kernel.status : null, cells: cells};
}"""


def _has_widgets(name: str) -> bool:
    nb = json.loads((ROOT / "notebooks" / name).read_text())
    code = "".join("".join(c["source"]) for c in nb["cells"] if c["cell_type"] == "code")
    return any(word in code for word in ("ipywidgets", "ControlRoom", "interact"))


def _open_and_run(browser, lab, name: str):
    page = browser.new_page()
    # a workspace of its own, reset: only this notebook open (a restored tab would take the run-all command)
    page.goto(lab.url(f"lab/workspaces/{Path(name).stem}/tree/{name}", "reset"))
    page.wait_for_function("""(name) => {
      if (!window.jupyterapp) { return false; }
      const panel = Array.from(window.jupyterapp.shell.widgets('main')).find(w => w.context && w.context.path === name);
      const kernel = panel && panel.sessionContext.session && panel.sessionContext.session.kernel;
      return kernel && kernel.status === 'idle';
    }""", arg=name, timeout=120_000)
    page.evaluate("""(name) => {
      const panel = Array.from(window.jupyterapp.shell.widgets('main')).find(w => w.context && w.context.path === name);
      window.jupyterapp.shell.activateById(panel.id);
    }""", name)
    page.evaluate("() => window.jupyterapp.commands.execute('notebook:clear-all-cell-outputs')")
    page.evaluate("() => window.jupyterapp.commands.execute('notebook:run-all-cells')")
    deadline = time.monotonic() + _RUN_TIMEOUT_S
    state = None
    while time.monotonic() < deadline:
        time.sleep(1.0)
        state = page.evaluate(_STATE_JS, name)
        if state and state["kernel"] == "idle" and all(c["count"] is not None for c in state["cells"]):
            time.sleep(1.0)          # let the last display messages render
            state = page.evaluate(_STATE_JS, name)
            if state["kernel"] == "idle":
                break
    else:
        pytest.fail(f"{name}: cells still running after {_RUN_TIMEOUT_S} s: {state}")
    return page, state


def _problems(name: str, state) -> list[str]:
    problems = []
    for cell in state["cells"]:
        for out in cell["outputs"]:
            if out.get("output_type") == "error":
                problems.append(f"error in {cell['source']!r}: {out.get('ename')}: {out.get('evalue')}")
            data = out.get("data", {})
            text = "".join(data.get("text/plain", "")) if isinstance(data.get("text/plain"), list) else \
                data.get("text/plain", "")
            if re.match(r"<(matplotlib\.figure\.)?Figure size", text or "") and "image/png" not in data:
                problems.append(f"a figure shown as text in {cell['source']!r}: {text[:60]}")
    return problems


def _no_popups(page) -> list[str]:
    text = page.inner_text("body")
    return [m for m in ("official Jupyter news", "Would you like to receive", "update available")
            if m.lower() in text.lower()]


def _shutdown(page, name: str) -> None:
    page.evaluate("""(name) => Array.from(window.jupyterapp.shell.widgets('main'))
      .find(w => w.context && w.context.path === name).sessionContext.shutdown()""", name)
    page.close()


@pytest.mark.parametrize("name", [n for n in NOTEBOOKS if not n.startswith("06_")])
def test_notebook_runs_in_jupyterlab_and_shows_pictures(browser, lab, output_dir, name):
    page, state = _open_and_run(browser, lab, name)
    try:
        assert _problems(name, state) == []
        images = page.locator(".jp-OutputArea-output img").count()
        figures = sum(1 for c in state["cells"] for o in c["outputs"] if "image/png" in o.get("data", {}))
        assert images >= figures, f"{name}: {figures} PNG outputs but {images} <img> elements in the page"
        if _has_widgets(name):
            page.wait_for_selector(".jp-OutputArea-output .widget-box, .jp-OutputArea-output .jupyter-widgets",
                                   timeout=30_000)
            assert "Error displaying widget" not in page.inner_text(".jp-Notebook")
        assert _no_popups(page) == []
        if images:
            page.locator(".jp-OutputArea-output img").first.scroll_into_view_if_needed()
            time.sleep(1.0)
        page.screenshot(path=str(output_dir / f"{Path(name).stem}.png"), full_page=False)
    finally:
        _shutdown(page, name)


def _table_leader(room) -> str:
    return room.locator(".room-table tbody tr").first.locator("td").nth(1).inner_text().strip()


def _clock(room) -> float:
    return float(re.search(r"t = ([0-9.]+) s", room.locator(".room-status").inner_text()).group(1))


def test_control_room_plays_and_a_click_crashes_the_leader(browser, lab, output_dir):
    page, state = _open_and_run(browser, lab, "06_control_room.ipynb")
    try:
        assert _problems("06_control_room.ipynb", state) == []
        room = page.locator(".kafkalab-room").first
        room.wait_for(timeout=30_000)
        room.scroll_into_view_if_needed()
        assert room.locator(".room-topology").count() == 1 and room.locator("svg.room-chart").count() == 6
        room.screenshot(path=str(output_dir / "control_room_before.png"))
        t0 = _clock(room)
        room.locator(".room-play").click()
        time.sleep(4.0)
        t1 = _clock(room)
        assert t1 > t0 + 1.0, f"virtual time did not advance while playing: {t0} -> {t1}"
        leader = _table_leader(room)
        table = room.locator(".room-table").inner_html()
        topology = room.locator(".room-topology").get_attribute("src")
        charts = room.locator(".room-charts-widget").inner_html()
        room.locator(".room-node select").select_option(label=f"broker {leader}")
        room.locator(".room-crash").click()
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline and _table_leader(room) == leader:
            time.sleep(0.5)
        new_leader = _table_leader(room)
        assert new_leader != leader, f"partition 0 still led by crashed broker {leader}"
        time.sleep(3.0)
        status = room.locator(".room-status").inner_text()
        room.screenshot(path=str(output_dir / "control_room.png"))
        assert room.locator(".room-table").inner_html() != table
        assert room.locator(".room-topology").get_attribute("src") != topology
        assert room.locator(".room-charts-widget").inner_html() != charts
        assert "crash" in room.inner_text()
        fps = re.search(r"([0-9.]+) frames/s", status)
        (output_dir / "control_room.json").write_text(json.dumps(
            {"leader_before": leader, "leader_after": new_leader, "status": status,
             "frames_per_s": float(fps.group(1)) if fps else None}, indent=1))
        room.locator(".room-play").click()                      # pause
        assert _no_popups(page) == []
    finally:
        _shutdown(page, "06_control_room.ipynb")
