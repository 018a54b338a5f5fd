"""What a user reads points only at files a clone of the repository has."""

from __future__ import annotations

from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def texts():
    yield from sorted((ROOT / "lossdoc").rglob("*.py"))
    yield ROOT / "README.md"
    yield from sorted((ROOT / "docs").glob("*.md"))
    yield from sorted((ROOT / "benchmarks").glob("*"))


def test_nothing_points_at_the_projects_own_design_notes():
    for path in texts():
        if path.is_file():
            assert "DESIGN.md" not in path.read_text(encoding="utf-8"), path


def test_the_package_never_points_outside_the_clone():
    for path in sorted((ROOT / "lossdoc").rglob("*.py")):
        assert "../shared" not in path.read_text(encoding="utf-8"), path


def test_the_benchmarks_say_the_shared_corpus_is_not_shipped():
    text = (ROOT / "benchmarks" / "README.md").read_text(encoding="utf-8")
    assert "../shared/corpus" not in text or "not\nshipped with the package" in text or "not shipped" in text


def test_readme_speed_is_a_short_table_and_the_command_with_the_rest_in_docs():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    speed = readme[readme.index("## Speed") :]
    speed = speed[: speed.find("\n## ", 4)] if "\n## " in speed[4:] else speed
    assert "benchmarks/speed.py" in speed and "| figure | ratio | limit |" in speed
    assert len(speed.splitlines()) <= 30
    assert "docs/speed.md" in speed and (ROOT / "docs" / "speed.md").is_file()
