#!/bin/sh
# The image's entry point, as in AWS's base images: under `docker run` the emulator serves the handler;
# where a Runtime API is given (sam local mounts its own emulator) the bootstrap talks to it directly.
if [ $# -ne 1 ]; then
  echo "entrypoint requires the handler name to be the first argument" >&2
  exit 142
fi
export _HANDLER="$1"
if [ -z "${AWS_LAMBDA_RUNTIME_API}" ]; then
  exec /usr/local/bin/aws-lambda-rie /var/runtime/bootstrap
fi
exec /var/runtime/bootstrap
