"""README.md's Python example runs as written (in a fresh interpreter, from an empty folder)."""

import os
import re

from conftest import ROOT, run_python


def _python_blocks(section):
    with open(os.path.join(ROOT, "README.md")) as f:
        text = f.read()
    m = re.search(rf"^## {section}\n(.*?)(?=^## )", text, re.S | re.M)
    assert m, f"README.md has no '## {section}' section"
    return re.findall(r"```python\n(.*?)```", m.group(1), re.S)


def test_readme_python_example_runs(tmp_path):
    blocks = _python_blocks("Python")
    assert blocks, "no ```python block in README's Python section"
    for code in blocks:
        p = run_python(["-c", code], cwd=tmp_path)
        assert p.returncode == 0, f"README example failed:\n{code}\n{p.stderr}"
        m = re.search(r"return (-?[0-9.]+)", p.stdout)
        assert m and float(m.group(1)) > -1000, p.stdout   # controlled: a random policy gets ~-1200
