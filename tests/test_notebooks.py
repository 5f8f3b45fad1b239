"""Every notebook runs top to bottom (nbclient), so none of them rots."""

import pathlib

import nbformat
import pytest
from nbclient import NotebookClient

pytestmark = pytest.mark.integration  # a Jupyter kernel per notebook

NOTEBOOKS = sorted((pathlib.Path(__file__).resolve().parents[1] / "notebooks").glob("*.ipynb"))


# CI (`make test-integration`) runs the quickstart; `make test-slow` the other two (2-5 min each)
@pytest.mark.parametrize("path", [path if path.name == "quickstart.ipynb" else
                                  pytest.param(path, marks=pytest.mark.slow)
                                  for path in NOTEBOOKS], ids=lambda p: p.name)
def test_notebook_runs(path, tmp_path, request):
    notebook = nbformat.read(path, as_version=4)
    if "load_mr(" in "".join(cell.source for cell in notebook.cells):
        request.getfixturevalue("shared_data_dir")  # MR offline, else skipped
    NotebookClient(notebook, timeout=600, kernel_name="python3",
                   resources={"metadata": {"path": str(tmp_path)}}).execute()
    outputs = "".join(out.get("text", "") + str(out.get("data", {}).get("text/plain", ""))
                      for cell in notebook.cells if cell.cell_type == "code"
                      for out in cell.get("outputs", []))
    assert "test_accuracy" in outputs
    assert not [out for cell in notebook.cells for out in cell.get("outputs", [])
                if out.get("output_type") == "error"]


def test_the_three_notebooks_are_there():
    assert {"quickstart.ipynb", "own_data.ipynb", "custom_space.ipynb"} <= {
        p.name for p in NOTEBOOKS}
