# shellcheck shell=bash
# SeaweedFS on loopback for the S3 tests. Source it (from .ci/run):
#
#   . .ci/seaweedfs.sh && seaweedfs_start && trap seaweedfs_stop EXIT
#
# seaweedfs_build builds `weed` once per version into
# ${XDG_CACHE_HOME:-$HOME/.cache}/dbctl/weed-<version>/weed (about 10 minutes
# cold on 2 cores; `go install` is refused because the module's go.mod has
# replace directives, so the module is downloaded and built in place) and
# renames it into place only when complete. seaweedfs_start runs
# `weed mini` on 127.0.0.1 with one identity, waits (bounded) until a
# signed PUT succeeds, and exports what the tests read:
#   DBCTL_S3_TEST_ENDPOINT, DBCTL_S3_TEST_BUCKET, AWS_ACCESS_KEY_ID,
#   AWS_SECRET_ACCESS_KEY, AWS_REGION.
# Ports: DBCTL_WEED_PORT_BASE (default 21300) .. +4, gRPC at +10000.

SEAWEEDFS_MODULE=github.com/seaweedfs/seaweedfs
SEAWEEDFS_VERSION=v0.0.0-20261109003541-7506e5f91cd6

seaweedfs_build() {
  local cache="${XDG_CACHE_HOME:-$HOME/.cache}/dbctl/weed-${SEAWEEDFS_VERSION}"
  SEAWEEDFS_BIN="$cache/weed"
  if [ -x "$SEAWEEDFS_BIN" ]; then
    return 0
  fi
  mkdir -p "$cache"
  local dir
  dir=$(cd / && GOFLAGS=-mod=mod go mod download -json "${SEAWEEDFS_MODULE}@${SEAWEEDFS_VERSION}" |
    sed -n 's/^[[:space:]]*"Dir": "\(.*\)",*$/\1/p')
  if [ -z "$dir" ] || [ ! -d "$dir/weed" ]; then
    echo "seaweedfs: go mod download of ${SEAWEEDFS_MODULE}@${SEAWEEDFS_VERSION} gave no module directory" >&2
    return 1
  fi
  echo "seaweedfs: building weed ${SEAWEEDFS_VERSION} into $cache (about 10 minutes cold)" >&2
  local tmp="$SEAWEEDFS_BIN.partial.$$"
  if ! (cd "$dir" && GOFLAGS=-mod=mod go build -o "$tmp" ./weed); then
    rm -f "$tmp"
    return 1
  fi
  mv -f "$tmp" "$SEAWEEDFS_BIN"
}

seaweedfs_start() {
  seaweedfs_build || return 1
  local base="${DBCTL_WEED_PORT_BASE:-21300}"
  local s3port=$((base + 3))
  SEAWEEDFS_DIR=$(mktemp -d "${TMPDIR:-/tmp}/dbctl-weed.XXXXXX")
  local key="dbctl-ci-key" secret
  secret="ci-$(od -An -N12 -tx1 /dev/urandom | tr -d ' \n')"
  cat >"$SEAWEEDFS_DIR/s3.json" <<EOF
{"identities": [{"name": "dbctl-ci", "credentials": [{"accessKey": "$key", "secretKey": "$secret"}],
  "actions": ["Admin", "Read", "Write", "List", "Tagging"]}]}
EOF
  mkdir -p "$SEAWEEDFS_DIR/data"
  "$SEAWEEDFS_BIN" mini -dir="$SEAWEEDFS_DIR/data" -ip=127.0.0.1 -ip.bind=127.0.0.1 \
    -s3.config="$SEAWEEDFS_DIR/s3.json" -bucket=dbctl-test \
    -master.port="$base" -volume.port="$((base + 1))" -filer.port="$((base + 2))" -s3.port="$s3port" \
    -admin.port="$((base + 4))" -admin.ui=false -webdav=false -s3.port.iceberg=0 -s3.port.lance=0 \
    >"$SEAWEEDFS_DIR/weed.log" 2>&1 &
  SEAWEEDFS_PID=$!
  local endpoint="http://127.0.0.1:$s3port" i
  # curl signs the body only when told its hash (S3 wants x-amz-content-sha256).
  local body_sha
  body_sha=$(printf ready | sha256sum | cut -d' ' -f1)
  for i in $(seq 1 120); do
    if ! kill -0 "$SEAWEEDFS_PID" 2>/dev/null; then
      echo "seaweedfs: weed mini exited; its log:" >&2
      tail -n 30 "$SEAWEEDFS_DIR/weed.log" >&2
      return 1
    fi
    if curl -fs -o /dev/null --max-time 5 --aws-sigv4 "aws:amz:us-east-1:s3" --user "$key:$secret" \
      -H "x-amz-content-sha256: $body_sha" -X PUT --data-binary "ready" "$endpoint/dbctl-test/.ci-ready"; then
      export DBCTL_S3_TEST_ENDPOINT="$endpoint" DBCTL_S3_TEST_BUCKET=dbctl-test
      export AWS_ACCESS_KEY_ID="$key" AWS_SECRET_ACCESS_KEY="$secret" AWS_REGION=us-east-1
      echo "seaweedfs: S3 on $endpoint after ${i}s (pid $SEAWEEDFS_PID, dir $SEAWEEDFS_DIR)" >&2
      return 0
    fi
    sleep 1
  done
  echo "seaweedfs: no signed PUT succeeded within 120s; its log:" >&2
  tail -n 30 "$SEAWEEDFS_DIR/weed.log" >&2
  seaweedfs_stop
  return 1
}

seaweedfs_stop() {
  if [ -n "${SEAWEEDFS_PID:-}" ]; then
    kill "$SEAWEEDFS_PID" 2>/dev/null || true
    wait "$SEAWEEDFS_PID" 2>/dev/null || true
    SEAWEEDFS_PID=
  fi
  if [ -n "${SEAWEEDFS_DIR:-}" ]; then
    rm -rf "$SEAWEEDFS_DIR"
    SEAWEEDFS_DIR=
  fi
}
