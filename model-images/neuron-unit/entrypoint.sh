#!/usr/bin/env bash
# Start one member of a multi-node inference unit on Trainium (ECS tasks, one per instance).
#
# UNIT_RUNTIME=data-parallel (the default): every member holds the whole model on its own instance
# and runs `vllm serve "$@"` as one vLLM data-parallel rank; the container's arguments carry the
# layout (--data-parallel-size, --data-parallel-size-local 1, on followers --data-parallel-start-rank
# and --headless), and this script adds what is known only at run time:
# --data-parallel-address (the leader's address) and --data-parallel-rpc-port.
#   ROLE=leader    execs `vllm serve` (the API server and data-parallel rank 0).
#   ROLE=follower  finds the leader (LEADER_ADDRESS, or the Cloud Map SRV record LEADER_SRV), waits
#                  for its data-parallel RPC port, then execs the headless `vllm serve`.
#
# UNIT_RUNTIME=ray-pipeline (opt-in, unverified): one engine over a Ray cluster of the unit.
#   ROLE=leader    starts the Ray head, waits until UNIT_SIZE nodes joined, then execs
#                  `vllm serve "$@" --distributed-executor-backend ray`.
#   ROLE=follower  finds the leader, waits for its Ray port, then execs `ray start --address ... --block`.
#
# Tasks run in ECS `host` network mode, so every address here is an instance address. In host mode
# Cloud Map can only register the leader service as an SRV record; its target is the A record
# `<instance-id>.<service>.<namespace>` that Cloud Map creates alongside. A follower given
# LEADER_SRV resolves SRV -> target -> IPv4 (dnspython, in the image) and retries until
# JOIN_TIMEOUT, since the leader may not be registered yet. Only the target is used, not the
# record's port.
#
# Environment:
#   ROLE            leader | follower                                      (required)
#   UNIT_SIZE       number of members, leader included, >= 1               (required)
#   RANK            0 for the leader, 1..UNIT_SIZE-1 for followers         (required)
#   UNIT_RUNTIME    data-parallel | ray-pipeline                           (default: data-parallel)
#   LEADER_ADDRESS  leader host name or IP, reachable from every member    (follower: this or LEADER_SRV)
#   LEADER_SRV      leader's SRV name <service>.<namespace>, e.g.          (follower: used when
#                   trainium-0.trainium.inference-prod.internal             LEADER_ADDRESS is empty)
#   NODE_IP         this member's IP for Ray and vLLM                      (default: first of hostname -I,
#                   with host networking normally the instance's primary private IP; set it when not)
#   DP_RPC_PORT     the leader's data-parallel handshake port              (default: 13345)
#   RAY_PORT        Ray GCS port on the leader (ray-pipeline)              (default: 6379)
#   JOIN_TIMEOUT    seconds to wait for the leader or for all members      (default: 900)
#   NEURON_RT_ROOT_COMM_PORT  Neuron collectives bootstrap (ray-pipeline)  (default: 63423)
#   MODEL_S3_URI    s3://bucket/prefix/ of the weights; with MODEL_DIR, every member syncs it
#   MODEL_DIR       local directory the weights are synced to (a host volume, so restarts reuse it)
set -euo pipefail

log() {
    local ts
    ts="$(date -u +%FT%TZ)"
    printf '%s neuron-unit[%s/%s]: %s\n' "${ts}" "${ROLE:-?}" "${RANK:-?}" "$*" >&2
}
die() { log "error: $*"; exit 1; }

# Prints the value as a base-10 integer ("08" is not octal), or fails if it is not a
# non-negative decimal integer. $1 names the variable for the error message.
uint() {
    [[ "$2" =~ ^[0-9]+$ ]] || die "$1 must be a non-negative integer, got '$2'"
    printf '%d\n' "$((10#$2))"
}

ROLE="${ROLE:-}"
LEADER_ADDRESS="${LEADER_ADDRESS:-}"
LEADER_SRV="${LEADER_SRV:-}"
UNIT_SIZE="$(uint UNIT_SIZE "${UNIT_SIZE:-}")"
RANK="$(uint RANK "${RANK:-}")"
UNIT_RUNTIME="${UNIT_RUNTIME:-data-parallel}"
RAY_PORT="$(uint RAY_PORT "${RAY_PORT:-6379}")"
DP_RPC_PORT="$(uint DP_RPC_PORT "${DP_RPC_PORT:-13345}")"
JOIN_TIMEOUT="$(uint JOIN_TIMEOUT "${JOIN_TIMEOUT:-900}")"
((UNIT_SIZE >= 1)) || die "UNIT_SIZE must be >= 1"
# One deadline for a follower's whole join: finding the leader and reaching its Ray port.
JOIN_DEADLINE=$((SECONDS + JOIN_TIMEOUT))

