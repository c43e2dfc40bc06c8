"""Contract-faithful HTTP fakes of the hosted CRMs, served on 127.0.0.1 for tests and benchmarks."""
