"""Developer tooling: the `invest` CLI, the local gateway, the OpenAPI generator and the benchmark.

Not part of the deployed layer.
"""
