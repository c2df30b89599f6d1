#!/usr/bin/env bash
# Builds the Cairn image (docker/Dockerfile) as IMAGE.
#
#   docker/build-image.sh [docker build flags...]
#
# The compile is incremental across calls: the build stage's tree is kept as the image
# $CAIRN_BUILD_TREE_IMAGE and the next build starts from it, so ninja recompiles only
# the files that changed (the classic builder has no cache mounts). CAIRN_INCREMENTAL=0
# compiles from an empty tree (what a fresh machine or CI does anyway).
#
# An image already built from the same context (hash of its files, the base image and
# the flags, kept as the label org.cairn.source) is reused: no build at all.
#
# Environment: CAIRN_IMAGE (cairn:latest), CAIRN_BASE_IMAGE (debian:bookworm),
#   CAIRN_BUILD_TREE_IMAGE (cairn-build-tree:latest), CAIRN_INCREMENTAL (1),
#   CAIRN_FORCE_BUILD=1 (build even if an image of the same sources exists).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

IMAGE="${CAIRN_IMAGE:-cairn:latest}"
BASE_IMAGE="${CAIRN_BASE_IMAGE:-debian:bookworm}"
TREE="${CAIRN_BUILD_TREE_IMAGE:-cairn-build-tree:latest}"
PREV="${TREE%:*}:prev-$$"

tree_arg=empty-build-tree
if [[ "${CAIRN_INCREMENTAL:-1}" == 1 ]] && docker image inspect "$TREE" >/dev/null 2>&1; then
  docker tag "$TREE" "$PREV"
  tree_arg="$PREV"
fi

# Build from a snapshot of the context (the paths .dockerignore lets in, mtimes kept),
# so both builds below see the same sources even while someone edits them.
CTX="$(mktemp -d "${TMPDIR:-/tmp}/cairn-context.XXXXXX")"
trap 'rm -rf "$CTX"; [[ "$tree_arg" == "$PREV" ]] && docker rmi "$PREV" >/dev/null 2>&1; true' EXIT
mapfile -t include < <(sed -n 's:^!\([^*]*\)$:\1:p' .dockerignore | sed 's:/$::')
cp -a --parents .dockerignore docker/Dockerfile "${include[@]}" "$CTX"/
# Drop what .dockerignore's other patterns exclude, so the snapshot is the context.
(
  cd "$CTX"
  shopt -s globstar nullglob dotglob
  mapfile -t keep < <(sed -n 's:^!\(.*\):\1:p' .dockerignore | sed 's:/$::')
  while read -r pat; do
    [[ -z "$pat" || "$pat" == \#* || "$pat" == '*' || "$pat" == '!'* ]] && continue
    for f in ${pat%/}; do
      # shellcheck disable=SC2053  # $k is a glob on purpose
      for k in "${keep[@]}"; do [[ "$f" == $k ]] && continue 2; done
      rm -rf -- "$f"
    done
  done < .dockerignore
)

# Same context, base image and build settings as the image we have: nothing to do.
source_id="$( (cd "$CTX" && find . -type f -print0 | LC_ALL=C sort -z | xargs -0 sha256sum
              docker image inspect -f '{{.Id}}' "$BASE_IMAGE" 2>/dev/null || echo "$BASE_IMAGE"
              echo "$*") | sha256sum | cut -c1-24)"
label_of() { docker image inspect -f '{{index .Config.Labels "org.cairn.source"}}' "$1" 2>/dev/null || true; }
if [[ "${CAIRN_FORCE_BUILD:-0}" != 1 ]]; then
  if [[ "$(label_of "$IMAGE")" == "$source_id" ]]; then
    echo "$IMAGE is up to date (sources $source_id)" >&2
    exit 0
  fi
  same="$(docker images -q --filter "label=org.cairn.source=$source_id" | head -n 1)"
  if [[ -n "$same" ]]; then
    docker tag "$same" "$IMAGE"
    echo "$IMAGE: tagged the image already built from these sources ($source_id)" >&2
    exit 0
  fi
fi

id_of() { docker image inspect -f '{{.Id}}' "$1" 2>/dev/null || true; }
old_image="$(id_of "$IMAGE")"

args=(-f "$CTX/docker/Dockerfile" --build-arg "BASE_IMAGE=$BASE_IMAGE" --build-arg "BUILD_TREE=$tree_arg"
      --label "org.cairn.source=$source_id")
# The second build reuses the first's build stage: same flags, minus --no-cache.
flags2=()
for f in "$@"; do [[ "$f" == --no-cache ]] || flags2+=("$f"); done
start=$SECONDS
echo "+ docker build ${args[*]} $* --target build -t $TREE $CTX" >&2
docker build "${args[@]}" "$@" --target build -t "$TREE" "$CTX"
echo "+ docker build ${args[*]} ${flags2[*]} -t $IMAGE $CTX" >&2
docker build "${args[@]}" "${flags2[@]}" -t "$IMAGE" "$CTX"

# The image and build tree this build replaced, unless still tagged or used by a
# container: they are this script's own and hundreds of MB each.
if [[ "$tree_arg" == "$PREV" ]]; then docker rmi "$PREV" >/dev/null 2>&1 || true; tree_arg="$TREE (previous)"; fi
if [[ -n "$old_image" && "$old_image" != "$(id_of "$IMAGE")" &&
      "$(docker image inspect -f '{{len .RepoTags}}' "$old_image" 2>/dev/null)" == 0 ]]; then
  docker rmi "$old_image" >/dev/null 2>&1 || true
fi
echo "built $IMAGE in $((SECONDS - start)) s ($(docker image inspect -f '{{.Size}}' "$IMAGE" | numfmt --to=si)B," \
     "build tree from ${tree_arg})" >&2