case "${UNIT_RUNTIME}" in
    data-parallel | ray-pipeline) ;;
    *) die "UNIT_RUNTIME must be 'data-parallel' or 'ray-pipeline', got '${UNIT_RUNTIME}'" ;;
esac

case "${ROLE}" in
    leader)
        ((RANK == 0)) || die "the leader must have RANK=0, got ${RANK}"
        ;;
    follower)
        ((RANK >= 1 && RANK < UNIT_SIZE)) || die "a follower needs 1 <= RANK < UNIT_SIZE (${UNIT_SIZE}), got ${RANK}"
        [[ -n "${LEADER_ADDRESS}" || -n "${LEADER_SRV}" ]] || die "a follower needs LEADER_ADDRESS or LEADER_SRV"
        ;;
    *)
        die "ROLE must be 'leader' or 'follower', got '${ROLE}'"
        ;;
esac

# This member's address. With host networking `hostname -I` lists the instance's addresses (the
# primary ENI's first, normally; also docker0 and any extra ENIs), in awsvpc mode the task ENI's.
# Ray and vLLM must advertise an address the other members can reach, not a loopback one.
if [[ -z "${NODE_IP:-}" ]]; then
    NODE_IP="$(hostname -I 2>/dev/null | awk '{print $1}')" || NODE_IP=""
fi
[[ -n "${NODE_IP:-}" ]] || die "could not determine NODE_IP; set it explicitly"
export VLLM_HOST_IP="${NODE_IP}"

# Prints the IPv4 address behind an SRV name (lowest priority, then highest weight, then name).
# Exits 3 while the name cannot be resolved yet; any other failure (no dnspython, ...) is fatal.
resolve_srv() {
    python3 - "$1" <<'PY'
import socket
import sys

try:
    import dns.exception
    import dns.resolver
except ImportError as error:
    sys.exit(f"LEADER_SRV needs dnspython in the image: {error}")
try:
    answer = dns.resolver.resolve(sys.argv[1], "SRV")
    record = min(answer, key=lambda r: (r.priority, -r.weight, r.target.to_text()))
    print(socket.gethostbyname(record.target.to_text(omit_final_dot=True)))
except (dns.exception.DNSException, OSError):
    sys.exit(3)
PY
}

if [[ "${ROLE}" == "follower" && -z "${LEADER_ADDRESS}" ]]; then
    while :; do
        rc=0
        LEADER_ADDRESS="$(resolve_srv "${LEADER_SRV}")" || rc=$?
        ((rc == 0)) && [[ -n "${LEADER_ADDRESS}" ]] && break
        ((rc == 3)) || die "could not resolve LEADER_SRV ${LEADER_SRV} (exit ${rc})"
        ((SECONDS < JOIN_DEADLINE)) || die "LEADER_SRV ${LEADER_SRV} did not resolve within ${JOIN_TIMEOUT}s"
        log "waiting for the leader's SRV record ${LEADER_SRV}"
        sleep 5
    done
    log "leader ${LEADER_SRV} is at ${LEADER_ADDRESS}"
fi

# Neuron collectives across instances (ray-pipeline only: data-parallel ranks share no Neuron
# collectives, each engine stays on its own instance). Anything set in the task definition wins.
if [[ "${UNIT_RUNTIME}" == "ray-pipeline" ]] && ((UNIT_SIZE > 1)); then
    root_host="${LEADER_ADDRESS:-${NODE_IP}}"
    export NEURON_RT_ROOT_COMM_ID="${NEURON_RT_ROOT_COMM_ID:-${root_host}:${NEURON_RT_ROOT_COMM_PORT:-63423}}"
    export FI_PROVIDER="${FI_PROVIDER:-efa}"
    export FI_EFA_USE_DEVICE_RDMA="${FI_EFA_USE_DEVICE_RDMA:-1}"
    export FI_EFA_FORK_SAFE="${FI_EFA_FORK_SAFE:-1}"
fi

