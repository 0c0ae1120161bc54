"""The README lists what the registry holds."""
from pathlib import Path

from pavlov_theory.claims import registry

README = (Path(__file__).resolve().parents[1] / "README.md").read_text()


def test_readme_lists_every_registered_claim():
    assert [c for c in registry() if f"`{c}`" not in README] == []


def test_readme_lists_no_claim_the_registry_lacks():
    listed = {line.split("`")[1] for line in README.splitlines() if line.startswith("| `") and "." in line}
    assert listed <= set(registry())
