"""Benchmarks behind `make bench`: they print figures and write them into the README."""
