#!/usr/bin/env bash
# The GPU check (`make gpu-check`, docs/gpu.md): on a machine with an NVIDIA
# GPU, in one command that ends within a time budget (8 minutes by default),
#   setup            the compute capability, nvcc, cuDNN, NCCL, the libraries of
#                    the build, and a Python whose torch sees the GPU (the twins);
#   build            make -j<cores> CUDA=1 CUDA_ARCH=<capability>: the programs,
#                    the test binary, bench_train and bench_attention;
#   ops              the CUDA op cases: every op against the CPU backend
#                    (tests/test_cuda_{ops,conv,norm,attention}.c, transfers);
#   train            one training iteration of the tiny model, CPU against GPU,
#                    and runner training on the GPU (tests/test_cuda_train.c,
#                    test_train_device.c, test_gpu_slots.c);
#   dist             one data-parallel run of two ranks through mpirun sharing
#                    the GPU (host copies) or on two GPUs (NCCL), against one
#                    process (tests/test_cuda_dist.c);
#   bench_train      bench_train --device cuda --paper against the PyTorch twin;
#   bench_attention  bench_attention --device cuda against its twin;
# each part under its own time limit (timeout), a failed part reported and the
# next one run. The full log and a summary table go into one folder.
#
# Without a GPU it exits at once (status 3) with one line saying so.
# DNL_GPU_CHECK_FAKE=1 (or --fake) runs CPU analogues of every part instead, so
# that the part runner, the time limits, the log and the summary can be tried
# on a machine without a GPU; its summary says so, and nothing in it is a GPU
# result.
set -uo pipefail

usage() {
  cat <<'EOF'
usage: tools/gpu_check.sh [--out DIR] [--budget SECONDS] [--parts LIST] [--fake]
  --out DIR       where the log and the summary go (default: $OUT when set, else
                  build/gpu-check)
  --budget S      the whole check ends within S seconds (default 480)
  --parts LIST    comma-separated parts to run (default: all, in this order):
                  build,ops,train,dist,bench_train,bench_attention
                  (setup always runs; parts after a failed build are not run)
  --fake          CPU analogues of every part on a machine without a GPU, to try
                  the check itself (also DNL_GPU_CHECK_FAKE=1); not GPU results
environment: DNL_GPU_CHECK_LIMIT_<PART>=S (e.g. DNL_GPU_CHECK_LIMIT_BUILD=300)
  overrides a part's time limit; EXTRA_INCLUDES (-I...) and EXTRA_LDFLAGS
  (-L... -Wl,-rpath,...) add folders of libraries to the build;
  DNL_TWIN_PYTHON names the Python of the PyTorch twins (default: the first of
  python3, /usr/bin/python3 and /opt/torch/.venv/bin/python3 whose torch sees
  a CUDA device); DNL_NVIDIA_SMI the nvidia-smi to ask (default: nvidia-smi).
exit status: 0 every part passed, 1 a part failed or did not run, 2 bad
  arguments, 3 no GPU on this machine.
EOF
}

die_usage() {
  echo "gpu-check: $1 (tools/gpu_check.sh --help lists the options)" >&2
  exit 2
}

ALL_PARTS="build ops train dist bench_train bench_attention"
out_dir=${OUT:-}
budget=480
parts=$ALL_PARTS
fake=0
reason_only=0
case "${DNL_GPU_CHECK_FAKE:-0}" in
  0 | "") ;;
  1) fake=1 ;;
  *) die_usage "DNL_GPU_CHECK_FAKE=${DNL_GPU_CHECK_FAKE}: expected 0 or 1" ;;
esac

while [ $# -gt 0 ]; do
  case "$1" in
    --out)
      [ $# -ge 2 ] && [ -n "$2" ] || die_usage "--out needs a folder"
      out_dir=$2
      shift 2
      ;;
    --budget)
      [ $# -ge 2 ] || die_usage "--budget needs a number of seconds"
      [[ "$2" =~ ^[0-9]+$ ]] && [ "$2" -ge 30 ] ||
        die_usage "--budget $2: expected a whole number of seconds, at least 30"
      budget=$2
      shift 2
      ;;
    --parts)
      [ $# -ge 2 ] && [ -n "$2" ] || die_usage "--parts needs a list"
      parts=
      for p in ${2//,/ }; do
        [[ " $ALL_PARTS " == *" $p "* ]] || die_usage "--parts: unknown part '$p'"
        parts="$parts $p"
      done
      [ -n "$parts" ] || die_usage "--parts needs a list"
      shift 2
      ;;
    --fake)
      fake=1
      shift
      ;;
    --no-gpu-reason) # for the Makefile: the no-GPU line on stdout, or nothing
      reason_only=1
      shift
      ;;
    -h | --help)
      [ "$reason_only" = 1 ] || usage
      exit 0
      ;;
    *) die_usage "unknown argument '$1'" ;;
  esac
