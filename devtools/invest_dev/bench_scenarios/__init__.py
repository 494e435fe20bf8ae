"""Extra `make bench` scenarios: one module per area, each function decorated with
`invest_dev.bench.scenario`. Every module of this package is imported by the benchmark; see the
docstring of `invest_dev.bench` for an example.
"""
