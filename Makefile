# Cairn: build, test and operate a local cluster.  `make help` lists the targets.
#
# Docker targets act on one compose project (PROJECT, default: the repo dir name, as
# plain `docker compose` would); the work is done by docker/cluster.sh.

SHELL := bash
.SHELLFLAGS := -euo pipefail -c
.DEFAULT_GOAL := help

BUILD_DIR  ?= build
# Empty: keep the build dir's CMAKE_BUILD_TYPE (CMakeLists.txt picks RelWithDebInfo), so
# `make build` and `make test` share one build tree. Set e.g. BUILD_TYPE=Release.
BUILD_TYPE ?=
IMAGE      ?= cairn:latest
# The Debian base of the image. `make base-image` pulls debian:bookworm under this
# name or, with no registry, debootstraps it from the host's apt mirror.
BASE_IMAGE ?= cairn/debian:bookworm
PROJECT    ?= $(or $(COMPOSE_PROJECT_NAME),$(shell basename "$(CURDIR)" | tr '[:upper:]' '[:lower:]' | tr -cd 'a-z0-9_-'))
BACKUP_ROOT ?= backups
# Extra `docker build` flags, e.g. DOCKER_BUILD_FLAGS='--network host --no-cache'.
DOCKER_BUILD_FLAGS ?=
# 1: the image's compile starts from the previous one's build tree (cairn-build-tree
# image), recompiling only what changed; 0: from scratch.
INCREMENTAL ?= 1
N      ?=
BACKUP ?=
NODE   ?= 1

COMPOSE ?= $(shell if docker compose version >/dev/null 2>&1; then echo "docker compose"; \
             elif command -v docker-compose >/dev/null 2>&1; then echo docker-compose; fi)

export COMPOSE
export CAIRN_PROJECT     := $(PROJECT)
export CAIRN_IMAGE       := $(IMAGE)
export CAIRN_BASE_IMAGE  := $(BASE_IMAGE)
export CAIRN_BACKUP_ROOT := $(BACKUP_ROOT)
export CAIRN_INCREMENTAL := $(INCREMENTAL)

CLUSTER := docker/cluster.sh

.PHONY: help deps local build test check bench base-image build-all image up down restart status logs \
        logs-master logs-chunk logs-gateway health scale backup restore \
        shell-master shell-chunk shell-gateway clean fuzz sanitize tsan

help: ## List the targets
	@echo "Cairn. Usage: make TARGET [VAR=value]"
	@echo
	@grep -hE '^[a-zA-Z_-]+:.*## ' $(MAKEFILE_LIST) | \
	  awk -F':.*## ' '{ printf "  %-14s %s\n", $$1, $$2 }'
	@echo
	@echo "Variables: PROJECT=$(PROJECT) IMAGE=$(IMAGE) BASE_IMAGE=$(BASE_IMAGE)"
	@echo "           COMPOSE='$(COMPOSE)' BUILD_DIR=$(BUILD_DIR) BACKUP_ROOT=$(BACKUP_ROOT)"
	@echo "Cluster settings (env): CAIRN_GATEWAY_PORT CAIRN_CHUNK_HTTP_PORTS CAIRN_LOG_LEVEL"
	@echo "  CAIRN_CHUNK_SIZE CAIRN_REPLICATION CAIRN_HEARTBEAT_INTERVAL CAIRN_STALE_AFTER CAIRN_DEAD_AFTER"

# ---- native -----------------------------------------------------------------------

build: ## Build the binaries natively into build/bin (BUILD_DIR) (cmake + ninja)
	cmake -S . -B $(BUILD_DIR) -G Ninja $(if $(BUILD_TYPE),-DCMAKE_BUILD_TYPE=$(BUILD_TYPE))
	cmake --build $(BUILD_DIR)

deps: ## Install the Debian packages building and testing need (skips what is present)
	scripts/install-deps.sh

test: deps ## Install deps, build, run every test (unit, cluster, integration, Docker e2e), then the clang builds (thread-safety, ASan+UBSan tests, fuzzing 20 s a target, TSan tests) and the format check
	cmake -S . -B build -G Ninja -DCAIRN_E2E=ON && cmake --build build && ctest --test-dir build --output-on-failure
	scripts/sanitize.sh
	FUZZ_SECONDS=$${FUZZ_SECONDS:-20} scripts/fuzz.sh
	scripts/sanitize.sh thread
	scripts/format-check.sh

