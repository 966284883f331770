"""Small Inspect tasks shipped with the package (the quickstart's demo task)."""
