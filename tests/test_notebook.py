"""The example notebook runs top to bottom (nbclient, a real kernel)."""

from __future__ import annotations

import os

import pytest

NOTEBOOK = os.path.join(os.path.dirname(__file__), "..", "examples", "cluster.ipynb")


def test_the_example_notebook_executes() -> None:
    nbformat = pytest.importorskip("nbformat", reason="pip install -e '.[test]' brings nbformat")
    nbclient = pytest.importorskip("nbclient", reason="pip install -e '.[test]' brings nbclient")
    pytest.importorskip("matplotlib", reason="the notebook plots: pip install rumor[plot]")
    notebook = nbformat.read(NOTEBOOK, as_version=4)
    client = nbclient.NotebookClient(notebook, timeout=300, kernel_name="python3")
    client.execute()
    outputs = [o for cell in notebook.cells if cell.cell_type == "code" for o in cell.outputs]
    text = "".join(o.get("text", "") for o in outputs)
    assert "9 members heard it once each" in text
    assert "all 999 survivors knew n17 failed" in text
    for scenario in ("join", "crash", "broadcast"):
        assert f"{scenario}: everywhere at t = " in text, "the spread scenarios ran to the end"
    assert any("image/png" in o.get("data", {}) for o in outputs), "the plot was drawn"
    htmls = [o["data"]["text/html"] for o in outputs if "text/html" in o.get("data", {})]
    assert any("rumor.Node" in h and "dead" in h for h in htmls), "the node table shows the crash"
