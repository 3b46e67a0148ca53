"""Scripts that score IFRNet on the paper's benchmarks and measure its speed (see docs/benchmarks.md)."""
