"""docs/API.md, the repository's copy of the public contract, names every public
name; the README links it and speaks to users (no issue numbers, no paths outside
the repository)."""
import re
from pathlib import Path

import pytest

import fastgrad

ROOT = Path(__file__).resolve().parent.parent
API = (ROOT / "docs" / "API.md").read_text(encoding="utf-8")
README = (ROOT / "README.md").read_text(encoding="utf-8")


@pytest.mark.parametrize("name", fastgrad.__all__)
def test_every_public_name_is_in_docs_api(name):
    assert re.search(rf"\bfastgrad\.{re.escape(name)}\b", API), (
        f"fastgrad.{name} is in fastgrad.__all__ but not in docs/API.md")


def test_every_name_of_fastgrad_dask_is_in_docs_api():
    pytest.importorskip("dask")
    import fastgrad.dask as fd
    missing = [n for n in fd.__all__ if not re.search(rf"\bfd\.{re.escape(n)}\b", API)]
    assert not missing, f"fastgrad.dask names missing from docs/API.md: {missing}"


def test_readme_links_docs_and_nothing_outside_the_repository():
    assert "docs/API.md" in README
    assert "../" not in README
    assert not re.search(r"\bissue[- ]?#?\d", README, re.IGNORECASE)
    for target in re.findall(r"\]\(([^)#]+)\)", README):
        if "://" not in target:
            assert (ROOT / target).exists(), f"README links {target}, which does not exist"
