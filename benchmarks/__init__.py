"""asv benchmarks of fastgrad (see benchmarks/README.md and asv.conf.json at the repo root)."""
