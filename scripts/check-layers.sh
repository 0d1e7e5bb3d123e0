#!/usr/bin/env bash
# sandbox/'s and node/'s layers point one way. Every top-level module of a
# crate's src (a folder, or a root file) has a place in its LAYERS list below,
# bottom first, and may use only itself and what is below it. This reads every
# `crate::…` path (`use` lines, grouped `use crate::{a, b}` and paths in code;
# comments and strings are skipped) in SRC/**/*.rs and fails, naming the file,
# line and import, on any path that points up or to a module missing from
# LAYERS. No upward import means no circle between the modules.
#   scripts/check-layers.sh
set -euo pipefail

repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"

# sandbox, bottom to top. The leaves know nothing of pods; `error` is the
# crate-wide error that wraps theirs; then the process helpers, the pod's state
# on disk, user namespace ranges, the pod's network, the pod itself, its
# lifecycle, and what only the CLI uses on top.
SANDBOX_LAYERS=(
    manifest image cni cri_log security policy overlay
    error
    proc
    state
    userns
    network
    pod
    lifecycle
    config host_check
)
# node, bottom to top: its error, label selectors and label edits; the workload objects; the
# store on disk; the controllers; the user's edits (scale, rollout); the
# agent's companion processes; the DNS, the Services' rules and the CRI service;
# the agent's loop.
NODE_LAYERS=(
    error selector labels
    objects
    store
    events
    controllers
    edits
    companion
    dns proxy cri
    agent
)
# Names re-exported at a crate root, and the module each comes from (`-`: not
# the crate's own).
SANDBOX_ALIASES="Error=error Result=error runtime=-"
NODE_ALIASES="Error=error Result=error"

# check CRATE SRC ALIASES LAYERS...
check() {
local crate="$1" src="$2" aliases="$3"
shift 3
local order="$*"
find "$src" -name '*.rs' ! -path "$src/lib.rs" -print0 | sort -z | xargs -0 awk \
    -v src="$src/" -v order="$order" -v aliases="$aliases" -v crate="$crate" '
BEGIN {
    n = split(order, names, " ")
    for (i = 1; i <= n; i++) rank[names[i]] = i
    m = split(aliases, pairs, " ")
    for (i = 1; i <= m; i++) { split(pairs[i], kv, "="); alias[kv[1]] = kv[2] }
    bad = 0
}
function check(name,    target) {
    target = (name in alias) ? alias[name] : name
    if (target == "-" || target == unit) return
    if (!(unit in rank)) {
        if (!(unit in unplaced))
            printf "%s/%s:%d: %s is not in its LAYERS (scripts/check-layers.sh): give it its place\n", crate, rel, FNR, unit
        bad = 1; unplaced[unit] = 1
        return
    }
    if (!(target in rank)) {
        printf "%s/%s:%d: crate::%s: %s is not in its LAYERS (scripts/check-layers.sh)\n", crate, rel, FNR, name, target
        bad = 1
    } else if (rank[target] > rank[unit]) {
        printf "%s/%s:%d: %s imports crate::%s, which is above it\n", crate, rel, FNR, unit, name
        bad = 1
    }
}
FNR == 1 {
    rel = substr(FILENAME, length(src) + 1)
    unit = rel; sub(/\/.*$/, "", unit); sub(/\.rs$/, "", unit)
    ingroup = 0
}
{
    line = $0
    gsub(/"([^"\\]|\\.)*"/, "\"\"", line)   # string literals
    sub(/\/\/.*$/, "", line)                 # comments, doc links included
    while (1) {
        if (ingroup) {
            # Inside `crate::{…}`: the first name of each item at depth 1.
            while (length(line) > 0) {
                c = substr(line, 1, 1)
                if (c == "{") { depth++; expect = 0; line = substr(line, 2); continue }
                if (c == "}") { depth--; line = substr(line, 2); if (depth == 0) { ingroup = 0; break }; continue }
                if (c == ",") { if (depth == 1) expect = 1; line = substr(line, 2); continue }
                if (match(line, /^[A-Za-z_][A-Za-z0-9_]*/)) {
                    if (depth == 1 && expect && substr(line, 1, RLENGTH) != "self") check(substr(line, 1, RLENGTH))
                    expect = 0; line = substr(line, RLENGTH + 1); continue
                }
                line = substr(line, 2)
            }
            if (ingroup) next
        }
        p = index(line, "crate::")
        if (p == 0) break
        if (p > 1 && substr(line, p - 1, 1) ~ /[A-Za-z0-9_]/) { line = substr(line, p + 7); continue }
        line = substr(line, p + 7)
        if (substr(line, 1, 1) == "{") { ingroup = 1; depth = 1; expect = 1; line = substr(line, 2); continue }
        if (match(line, /^[A-Za-z_][A-Za-z0-9_]*/)) check(substr(line, 1, RLENGTH))
    }
}
END { exit bad }
' || { echo "error: $crate/src imports against its layers (see above); scripts/check-layers.sh lists them bottom to top" >&2; exit 1; }
echo "$crate layers: ok ($order)"
}

check sandbox "$repo/sandbox/src" "$SANDBOX_ALIASES" "${SANDBOX_LAYERS[@]}"
check node "$repo/node/src" "$NODE_ALIASES" "${NODE_LAYERS[@]}"
