.PHONY: setup serve test build typecheck bench doctor test-v2

setup:
	bash scripts/setup.sh

build:
	npm run --silent build

typecheck:
	npx tsc -p tsconfig.check.json

doctor: setup
	./bin/confine doctor

# Starts the service with embedded defaults (one process, in-memory queue, local artifacts, no Redis).
serve: setup
	./bin/confine serve

# The whole suite (scripts/test-all.sh): the container leg (image built without a registry, least
# privilege measured), the host suite (real jails, terraform, HTTP, S3, deployment files), the jail suite
# and CLI on a real cgroup v2 kernel, the systemd unit on cgroup v2; one closing "N passed, N failed".
test: setup
	bash scripts/test-all.sh

# The jail suite and the CLI on a real cgroup v2 kernel (a User-Mode Linux guest, scripts/uml/), with the
# service placed as systemd places a unit, at the root, and in delegated and undelegated scopes. Prints its
# own "N passed, N failed"; a machine that cannot boot the guest fails loudly unless CONFINE_ALLOW_NO_V2=1.
test-v2: setup
	bash scripts/uml/test-v2.sh

bench: setup
	bash bench/run-all.sh

# Regenerates security/seccomp.json, the service container's seccomp profile, from what `confine serve`
# and its jails call under a workload (strace -f; security/gen-seccomp.ts). Root, a jail-capable host.
.PHONY: security-profile
security-profile: setup
	npx vite-node security/gen-seccomp.ts

# The container leg: builds the image without a registry (container/build-base.sh stands in for the base
# image) and runs it with rootful podman at the documented least privilege, each privilege removed in turn,
# and on cgroup v2 in a UML guest. Prints `N passed, N failed`; refuses to skip silently
# (CONFINE_ALLOW_NO_CONTAINER=1 / CONFINE_ALLOW_NO_V2=1 accept a machine that cannot run it).
.PHONY: test-container
test-container: setup
	bash container/test.sh

# deploy/systemd/confine.service placed and sandboxed as systemd would, on a cgroup v2 kernel (UML guest).
.PHONY: test-deploy-v2
test-deploy-v2: setup
	bash tests/deploy/unit-v2.sh