check: ## Quick loop without Docker: build, then every test but the Docker e2e and the slow ones
	cmake -S . -B build -G Ninja && cmake --build build && ctest --test-dir build -LE 'docker|slow|upgrade' -j2 --output-on-failure

local: deps build ## Build, then run a local cluster without Docker (gateway on 8089)
	scripts/local-cluster.sh

sanitize: ## The clang build in build-clang (-Wthread-safety, ASan+UBSan, fuzz targets) and its unit and cluster tests
	scripts/sanitize.sh

fuzz: ## Build the libFuzzer targets (build-clang), run each for FUZZ_SECONDS (default 60)
	scripts/fuzz.sh

tsan: ## The concurrency-heavy tests under ThreadSanitizer (build-tsan)
	scripts/sanitize.sh thread

bench: ## Run the benchmark harness (bench/run.sh)
	@if [[ -x bench/run.sh ]]; then exec bench/run.sh; \
	 elif [[ -f bench/run.sh ]]; then exec bash bench/run.sh; \
	 else echo "make bench: bench/run.sh does not exist; there is no benchmark harness to run" >&2; exit 1; fi

# ---- image ------------------------------------------------------------------------

base-image: ## Make the Debian base image (BASE_IMAGE) if missing (pull, else debootstrap)
	docker/build-base-image.sh $(BASE_IMAGE)

build-all: base-image ## Build the image (IMAGE; compiles inside Docker, incrementally; INCREMENTAL=0: clean)
	docker/build-image.sh $(DOCKER_BUILD_FLAGS)

# The image, built only if it does not exist (`make build-all` rebuilds).
image:
	@docker image inspect $(IMAGE) >/dev/null 2>&1 || $(MAKE) --no-print-directory build-all

# ---- cluster ----------------------------------------------------------------------

up: image ## Start the cluster (master, chunkservers, gateway on :8089) and wait until healthy
	@$(CLUSTER) up

down: ## Stop and remove the cluster's containers (data kept; WIPE=1 removes the volumes too)
	@$(CLUSTER) down $(if $(filter 1,$(WIPE)),--wipe)

restart: image ## Re-create every container (volumes kept) and wait until healthy
	@$(CLUSTER) restart

status: ## Containers, health, each chunkserver's host port, node id, state and chunks
	@$(CLUSTER) status

health: ## /health and /ready of every daemon (non-zero exit if a daemon is unhealthy)
	@$(CLUSTER) health

scale: image ## Scale to N chunkservers (make scale N=5); scaling down drains nodes first
	@[[ -n "$(N)" ]] || { echo "usage: make scale N=5" >&2; exit 2; }
	@$(CLUSTER) scale $(N)

backup: ## Consistent backup (master checkpoint + chunkserver volumes) into backups/<UTC time>/
	@$(CLUSTER) backup

restore: image ## Restore a backup: make restore BACKUP=backups/<time> (cluster must be gone, or FORCE=1)
	@[[ -n "$(BACKUP)" ]] || { echo "usage: make restore BACKUP=$(BACKUP_ROOT)/<timestamp>" >&2; exit 2; }
	@$(CLUSTER) restore $(BACKUP)

logs: ## Follow the logs of every daemon
	@$(CLUSTER) logs

logs-master: ## Follow the master's logs
	@$(CLUSTER) logs master

logs-chunk: ## Follow the chunkservers' logs
	@$(CLUSTER) logs-chunk

logs-gateway: ## Follow the gateway's logs
	@$(CLUSTER) logs gateway

shell-master: ## A shell in the master container
	@$(CLUSTER) shell master

shell-chunk: ## A shell in chunkserver NODE (default 1: make shell-chunk NODE=2)
	@$(CLUSTER) shell chunkserver$(NODE)

shell-gateway: ## A shell in the gateway container
	@$(CLUSTER) shell gateway

clean: ## Remove the cluster WITH its data volumes, the image and the build dir
	@$(CLUSTER) down --wipe
	-@docker image rm $(IMAGE) 2>/dev/null
	rm -rf $(BUILD_DIR)
