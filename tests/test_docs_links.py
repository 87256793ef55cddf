"""README.md and docs/: every relative link resolves to a file or folder of the repository, and
no page names a path of one particular machine (commands say $MNIST_DIR for the MNIST files)."""

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").rglob("*.md")),
         *sorted((ROOT / "results").glob("*.md"))]
LINK = re.compile(r"\[[^\]]*\]\(([^)\s]+)\)")
MACHINE_PATHS = re.compile(r"(/work/|/root/|/home/|\.\./shared/)")


def relative_links(page: Path) -> list[str]:
    targets = LINK.findall(page.read_text())
    return [t for t in targets if not re.match(r"^(https?:|mailto:|#)", t)]


@pytest.mark.parametrize("page", PAGES, ids=lambda p: str(p.relative_to(ROOT)))
def test_every_relative_link_resolves(page):
    missing = [t for t in relative_links(page)
               if not (page.parent / t.split("#")[0]).resolve().exists()]
    assert not missing, f"{page.relative_to(ROOT)}: links to nothing: {missing}"


@pytest.mark.parametrize("page", PAGES, ids=lambda p: str(p.relative_to(ROOT)))
def test_no_page_names_a_path_outside_the_repository(page):
    hits = [line.strip() for line in page.read_text().splitlines() if MACHINE_PATHS.search(line)]
    assert not hits, f"{page.relative_to(ROOT)}: {hits}"


def test_the_link_check_sees_a_broken_link(tmp_path):
    page = tmp_path / "page.md"
    page.write_text("[ok](page.md) [gone](nothing.md#x) [web](https://example.org) [a](#b)")
    assert relative_links(page) == ["page.md", "nothing.md#x"]
