"""The README's Python tour runs as written (a doc that drifts from the code is a bug)."""
import re
from pathlib import Path

README = Path(__file__).resolve().parent.parent / "README.md"


def test_readme_python_blocks_run():
    blocks = re.findall(r"```python\n(.*?)```", README.read_text(), re.S)
    assert blocks, "README has no python blocks"
    namespace = {}
    exec(compile("\n".join(blocks), str(README), "exec"), namespace)
    # The tour's claims, checked: 464 ties to 448 and 465 overflows to NaN under OVF.
    assert [int(c) for c in namespace["codes"]] == [0x7E, 0x7F]
    assert (namespace["bits"] == namespace["bits2"]).all()


def test_readme_names_the_ci_commands():
    text = README.read_text()
    ci = (README.parent / ".ci" / "run").read_text()
    for cmd in ("pip install -e '.[test]' && mxemu gemm --preset b200-mxf8f6f4",
                ". .venv/bin/activate && python -m pytest"):
        assert cmd in text and cmd in ci
