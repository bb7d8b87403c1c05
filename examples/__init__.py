"""Examples of using mfmarl on your own environments (run from the repository root)."""
