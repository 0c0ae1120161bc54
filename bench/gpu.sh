#!/usr/bin/env bash
# The checks that need a CUDA device, in one run on a machine that has one:
#   1. the environment (GPU, driver, torch) and an editable install of this project;
#   2. the gpu-marked tests: every claim at ci scale on cuda against the cpu (tests/test_cuda.py);
#   3. the same ci run on cuda twice: what differs run to run on the device;
#   4. the bench on cuda (kernels against the device's matmul rate, peak memory, equal-width
#      speed-ups), `verify --scale book` on cuda timed;
#   5. `verify --scale paper` on cuda until the run's deadline, points cached as they finish,
#      then a per-claim account of the points done.
# Each step has its own time limit, so a slow or failing step leaves the later ones their time.
# Missing Python packages may travel as wheels in .whl/ (installed into a private folder).
# Usage: bench/gpu.sh [DEADLINE_SECONDS]; results under $OUT (default gpu-out/). STEPS (default
# "tests bench book repeat paper") names the steps to run; BENCH_KERNELS, a comma list of kernel or
# claim patterns, narrows the bench (bench.run --kernels), and BENCH_SHAPES (default small,book) its shapes;
# PAPER_ONLY (claim patterns, a comma list) narrows the paper-scale run.
set -u
OUT=${OUT:-gpu-out}
DEADLINE=${1:-560}
STEPS=${STEPS:-tests bench book repeat paper}
BENCH_KERNELS=${BENCH_KERNELS:-*}
BENCH_SHAPES=${BENCH_SHAPES:-small,book}
PAPER_ONLY=${PAPER_ONLY:-*}
wanted() { [[ " $STEPS " == *" $1 "* ]]; }
mkdir -p "$OUT"
export PYTHONUNBUFFERED=1 TQDM_MININTERVAL=5
SITE=$(mktemp -d)
started=$(date +%s)

log() { echo "== $(date +%T) +$(( $(date +%s) - started ))s $*"; }
step() {  # step SECONDS COMMAND...: run with a limit, report the exit code
    local limit=$1
    shift
    log "$* (limit ${limit}s)"
    timeout "$limit" "$@"
    log "exit code $?"
}

log environment
nvidia-smi --query-gpu=name,driver_version,memory.total,clocks.sm,clocks.max.sm --format=csv
if ls .whl/*.whl >/dev/null 2>&1; then
    python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --target "$SITE" .whl/*.whl \
        && export PYTHONPATH="$SITE"
fi
python3 -m pip install -q --no-index --no-deps --no-build-isolation -e . 2>&1 | tail -2
if ! python3 -c "import pavlov_theory.simulations" 2>/dev/null; then
    # no editable install: the two sub-packages linked where the installed layout puts them (the
    # working directory comes first on the import path)
    ln -sfn ../simulations pavlov_theory/simulations && ln -sfn ../proofs pavlov_theory/proofs
    log "editable install failed: running from the working tree with linked sub-packages"
fi
python3 - <<'EOF'
import platform, torch
from pavlov_theory import distributed, fla
print("python", platform.python_version(), "torch", torch.__version__, "cuda", torch.version.cuda,
      "device", torch.cuda.get_device_name(0), "dask", distributed.have_dask(),
      "fla", fla.missing_reason() or "present")
EOF

export PAVLOV_CACHE=/tmp/pavlov-cache-tests
wanted tests && step 180 python3 -m pytest -q -m gpu -p no:cacheprovider --basetemp=/tmp/pytest-gpu tests/test_cuda.py tests/test_capacity.py
cp /tmp/pytest-gpu/ledger-ci-*.json "$OUT"/ 2>/dev/null

wanted bench && step 240 python3 -m bench.run --device cuda --shapes "$BENCH_SHAPES" --trials 10000 --naive-budget 0 \
    --skip-dask --kernels "$BENCH_KERNELS" --out "$OUT"
wanted book && step 150 python3 -m pavlov_theory verify --scale book --device cuda --workers auto --no-cache --quiet \
    --out "$OUT/ledger-book-cuda.json"

wanted repeat && step 90 python3 -m pavlov_theory verify --scale ci --device cuda --workers 1 --no-cache --quiet \
    --out /tmp/ci-cuda-2.json
wanted repeat && python3 - "$OUT/ledger-ci-cuda.json" /tmp/ci-cuda-2.json <<'EOF'
import sys
from pavlov_theory import ledger
try:
    a, b = (ledger.findings(ledger.load(p)) for p in sys.argv[1:3])
except Exception as error:
    sys.exit(f"run to run on cuda: not compared ({error})")
pairs = list(zip(a["results"], b["results"]))
differ = [x for x, y in pairs if x != y]
verdicts = sum(x["verdict"] != y["verdict"] for x, y in pairs)
print(f"run to run on cuda: {len(differ)} of {len(pairs)} results differ in some value, "
      f"{verdicts} in verdict; claims with a differing result: {sorted({x['claim'] for x in differ})}")
EOF

export PAVLOV_CACHE=/tmp/pavlov-cache-paper
paper_seconds=$(( DEADLINE - ($(date +%s) - started) - 25 ))
wanted paper && step $(( paper_seconds > 20 ? paper_seconds : 20 )) python3 -m pavlov_theory verify --scale paper --device cuda --workers auto --quiet --only "$PAPER_ONLY" \
    --out "$OUT/ledger-paper-cuda.json"
wanted paper && python3 - /tmp/pavlov-cache-paper <<'EOF' | tee "$OUT/paper-points.txt"
import collections, json, sys
from pathlib import Path
from pavlov_theory import api
done = collections.defaultdict(list)
for path in Path(sys.argv[1]).glob("*/*.json"):
    entry = json.loads(path.read_text())
    if entry["fields"]["scale"] != "paper":
        continue
    done[entry["fields"]["claim"]].append((entry["seconds"], entry["result"]["verdict"]))
print("claim | paper points | done | seconds (sum) | verdicts")
for claim in api.claims():
    rows = done.get(claim.id, [])
    verdicts = collections.Counter(v for _, v in rows)
    print(f"{claim.id} | {len(claim.points('paper'))} | {len(rows)} | {sum(s for s, _ in rows):.1f} | "
          f"{dict(verdicts)}")
EOF
log done
