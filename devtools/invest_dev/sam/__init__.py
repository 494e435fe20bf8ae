"""`sam local` on a machine without a container registry: the Lambda runtime image built from Debian
packages (`image`), and the local runs of the template as it is (`local`; `make sam-api`, `make
sam-invoke`, `make test-sam`; docs/development.md#sam-local).
"""
