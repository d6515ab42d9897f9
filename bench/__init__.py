"""Benchmarks for sote-broker: figures to read, never pass/fail. See bench/README.md."""
