#!/usr/bin/env bash
# Checks the exercises of exercises/README.md against their reference solutions: each exercise's
# test must fail on the repository as it is (so it tests something) and pass once its solution,
# exercises/solutions/N-*.patch, is applied to a scratch copy. Touches nothing but the scratch
# copies it makes under a temporary directory, removed on every exit; builds go to
# target/exercises.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
scratch=$(mktemp -d)
cleanup() { rm -rf "$scratch"; }
trap cleanup EXIT
trap 'exit 130' INT TERM HUP
export CARGO_TARGET_DIR="$root/target/exercises"

run() { # run DIR N: the exercise's test in DIR; its exit status
    (cd "$1" && cargo test --quiet -p rvnic-tests --test exercises -- --ignored "exercise_$2_" >"$scratch/log" 2>&1)
}

status=0
for patch in exercises/solutions/*.patch; do
    n=$(basename "$patch" | cut -d- -f1)
    copy="$scratch/copy"
    rm -rf "$copy" && mkdir -p "$copy"
    # The repository's files as they are in the working tree (new ones too, not ignored ones).
    git ls-files -z --cached --others --exclude-standard | tar --null -T - -cf - | tar -xf - -C "$copy"
    if run "$copy" "$n"; then
        echo "exercise $n: its test passes without the exercise done" >&2
        status=1
        continue
    fi
    # It must have run and failed, not failed to build or to be found.
    if ! grep -q "^test result: FAILED. 0 passed; 1 failed" "$scratch/log"; then
        echo "exercise $n: its test did not run:" >&2
        tail -20 "$scratch/log" >&2
        status=1
        continue
    fi
    if ! (cd "$copy" && git apply "$root/$patch"); then
        echo "exercise $n: $patch does not apply to the code as it is" >&2
        status=1
        continue
    fi
    if run "$copy" "$n" && grep -q "^test result: ok. 1 passed" "$scratch/log"; then
        echo "exercise $n: ok (fails as it is, passes with $patch)"
    else
        echo "exercise $n: the test fails with the reference solution $patch:" >&2
        tail -20 "$scratch/log" >&2
        status=1
    fi
done
exit $status