done

# a relative --out is relative to where the check was started
[ -z "$out_dir" ] || [[ "$out_dir" == /* ]] || out_dir=$PWD/$out_dir
cd "$(dirname "$0")/.." || exit 2
start=$SECONDS

# ---- the GPU: one line and status 3 when there is none ----

# Sets gpu_name, gpu_cap, gpu_mem, gpu_driver, gpu_count and arch from
# nvidia-smi; or no_gpu, the one line saying why there is no usable GPU.
gpu_name="" gpu_cap="" gpu_mem="" gpu_driver="" gpu_count=0 arch="" no_gpu=""
detect_gpu() {
  local smi=${DNL_NVIDIA_SMI:-nvidia-smi} smi_out smi_rc first
  if ! command -v "$smi" >/dev/null 2>&1; then
    no_gpu="gpu-check: no GPU on this machine: $smi not found (no NVIDIA driver); nothing was run"
    return 1
  fi
  smi_out=$(timeout 30 "$smi" --query-gpu=name,compute_cap,memory.total,driver_version \
    --format=csv,noheader 2>&1)
  smi_rc=$?
  first=$(printf '%s\n' "$smi_out" | head -n 1)
  if [ $smi_rc -ne 0 ] || ! [[ "$first" == *,*,*,* ]]; then
    no_gpu="gpu-check: no GPU on this machine: $smi exited with $smi_rc: ${first:-no output}; nothing was run"
    return 1
  fi
  IFS=, read -r gpu_name gpu_cap gpu_mem gpu_driver <<<"$first"
  gpu_name=$(echo $gpu_name) gpu_cap=$(echo $gpu_cap) gpu_mem=$(echo $gpu_mem)
  gpu_driver=$(echo $gpu_driver)
  if ! [[ "$gpu_cap" =~ ^[0-9]+\.[0-9]+$ ]]; then
    no_gpu="gpu-check: no usable GPU: $smi gave compute capability '$gpu_cap' for $gpu_name; nothing was run"
    return 1
  fi
  arch=${gpu_cap/./}
  gpu_count=$(printf '%s\n' "$smi_out" | grep -c ,)
}

if [ "$fake" = 0 ] && ! detect_gpu; then
  if [ "$reason_only" = 1 ]; then
    echo "$no_gpu"
    exit 0
  fi
  echo "$no_gpu" >&2
  exit 3
fi
[ "$reason_only" = 0 ] || exit 0

# ---- output folder, log, time ----

[ -n "$out_dir" ] || out_dir=build/gpu-check
mkdir -p "$out_dir" || die_usage "--out $out_dir: cannot create the folder"
out_dir=$(cd "$out_dir" && pwd)
LOG=$out_dir/gpu-check.log
SUMMARY=$out_dir/summary.md
# a link folder for the build, not part of the output
WORK=$(mktemp -d "${TMPDIR:-/tmp}/dnl-gpu-check.XXXXXX") || die_usage "cannot make a scratch folder"
trap 'rm -rf "$WORK"' EXIT
: >"$LOG"
rm -f "$SUMMARY"
deadline=$((start + budget - 10)) # the summary's own seconds

cores=$(nproc 2>/dev/null || echo 2)
if [ "$fake" = 1 ]; then
  MODE_LINE="FAKE run (DNL_GPU_CHECK_FAKE=1 / --fake): CPU analogues of each part on $(hostname), no GPU used; nothing here is a GPU result"
  BUILD_DIR=build/release
else
  MODE_LINE="GPU run: $gpu_name (compute capability $gpu_cap, CUDA_ARCH=$arch, $gpu_mem, driver $gpu_driver; $gpu_count GPU(s)) on $(hostname)"
  BUILD_DIR=build/release-cuda
fi
TEST_BIN=$BUILD_DIR/tests/dnl_tests

log() { printf '%s\n' "$*" >>"$LOG"; }
say() {
  printf '[%4ds] %s\n' $((SECONDS - start)) "$*"
  log "[$((SECONDS - start))s] $*"
}

log "gpu-check started $(date -u '+%Y-%m-%d %H:%M:%S UTC'), budget $budget s"
log "$MODE_LINE"
log "commit $(git describe --always --dirty 2>/dev/null || echo unknown), $cores cores"
say "$MODE_LINE"

# part results: name|status|passed|failed|skipped|seconds|limit|note
RESULTS=()
record() { RESULTS+=("$1|$2|$3|$4|$5|$6|$7|$8"); }

# A part's limit: DNL_GPU_CHECK_LIMIT_<PART> or the default, cut to the time left.
limit_for() {
  local part=$1 def=$2 var
  var=DNL_GPU_CHECK_LIMIT_$(echo "$part" | tr a-z A-Z)
  local want=${!var:-$def}
  [[ "$want" =~ ^[0-9]+$ ]] && [ "$want" -ge 1 ] || {
    log "$var=$want is not a number of seconds: $def used"
    want=$def
  }
  local left=$((deadline - SECONDS))
  [ "$want" -lt "$left" ] && echo "$want" || echo "$left"
}

wants() { [[ " $parts " == *" $1 "* ]]; }

# True (and the part recorded as not run) when less than 10 s of the budget
# are left.
out_of_time() {
  [ $((deadline - SECONDS)) -ge 10 ] && return 1
  record "$1" "NOT RUN" - - - - - "no time left in the $budget s budget"
  say "$1: not run (no time left in the budget)"
}

# Runs "$@" under timeout(1) for at most $limit seconds, output into the log.
# Sets part_rc (124: timed out) and part_secs.
run_limited() {
  local limit=$1
  shift
  log ""
  log "\$ $*"
  part_mark=$(wc -l <"$LOG")
  local t0=$SECONDS line_buffered=()
  # line by line, so that a program stopped at the limit leaves what it printed
  command -v stdbuf >/dev/null && line_buffered=(stdbuf -oL -eL)
  timeout -k 10 "$limit" "${line_buffered[@]}" "$@" >>"$LOG" 2>&1 </dev/null
  part_rc=$?
  [ $part_rc -eq 137 ] && part_rc=124 # killed after the grace period
  part_secs=$((SECONDS - t0))
}

# For a failed part, from the log of its command: the first compiler or linker
# error, else the last line that reads like an error.
last_error() {
  local text line
  text=$(tail -n +"$((part_mark + 1))" "$LOG")
  line=$(grep -E ': (fatal )?error|undefined reference|cannot find -l' <<<"$text" | head -n 1)
  [ -n "$line" ] ||
    line=$(grep -E '^[a-z_]+( --device cuda)?: |error|Error|failed|FAILED' <<<"$text" | tail -n 1)
  echo "${line:0:300}"
}

# ---- setup: tools, libraries, the twins' Python ----

CUDA_HOME=${CUDA_HOME:-/usr/local/cuda}
MAKE_VARS=()
# libraries carried to a bare machine: -I and -L folders from the environment
# (docs/gpu.md), to which the cuDNN and NCCL found here are added
EXTRA_INCLUDES=${EXTRA_INCLUDES:-}
EXTRA_LDFLAGS=${EXTRA_LDFLAGS:-}
RUN_LIBS=""
with_mpi=1

# The folder holding a file named $1 (a glob) among the usual places, else
# among the cuDNN and NCCL files found once under /usr and /opt (Python wheels
# keep them in site-packages/nvidia/...); empty when none.
find_file() {
  local name=$1 d f
  for d in "$CUDA_HOME/include" "$CUDA_HOME/lib64" /usr/include /usr/include/x86_64-linux-gnu \
    /usr/lib/x86_64-linux-gnu /usr/local/include /usr/local/lib; do
    for f in "$d"/$name; do
      [ -e "$f" ] && {
        echo "$d"
        return
      }
    done
  done
  local found=$WORK/found.txt
  if [ ! -e "$found" ]; then
    timeout 30 find /usr /opt -xdev -maxdepth 10 \( -name cudnn.h -o -name nccl.h -o \
      -name 'libcudnn.so*' -o -name 'libnccl.so*' \) 2>/dev/null | sort >"$found"
  fi
  while read -r f; do
    # shellcheck disable=SC2053 # name is a glob
    [[ "$(basename "$f")" == $name ]] && {
      dirname "$f"
      return
    }
  done <"$found"
}

# cuDNN or NCCL outside the compiler's and the linker's default paths (say, in
# a Python wheel): its include folder, a link folder with the unversioned .so
# name, and its folder for the loader at run time.
locate_cuda_lib() {
  local header=$1 lib=$2 inc libdir so
  inc=$(find_file "$header")
  [ -n "$inc" ] || return 1
  [ "$inc" = "$CUDA_HOME/include" ] || [ "$inc" = /usr/include ] ||
    EXTRA_INCLUDES="$EXTRA_INCLUDES -I$inc"
  libdir=$(find_file "$lib.so")
  [ -n "$libdir" ] || libdir=$(find_file "$lib.so.*")
  [ -n "$libdir" ] || return 1
  if [ ! -e "$libdir/$lib.so" ]; then # a runtime without the link for -l
    so=$(ls "$libdir/$lib".so.* | head -n 1)
    mkdir -p "$WORK/lib" && ln -sf "$so" "$WORK/lib/$lib.so"
    EXTRA_LDFLAGS="$EXTRA_LDFLAGS -L$WORK/lib"
  fi
  case "$libdir" in
    "$CUDA_HOME/lib64" | /usr/lib/x86_64-linux-gnu) ;;
    *)
      EXTRA_LDFLAGS="$EXTRA_LDFLAGS -L$libdir -Wl,-rpath,$libdir"
      RUN_LIBS="$RUN_LIBS:$libdir"
      ;;
  esac
  log "$header in ${inc}, $lib in $libdir"
}

# Whether the C compiler finds a header (with extra flags).
has_header() {
  printf '#include <stdio.h>\n#include <%s>\n' "$1" |
    gcc -E -x c - ${2:-} $EXTRA_INCLUDES -o /dev/null >/dev/null 2>&1
}

TWIN_PY="" TWIN_NOTE=""
find_twin_python() {
  local want_cuda=$1 check cands c seen=" " v
  check="import torch; print(torch.__version__)"
  [ "$want_cuda" = 1 ] && check="import torch; assert torch.cuda.is_available(), 'no CUDA device'; print(torch.__version__, 'CUDA', torch.version.cuda)"
  if [ -n "${DNL_TWIN_PYTHON:-}" ]; then
    cands=$DNL_TWIN_PYTHON
  else
    cands="$(command -v python3 2>/dev/null) /usr/bin/python3 /opt/torch/.venv/bin/python3"
  fi
  for c in $cands; do
    [[ "$seen" == *" $c "* ]] && continue
    seen="$seen$c "
    [ -n "$(type -P "$c")" ] || continue
    if v=$(timeout 90 "$c" -c "$check" 2>>"$LOG"); then
      TWIN_PY=$c
      TWIN_NOTE="$c, torch $v"
      return 0
    fi
  done
  TWIN_NOTE="not available: no Python with torch$([ "$want_cuda" = 1 ] && echo ' that sees a CUDA device') (tried:${seen% })"
  return 1
}

setup_part() {
  local t0=$SECONDS missing="" optional="" notes=()
  log ""
  log "===== setup"
  if [ "$fake" = 0 ]; then
    if [ ! -x "$CUDA_HOME/bin/nvcc" ] && command -v nvcc >/dev/null; then
      CUDA_HOME=$(dirname "$(dirname "$(command -v nvcc)")")
    fi
    if [ -x "$CUDA_HOME/bin/nvcc" ]; then
      notes+=("nvcc $("$CUDA_HOME/bin/nvcc" --version | sed -n 's/.*release \([0-9.]*\).*/\1/p')")
      log "$("$CUDA_HOME/bin/nvcc" --version | tail -n 2)"
    else
      missing="$missing nvcc"
    fi
    locate_cuda_lib cudnn.h libcudnn || missing="$missing cuDNN(cudnn.h,libcudnn)"
  fi
  has_header cblas.h || missing="$missing OpenBLAS(cblas.h)"
  has_header libconfig.h || missing="$missing libconfig(libconfig.h)"
  local hdf5_cflags
  hdf5_cflags=$(pkg-config --cflags hdf5 2>/dev/null || echo -I/usr/include/hdf5/serial)
  has_header hdf5.h "$hdf5_cflags" || missing="$missing HDF5(hdf5.h)"
  has_header png.h || missing="$missing libpng(png.h)"
  has_header jpeglib.h || missing="$missing libjpeg(jpeglib.h)"
  has_header criterion/criterion.h || missing="$missing Criterion(criterion/criterion.h)"
  if ! pkg-config --exists mpi-c 2>/dev/null; then
    with_mpi=0
    optional="$optional MPI(pkg-config mpi-c: built with MPI=0, the dist part is not verified)"
  elif [ "$fake" = 0 ] && ! locate_cuda_lib nccl.h libnccl; then
    with_mpi=0 # CUDA=1 with MPI links NCCL
    optional="$optional NCCL(nccl.h,libnccl: built with MPI=0, the dist part is not verified)"
  fi
  command -v mpirun >/dev/null || optional="$optional mpirun"
  if wants bench_train || wants bench_attention; then
    find_twin_python $((1 - fake)) || true
    notes+=("PyTorch twin: $TWIN_NOTE")
  fi
  log "CUDA_HOME=$CUDA_HOME EXTRA_INCLUDES=$EXTRA_INCLUDES EXTRA_LDFLAGS=$EXTRA_LDFLAGS"
  [ -z "$optional" ] || notes+=("missing, optional:$optional")
  local note="" n
  for n in "${notes[@]}"; do note="${note:+$note; }$n"; done
  if [ -n "$missing" ]; then
    record setup FAIL - - - $((SECONDS - t0)) - "missing:$missing${note:+; $note}"
    say "setup: FAIL: missing:$missing"
    return 1
  fi
  record setup ok - - - $((SECONDS - t0)) - "$note"
  say "setup: ok${note:+ ($note)}"
}

# ---- build ----

build_part() {
  local limit
  limit=$(limit_for build 240)
  out_of_time build && return 1
  say "build: make -j$cores ... (limit $limit s)"
  log ""
  log "===== build"
  local targets=(all "$TEST_BIN" "$BUILD_DIR/bench/bench_train" "$BUILD_DIR/bench/bench_attention")
  if [ "$fake" = 1 ]; then
    MAKE_VARS=()
  else
    MAKE_VARS=(CUDA=1 "CUDA_ARCH=$arch" "CUDA_HOME=$CUDA_HOME")
    [ -n "$EXTRA_INCLUDES" ] && MAKE_VARS+=("EXTRA_INCLUDES=${EXTRA_INCLUDES# }")
    [ -n "$EXTRA_LDFLAGS" ] && MAKE_VARS+=("EXTRA_LDFLAGS=${EXTRA_LDFLAGS# }")
    [ "$with_mpi" = 1 ] || MAKE_VARS+=(MPI=0)
  fi
  run_limited "$limit" make -j"$cores" "${MAKE_VARS[@]}" "${targets[@]}"
  local what="make -j$cores${MAKE_VARS[*]:+ ${MAKE_VARS[*]}}"
  if [ $part_rc -eq 124 ]; then
    record build TIMEOUT - - - "$part_secs" "$limit" "$what: stopped at the limit"
  elif [ $part_rc -ne 0 ]; then
    record build FAIL - - - "$part_secs" "$limit" "$what: $(last_error)"
  else
    record build ok - - - "$part_secs" "$limit" "$what"
  fi
  say "build: $(cut -d'|' -f2 <<<"${RESULTS[-1]}") in $part_secs s"
  [ $part_rc -eq 0 ]
}

# ---- test parts (Criterion, TAP report) ----

# Suites of the test binary whose name matches the extended regex $1 and not
# the one in $2.
suites_matching() {
  "$TEST_BIN" --list 2>/dev/null | sed -n 's/^\([A-Za-z0-9_]*\): [0-9]* tests\{0,1\}$/\1/p' |
    grep -E "^($1)$" | grep -vE "^(${2:-^})$" | tr '\n' ' '
}

# Counts the results of the given suites in Criterion's --verbose output (the
# part's share of the log, written test by test, so that a run stopped at the
# limit still tells what passed and which test did not finish):
# passed|failed|skipped|unverified|note. A test that started and never ended
# counts as failed. A skip that says "CUDA ... case skipped" (no GPU, a missing
# op, no MPI) is a case that was not verified: it fails the part.
criterion_counts() {
  local suites=$1
  tail -n +"$((part_mark + 1))" "$LOG" | awk -v suites=" $suites " '
    function mine(name, s) { s = name; sub(/::.*/, "", s); return index(suites, " " s " ") > 0 }
    function test_of(line, n) { n = line; sub(/^\[....\] /, "", n); sub(/:( .*)?$/, "", n); return n }
    function why_of(line, w) { w = line; sub(/^\[....\] [^ ]*: */, "", w); return short(w) }
    function short(w) { return length(w) > 160 ? substr(w, 1, 157) "..." : w }
    /^\[----\] .*Assertion Failed/ { want_msg = 1; msg = ""; next }
    /^\[----\]/ && want_msg { m = $0; sub(/^\[----\] */, "", m); if (m != "") { msg = m; want_msg = 0 }; next }
    /^\[RUN \] / { n = test_of($0); if (mine(n)) running[n] = 1; next }
    /^\[(PASS|FAIL|SKIP)\] / {
      n = test_of($0)
      if (!mine(n)) next
      delete running[n]
      if ($0 ~ /^\[PASS\]/) { passed++; next }
      if ($0 ~ /^\[SKIP\]/) {
        skipped++; w = why_of($0)
        if (w ~ /CUDA .*case skipped/) uv[++nu] = n ": " w
        next
      }
      failed++; w = why_of($0)
      if (w ~ /^\([0-9.]+s\)$/ && msg != "") w = short(msg)
      fl[++nf] = n ": " w; msg = ""
    }
    END {
      for (n in running) { failed++; fl[++nf] = n ": did not finish" }
      note = ""
      for (i = 1; i <= nf && i <= 3; i++) note = note (note ? "; " : "") fl[i]
      if (nf > 3) note = note "; and " nf - 3 " more failed"
      for (i = 1; i <= nu && i <= 2; i++) note = note (note ? "; " : "") "not verified: " uv[i]
      if (nu > 2) note = note "; " nu - 2 " more not verified"
      printf "%d|%d|%d|%d|%s\n", passed, failed, skipped, nu, note
    }'
}

# test_part PART INCLUDE EXCLUDE LIMIT: the suites matching INCLUDE but not
# EXCLUDE (extended regexes), found in the test binary's --list.
test_part() {
  local part=$1 regex=$2 exclude=$3 def=$4 suites limit filter
  log ""
  log "===== $part"
  if [ ! -x "$TEST_BIN" ]; then
    record "$part" FAIL - - - 0 - "$TEST_BIN missing: the build did not make it"
    say "$part: FAIL ($TEST_BIN missing)"
    return
  fi
  if ! "$TEST_BIN" --list >/dev/null 2>"$WORK/list.err"; then
    record "$part" FAIL - - - 0 - "$TEST_BIN --list failed: $(head -n 1 "$WORK/list.err" | cut -c 1-200)"
    say "$part: FAIL ($TEST_BIN does not start)"
    return
  fi
  suites=$(suites_matching "$regex" "$exclude")
  if [ -z "$suites" ]; then
    record "$part" FAIL - - - 0 - "no test suite matches $regex in $TEST_BIN --list"
    say "$part: FAIL (no suite matches $regex)"
    return
  fi
  limit=$(limit_for "$part" "$def")
  out_of_time "$part" && return
  filter="@($(echo $suites | tr ' ' '|'))/*"
  say "$part: $suites(limit $limit s)"
  local jobs=$(((cores + 3) / 4))
  run_limited "$limit" env DNL_BIN=bin OMP_NUM_THREADS=4 OPENBLAS_NUM_THREADS=4 \
    ${RUN_LIBS:+LD_LIBRARY_PATH=${RUN_LIBS#:}${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}} \
    "$TEST_BIN" --filter "$filter" --jobs "$jobs" --verbose --color=never
  local pass fail skip unverified note status
  IFS='|' read -r pass fail skip unverified note <<<"$(criterion_counts "$suites")"
  if [ $part_rc -eq 124 ]; then
    status=TIMEOUT note="stopped at the limit${note:+; $note}"
  elif [ $((pass + fail + skip)) -eq 0 ]; then
    status=FAIL note="exit status $part_rc, no test ran: $(last_error)"
  elif [ "$fail" -gt 0 ] || [ "$unverified" -gt 0 ] || [ $part_rc -ne 0 ]; then
    status=FAIL
  else
    status=ok
  fi
  record "$part" "$status" "$pass" "$fail" "$skip" "$part_secs" "$limit" "$note"
  say "$part: $status (passed $pass, failed $fail, skipped $skip${note:+; $note})"
}

# ---- benchmarks ----

BT_OURS="" BT_TWIN="" BT_OURS_MEM="" BT_TWIN_MEM="" BT_RATIO="" BT_TWIN_NOTE=""
bench_train_part() {
  local limit bin=$BUILD_DIR/bench/bench_train args=()
  log ""
  log "===== bench_train"
  [ "$fake" = 1 ] || args=(--device cuda --paper)
  limit=$(limit_for bench_train 180)
  out_of_time bench_train && return
  if [ ! -x "$bin" ]; then
    record bench_train FAIL - - - 0 "$limit" "$bin missing: the build did not make it"
    say "bench_train: FAIL ($bin missing)"
    return
  fi
  say "bench_train ${args[*]} (limit $limit s)"
  local mark
  mark=$(wc -l <"$LOG")
  run_limited "$limit" env ${TWIN_PY:+DNL_TWIN_PYTHON=$TWIN_PY} \
    ${RUN_LIBS:+LD_LIBRARY_PATH=${RUN_LIBS#:}${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}} \
    "$bin" "${args[@]}"
  local text
  text=$(tail -n +"$((mark + 1))" "$LOG")
  BT_OURS=$(sed -n 's/^dnl: *best *\([0-9.]*\) ms = *\([0-9.]*\) img\/s *median *\([0-9.]*\) ms = *\([0-9.]*\) img\/s.*/\2 best, \4 median (\1 ms best)/p' <<<"$text")
  BT_OURS_MEM=$(sed -n 's/^dnl memory: *peak \([0-9]*\) MiB.*device in use \([0-9]*\) MiB.*/\1 MiB peak (\2 MiB in use on the device)/p' <<<"$text")
  BT_TWIN=$(sed -n 's/^pytorch: best *\([0-9.]*\) ms = *\([0-9.]*\) img\/s *median *\([0-9.]*\) ms = *\([0-9.]*\) img\/s.*/\2 best, \4 median (\1 ms best)/p' <<<"$text")
  BT_TWIN_MEM=$(sed -n 's/^pytorch memory: peak \([0-9]*\) MiB allocated, \([0-9]*\) MiB reserved.*/\1 MiB peak allocated (\2 MiB reserved)/p' <<<"$text")
  BT_RATIO=$(sed -n 's/^dnl \/ pytorch: \(.*\)/\1/p' <<<"$text")
  BT_TWIN_NOTE=$(sed -n 's/^pytorch: not measured (\(.*\))$/not available: \1/p' <<<"$text" | head -n 1)
  local status=ok note=""
  if [ $part_rc -eq 124 ]; then
    status=TIMEOUT note="stopped at the limit"
  elif [ $part_rc -ne 0 ] || [ -z "$BT_OURS" ]; then
    status=FAIL note="exit status $part_rc: $(last_error)"
  fi
  [ -z "$BT_TWIN_NOTE" ] || note="${note:+$note; }twin $BT_TWIN_NOTE"
  record bench_train "$status" - - - "$part_secs" "$limit" "$note"
  say "bench_train: $status${note:+ ($note)}"
}

BA_ROWS="" BA_DIFFS="" BA_TARGETS="" BA_TWIN_NOTE=""
bench_attention_part() {
  local limit bin=$BUILD_DIR/bench/bench_attention args=()
  log ""
  log "===== bench_attention"
  [ "$fake" = 1 ] || args=(--device cuda)
  limit=$(limit_for bench_attention 90)
  out_of_time bench_attention && return
  if [ ! -x "$bin" ]; then
    record bench_attention FAIL - - - 0 "$limit" "$bin missing: the build did not make it"
    say "bench_attention: FAIL ($bin missing)"
    return
  fi
  say "bench_attention ${args[*]} (limit $limit s)"
  local mark
  mark=$(wc -l <"$LOG")
  run_limited "$limit" env ${TWIN_PY:+DNL_TWIN_PYTHON=$TWIN_PY} \
    ${RUN_LIBS:+LD_LIBRARY_PATH=${RUN_LIBS#:}${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}} \
    "$bin" "${args[@]}"
  local text
  text=$(tail -n +"$((mark + 1))" "$LOG")
  BA_ROWS=$(grep -E '^ *[0-9]+x[0-9]+ +[0-9]+ +(reference|fused|pytorch) ' <<<"$text")
  BA_DIFFS=$(grep -E 'fused vs reference' <<<"$text")
  BA_TARGETS=$(sed -n '/^targets at/,$p' <<<"$text" | grep -E '^(targets|  )')
  BA_TWIN_NOTE=$(sed -n 's/^pytorch: not measured (\(.*\))$/not available: \1/p' <<<"$text" | head -n 1)
  local status=ok note=""
  if [ $part_rc -eq 124 ]; then
    status=TIMEOUT note="stopped at the limit"
  elif [ $part_rc -ne 0 ] || [ -z "$BA_ROWS" ]; then
    status=FAIL note="exit status $part_rc: $(last_error)"
  fi
  [ -z "$BA_TWIN_NOTE" ] || note="${note:+$note; }twin $BA_TWIN_NOTE"
  record bench_attention "$status" - - - "$part_secs" "$limit" "$note"
  say "bench_attention: $status${note:+ ($note)}"
}

# ---- summary ----

summary_written=0
write_summary() {
  [ "$summary_written" = 0 ] || return 0
  summary_written=1
  local r name status pass fail skip secs limit note failed=0 p
  # parts asked for that have no result did not run
  for p in setup $parts; do
    local found=0
    for r in "${RESULTS[@]:-}"; do [ "${r%%|*}" = "$p" ] && found=1; done
    [ $found = 1 ] || record "$p" "NOT RUN" - - - - - "${NOT_RUN_WHY:-}"
  done
  {
    echo "# gpu-check summary"
    echo
    echo "$MODE_LINE."
    echo "Commit $(git describe --always --dirty 2>/dev/null || echo unknown), $(date -u '+%Y-%m-%d %H:%M UTC'), $cores cores; took $((SECONDS - start)) s of a $budget s budget. Full log: gpu-check.log."
    echo
    echo "| part | status | passed | failed | skipped | seconds (limit) | note |"
    echo "|---|---|---|---|---|---|---|"
    for r in "${RESULTS[@]}"; do
      IFS='|' read -r name status pass fail skip secs limit note <<<"$r"
      [ "$status" = ok ] || failed=1
      echo "| $name | $status | $pass | $fail | $skip | $secs ($limit) | ${note//|//} |"
    done
    if wants bench_train; then
      echo
      echo "## bench_train $([ "$fake" = 1 ] && echo '(CPU, tiny model: FAKE)' || echo '--device cuda --paper')"
      echo
      echo "| | ours | PyTorch |"
      echo "|---|---|---|"
      echo "| images/s | ${BT_OURS:-not measured} | ${BT_TWIN:-${BT_TWIN_NOTE:-not measured}} |"
      echo "| peak memory | ${BT_OURS_MEM:-not measured} | ${BT_TWIN_MEM:-${BT_TWIN_NOTE:-not measured}} |"
      [ -z "$BT_RATIO" ] || echo "| ours / PyTorch speed | $BT_RATIO | |"
    fi
    if wants bench_attention; then
      echo
      echo "## bench_attention $([ "$fake" = 1 ] && echo '(CPU: FAKE)' || echo '--device cuda')"
      echo
      if [ -n "$BA_ROWS" ]; then
        if [ "$fake" = 1 ]; then
          echo '```'
          echo "$BA_ROWS"
          echo '```'
        else
          echo "| size | P | kernel | ms | device MiB | used growth MiB | attention MiB |"
          echo "|---|---|---|---|---|---|---|"
          awk '{ printf "| %s | %s | %s | %s | %s | %s | %s |\n", $1, $2, $3, $4, $5, $6, $7 }' <<<"$BA_ROWS"
        fi
      else
        echo "not measured"
      fi
      [ -z "$BA_TWIN_NOTE" ] || { echo; echo "PyTorch twin: $BA_TWIN_NOTE"; }
      [ -z "$BA_DIFFS" ] || { echo; echo '```'; echo "$BA_DIFFS"; echo "$BA_TARGETS"; echo '```'; }
    fi
  } >"$SUMMARY"
  log ""
  log "===== summary"
  cat "$SUMMARY" >>"$LOG"
  echo
  cat "$SUMMARY"
  echo
  echo "gpu-check: log and summary in $out_dir"
  [ $failed = 0 ]
}

on_signal() {
  NOT_RUN_WHY="the check was interrupted"
  say "interrupted"
  write_summary
  exit 1
}
trap on_signal INT TERM

# ---- the parts ----

NOT_RUN_WHY=""
if setup_part && { ! wants build || build_part; }; then
  if [ "$fake" = 1 ]; then
    wants ops && test_part ops 'elementwise|pooling|maxpool|ce_loss|attention' '' 90
    wants train && test_part train 'train_device|sgd' '' 90
    wants dist && test_part dist 'dist' '' 90
  else
    wants ops && test_part ops 'cuda_.*|backend_transfer' 'cuda_train|cuda_dist' 120
    wants train && test_part train 'cuda_train|train_device|gpu_slots' '' 120
    wants dist && test_part dist 'cuda_dist' '' 120
  fi
  wants bench_train && bench_train_part
  wants bench_attention && bench_attention_part
else
  NOT_RUN_WHY="$(grep -q '^setup|ok' <<<"${RESULTS[*]}" && echo 'the build failed' || echo 'setup failed')"
fi
write_summary
