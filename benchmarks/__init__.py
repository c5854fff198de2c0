"""plugrad's asv benchmark suites; shared workloads live in `benchmarks.common`."""
