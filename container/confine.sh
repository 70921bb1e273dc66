#!/bin/sh
# The confine CLI inside the image: the build is done, so no rebuild check (bin/confine does one).
exec node /opt/confine/dist/cli/main.js "$@"