# Succeeds once a TCP connection to host:port can be opened (bash's /dev/tcp, no extra tools).
port_open() {
    local host="$1" port="$2"
    # shellcheck disable=SC2016  # $1/$2 expand in the inner bash, not here
    timeout 3 bash -c 'exec 3<>"/dev/tcp/$1/$2"' _ "${host}" "${port}" 2>/dev/null
}

# Number of alive nodes in the local Ray cluster (0 while it cannot be queried yet).
alive_nodes() {
    python3 - <<'PY' 2>/dev/null || echo 0
import ray
ray.init(address="auto", logging_level="ERROR", log_to_driver=False)
print(sum(1 for node in ray.nodes() if node["Alive"]))
PY
}

start_leader() {
    log "starting Ray head on ${NODE_IP}:${RAY_PORT} for a unit of ${UNIT_SIZE}"
    ray start --head --port="${RAY_PORT}" --node-ip-address="${NODE_IP}" --disable-usage-stats

    local deadline=$((SECONDS + JOIN_TIMEOUT)) alive=0
    while :; do
        alive="$(alive_nodes | tail -n 1)"
        [[ "${alive}" =~ ^[0-9]+$ ]] || alive=0
        ((alive >= UNIT_SIZE)) && break
        ((SECONDS < deadline)) || die "only ${alive}/${UNIT_SIZE} members joined within ${JOIN_TIMEOUT}s"
        log "waiting for members: ${alive}/${UNIT_SIZE}"
        sleep 5
    done
    log "all ${UNIT_SIZE} members joined"

    local -a extra=()
    ((UNIT_SIZE > 1)) && extra=(--distributed-executor-backend ray)
    log "exec vllm serve $* ${extra[*]}"
    exec vllm serve "$@" "${extra[@]}"
}

# Waits until host:port accepts connections, within the follower's join deadline; $3 names it.
wait_for_leader() {
    local host="$1" port="$2" what="$3"
    # shellcheck disable=SC2310  # a failed probe only means "not yet"
    until port_open "${host}" "${port}"; do
        ((SECONDS < JOIN_DEADLINE)) || die "leader ${what} ${host}:${port} not reachable within ${JOIN_TIMEOUT}s"
        log "waiting for leader ${what} ${host}:${port}"
        sleep 5
    done
}

start_data_parallel() {
    local address="${NODE_IP}"
    if [[ "${ROLE}" == "follower" ]]; then
        address="${LEADER_ADDRESS}"
        wait_for_leader "${address}" "${DP_RPC_PORT}" "data-parallel RPC port"
    fi
    local -a extra=(--data-parallel-address "${address}" --data-parallel-rpc-port "${DP_RPC_PORT}")
    log "exec vllm serve $* ${extra[*]}"
    exec vllm serve "$@" "${extra[@]}"
}

start_follower() {
    wait_for_leader "${LEADER_ADDRESS}" "${RAY_PORT}" "Ray port"
    log "joining Ray cluster at ${LEADER_ADDRESS}:${RAY_PORT}"
    # --block keeps this process in the foreground: it exits (and the task stops) when the Ray
    # node dies, so ECS notices a lost member.
    exec ray start --address="${LEADER_ADDRESS}:${RAY_PORT}" --node-ip-address="${NODE_IP}" \
        --disable-usage-stats --block
}

# Weights from S3: each member needs its own copy on local disk before vLLM loads its share.
# `aws s3 sync` only copies what changed, so a restarted member on the same instance is quick.
if [[ -n "${MODEL_S3_URI:-}" ]]; then
    [[ "${MODEL_S3_URI}" == s3://* ]] || die "MODEL_S3_URI must be an s3:// URI, got '${MODEL_S3_URI}'"
    [[ -n "${MODEL_DIR:-}" ]] || die "MODEL_S3_URI needs MODEL_DIR (where to sync the weights)"
    mkdir -p "${MODEL_DIR}"
    log "syncing ${MODEL_S3_URI} to ${MODEL_DIR}"
    aws s3 sync --only-show-errors --no-progress "${MODEL_S3_URI}" "${MODEL_DIR}" || die "could not sync ${MODEL_S3_URI}"
fi

if [[ "${UNIT_RUNTIME}" == "data-parallel" ]]; then
    start_data_parallel "$@"
elif [[ "${ROLE}" == "leader" ]]; then
    start_leader "$@"
else
    (($# == 0)) || log "ignoring arguments on a follower: $*"
    start_follower
fi
