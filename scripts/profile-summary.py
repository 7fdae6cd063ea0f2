#!/usr/bin/env python3
"""Summarises a `perf script` dump of a wasmvisor-bench run (recorded with
call graphs) into where the time of the measured work went.

Each sample's stack is read from the root: its *phase* is the first frame
naming a node entry point (a transaction's admission or a block's
production); within a block, its *step* is the first step (by the table's
priority) that any frame names. Its *resource* is read from the leaf: the innermost frame
naming a known library or layer (signatures, hashing, RocksDB, wasm, the
storage's tree and overlay, encoding, the allocator). Samples outside the
measured phases (signing the workload, setup) are left out.

Usage: perf script -F tid,ip,sym --no-inline -i perf.data | profile-summary.py
"""

import collections
import sys

PHASES = [
    ("Node::submit", "admission (Node::submit)"),
    ("Node::produce_block", "block (Node::produce_block)"),
    # Batches' signatures, checked on rayon's threads (no `Node::submit`
    # frame there).
    ("wasmvisor_signature::verify_batch", "admission (signature pool)"),
]

# Steps of a block, by priority (a sample belongs to the first step any of
# its frames names).
STEPS = [
    ("Blockchain::commit", "commit (precommit check, RocksDB write)"),
    ("Blockchain::is_committed", "duplicate checks"),
    ("record_block", "block records (transactions, errors)"),
    ("state_root", "state root"),
    ("NativeService", "service execution"),
    ("WasmService::", "service execution"),
    ("WasmRuntime", "service execution"),
    ("execute_proposal", "dispatcher (other)"),
    ("sign_broadcasts", "other"),
]

# Resources, in the order a stack is searched from the leaf.
RESOURCES = [
    ("curve25519", "signatures (ed25519)"),
    ("ed25519", "signatures (ed25519)"),
    ("sha2::", "signatures (ed25519)"),
    ("blake3", "hashing (blake3)"),
    ("rocksdb", "RocksDB"),
    ("wasmtime", "wasm (wasmtime, guest code)"),
    ("cranelift", "wasm (wasmtime, guest code)"),
    ("[JIT]", "wasm (wasmtime, guest code)"),
    ("wasmvisor_storage::smt", "storage (Merkle tree)"),
    ("wasmvisor_storage", "storage (fork overlay, indexes)"),
    ("prost", "encoding (protobuf)"),
    ("wasmvisor_", "wasmvisor (other)"),
]

LIBC = ("malloc", "free", "realloc", "memcpy", "memmove", "memcmp", "_int_", "unlink_chunk", "cfree")


def samples(stream):
    frames = []
    for line in stream:
        line = line.rstrip("\n")
        if not line.strip():
            if frames:
                yield frames
            frames = []
            continue
        if line.startswith("\t") or line.startswith(" "):
            parts = line.strip().split(" ", 1)
            frame = parts[1] if len(parts) > 1 else parts[0]
            # Newer demanglers write `<crate::Type>::method`: read it as
            # `crate::Type::method`, as the markers do.
            frames.append(frame.replace(">::", "::").replace("<", ""))
    if frames:
        yield frames


def first(frames, table):
    """The label of the frame nearest the start of `frames` naming any
    marker of `table`."""
    for frame in frames:
        for marker, label in table:
            if marker in frame:
                return label
    return None


def by_priority(frames, table):
    """The label of the first marker of `table` that any frame names."""
    for marker, label in table:
        if any(marker in frame for frame in frames):
            return label
    return None


def resource(leaf_first):
    label = first(leaf_first, RESOURCES)
    if label is None:
        return "other (kernel, libc)"
    leaf = leaf_first[0]
    # Allocation and copies are charged to the layer that made them.
    if any(name in leaf for name in LIBC) and "rocksdb" not in label:
        return label + " [alloc/copy]"
    return label


def main():
    phases = collections.Counter()
    steps = collections.Counter()
    resources = collections.defaultdict(collections.Counter)
    total = 0
    for leaf_first in samples(sys.stdin):
        root_first = list(reversed(leaf_first))
        phase = first(root_first, PHASES)
        if phase is None:
            continue
        total += 1
        phases[phase] += 1
        resources[phase][resource(leaf_first)] += 1
        if phase.startswith("block"):
            steps[by_priority(root_first, STEPS) or "other"] += 1
    if total == 0:
        print("no samples in the measured phases")
        return
    print(f"{total} samples in the measured phases\n")
    for phase, count in phases.most_common():
        print(f"{phase}: {100 * count / total:.1f}% of samples")
        for label, n in resources[phase].most_common():
            print(f"    {label:<45} {100 * n / count:5.1f}%")
        if phase.startswith("block"):
            print("  by step:")
            for label, n in steps.most_common():
                print(f"    {label:<45} {100 * n / count:5.1f}%")
        print()


if __name__ == "__main__":
    main()
