# dnl: build, tests, benchmarks.  `make help` lists the targets.
MODE ?= release
CUDA ?= 0
CUDA_HOME ?= /usr/local/cuda
CUDA_ARCH ?= 90

BUILD := build/$(MODE)$(if $(filter 1,$(CUDA)),-cuda)
# programs: bin/ for the normal build, inside build/ for sanitizer builds
BIN := $(if $(filter release,$(MODE)),bin,$(BUILD)/bin)
CC := gcc
NVCC := $(CUDA_HOME)/bin/nvcc

HDF5_CFLAGS := $(shell pkg-config --cflags hdf5 2>/dev/null || echo -I/usr/include/hdf5/serial)
HDF5_LIBS := $(shell pkg-config --libs hdf5 2>/dev/null || echo -L/usr/lib/x86_64-linux-gnu/hdf5/serial -lhdf5)

# jansson parses safetensors headers, libzip reads PyTorch's zip checkpoints (lib/weights)
WEIGHTS_CFLAGS := $(shell pkg-config --cflags jansson libzip 2>/dev/null)
WEIGHTS_LIBS := $(shell pkg-config --libs jansson libzip 2>/dev/null || echo -ljansson -lzip)

WARN := -Wall -Wextra -Werror -Wno-unknown-pragmas
GIT_VERSION := $(shell git describe --always --dirty 2>/dev/null || echo unknown)
CFLAGS := -std=c11 -g -fopenmp $(WARN) -D_GNU_SOURCE -I. $(HDF5_CFLAGS) $(WEIGHTS_CFLAGS)
LDLIBS := -fopenmp -lopenblas -lconfig -lpng -ljpeg $(HDF5_LIBS) $(WEIGHTS_LIBS) -lpthread -lm

# MPI for data-parallel training under mpirun (lib/dist/dist_mpi.c, docs/distributed.md):
# on when pkg-config finds it, MPI=0 builds without
MPI ?= $(shell pkg-config --exists mpi-c 2>/dev/null && echo 1 || echo 0)
ifeq ($(MPI),1)
  MPI_CFLAGS := -DDNL_WITH_MPI $(shell pkg-config --cflags mpi-c)
  LDLIBS += $(shell pkg-config --libs mpi-c)
endif

ifeq ($(MODE),asan)
  CFLAGS += -O1 -fno-omit-frame-pointer -fsanitize=address,undefined -fno-sanitize-recover=undefined
  LDLIBS += -fsanitize=address,undefined
else
  CFLAGS += -O3
endif

# folders of libraries outside the usual paths (cuDNN or NCCL from a Python
# wheel, say; tools/gpu_check.sh finds them): -I... and -L... -Wl,-rpath,...
EXTRA_INCLUDES ?=
EXTRA_LDFLAGS ?=

ifeq ($(CUDA),1)
  CFLAGS += -DDNL_WITH_CUDA -I$(CUDA_HOME)/include $(EXTRA_INCLUDES)
  NVFLAGS := -O3 -std=c++17 -I. -DDNL_WITH_CUDA $(EXTRA_INCLUDES) \
             --compiler-options -Wall,-Wextra,-Werror -Werror all-warnings \
             -gencode arch=compute_$(CUDA_ARCH),code=[sm_$(CUDA_ARCH),compute_$(CUDA_ARCH)]
  LDLIBS += $(EXTRA_LDFLAGS) -L$(CUDA_HOME)/lib64 -Wl,-rpath,$(CUDA_HOME)/lib64 -lcudnn -lcublas \
            -lcudart -lstdc++
  CUDA_SRC := $(wildcard lib/cuda/*.cu)
endif

# NCCL sums the CUDA backend's buffers over mpirun's ranks (lib/dist/dist_nccl.c)
ifeq ($(CUDA)$(MPI),11)
  NCCL_CFLAGS := -DDNL_WITH_NCCL
  LDLIBS += -lnccl
endif

# everything but the two programs' main() goes into libdnl.a, so tests can call it
LIB_SRC := $(wildcard lib/*/*.c blocks/*.c data/*.c net/*.c) \
  $(filter-out runner/main.c analysis/main.c,$(wildcard runner/*.c analysis/*.c))
LIB_OBJ := $(LIB_SRC:%.c=$(BUILD)/%.o) $(CUDA_SRC:%.cu=$(BUILD)/%.cu.o)
RUNNER_OBJ := $(BUILD)/runner/main.o
ANALYSIS_OBJ := $(BUILD)/analysis/main.o
TEST_OBJ := $(patsubst %.c,$(BUILD)/%.o,$(wildcard tests/*.c))
BENCH_SRC := $(wildcard bench/*.c)
BENCH_BIN := $(BENCH_SRC:bench/%.c=$(BUILD)/bench/%)
LIBDNL := $(BUILD)/libdnl.a
TEST_BIN := $(BUILD)/tests/dnl_tests
# test runner flags (Criterion), e.g. make test TEST_ARGS='--filter conv2d/*'
TEST_ARGS ?=

DEB_PACKAGES := build-essential pkg-config libopenblas-dev libconfig-dev libhdf5-dev \
  hdf5-tools libpng-dev libjpeg62-turbo-dev gnuplot-nox libcriterion-dev openmpi-bin \
  libopenmpi-dev libjansson-dev libzip-dev

# only for tests/test_sweep_slurm.c (a one-node Slurm started by the test): make test-deps
DEB_TEST_PACKAGES := slurmctld slurmd slurm-client munge

.PHONY: all deps test-deps test check-layers asan bench clean help run gpu-check published-check
all: $(BIN)/runner $(BIN)/analysis

help:
	@echo "make deps       install the Debian packages the project needs"
	@echo "make test-deps  also those only the tests use (Slurm and munge for the --slurm test)"
	@echo "make            build bin/runner and bin/analysis (CPU backend)"
	@echo "make CUDA=1     also build the CUDA backend (lib/cuda, nvcc)"
	@echo "make MPI=0      build without MPI (on when pkg-config finds it: mpirun training)"
	@echo "make test       check-layers, then build and run the whole test suite"
	@echo "make check-layers  includes against the layers of docs/architecture.md, no cycles"
	@echo "make asan       the same tests under AddressSanitizer + UBSan"
	@echo "make bench      build and run the benchmarks"
	@echo "make gpu-check  on a GPU machine: CUDA build, GPU tests and benchmarks in one timed"
	@echo "                check (docs/gpu.md; output in \$$OUT or build/gpu-check)"
	@echo "make published-check  a full-size published-layout ResNet-101 + DNL imported and"
	@echo "                evaluated with its README row's config (python3-torch; slow)"
	@echo "make run        deps + build + the default sweep (SWEEP=...) + plots + table"

test-deps: PACKAGES = $(DEB_PACKAGES) $(DEB_TEST_PACKAGES)
deps: PACKAGES = $(DEB_PACKAGES)
deps test-deps:
	@missing=$$(for p in $(PACKAGES); do \
	    dpkg-query -W -f='$${Status}' $$p 2>/dev/null | grep -q 'install ok installed' || echo $$p; \
	  done); \
	if [ -z "$$missing" ]; then echo "deps: all Debian packages present"; exit 0; fi; \
	echo "deps: installing $$missing"; \
	SUDO=; [ "$$(id -u)" = 0 ] || SUDO=sudo; \
	$$SUDO apt-get update -qq && \
	DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq --no-install-recommends $$missing

$(BUILD)/lib/core/version.o: CFLAGS += -DDNL_GIT_VERSION='"$(GIT_VERSION)"'
$(BUILD)/lib/core/version.o: $(wildcard .git/HEAD .git/refs/heads/*)

# only lib/dist/dist_mpi.c includes mpi.h; it is rebuilt when MPI= changes
MPI_FLAG := $(BUILD)/mpi.flag
$(shell mkdir -p $(BUILD) && echo $(MPI) | cmp -s - $(MPI_FLAG) || echo $(MPI) > $(MPI_FLAG))
$(BUILD)/lib/dist/dist_mpi.o: CFLAGS += $(MPI_CFLAGS)
$(BUILD)/lib/dist/dist_mpi.o: $(MPI_FLAG)
$(BUILD)/lib/dist/dist_nccl.o: CFLAGS += $(NCCL_CFLAGS)
$(BUILD)/lib/dist/dist_nccl.o: $(MPI_FLAG)

$(BUILD)/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -MMD -MP -c $< -o $@

# the kernels are rebuilt when CUDA_ARCH changes
ARCH_FLAG := $(BUILD)/cuda_arch.flag
ifeq ($(CUDA),1)
  $(shell echo $(CUDA_ARCH) | cmp -s - $(ARCH_FLAG) || echo $(CUDA_ARCH) > $(ARCH_FLAG))
endif

$(BUILD)/%.cu.o: %.cu $(if $(filter 1,$(CUDA)),$(ARCH_FLAG))
	@mkdir -p $(dir $@)
	$(NVCC) $(NVFLAGS) -MMD -MP -c $< -o $@

$(LIBDNL): $(LIB_OBJ)
	@mkdir -p $(dir $@)
	rm -f $@ && ar rcs $@ $^

$(BIN)/runner: $(RUNNER_OBJ) $(LIBDNL)
	@mkdir -p $(BIN)
	$(CC) -o $@ $^ $(LDLIBS)

$(BIN)/analysis: $(ANALYSIS_OBJ) $(LIBDNL)
	@mkdir -p $(BIN)
	$(CC) -o $@ $^ $(LDLIBS)

$(TEST_BIN): $(TEST_OBJ) $(LIBDNL)
	@mkdir -p $(dir $@)
	$(CC) -o $@ $^ $(LDLIBS) -lcriterion

# the folder layering and include cycles (docs/architecture.md, "Layers")
check-layers:
	@tests/check_layers.sh

test: $(TEST_BIN) all check-layers
	OMP_NUM_THREADS=$${OMP_NUM_THREADS:-2} OPENBLAS_NUM_THREADS=$${OPENBLAS_NUM_THREADS:-2} \
	  DNL_BIN=$(BIN) $(abspath $(TEST_BIN)) --jobs 2 $(TEST_ARGS)

# Sanitizer reports go to files, and any report fails the target: LeakSanitizer
# reports when a test worker exits, after Criterion has counted the test passed.
SAN_LOG := build/asan/sanitizer-reports
asan:
	@rm -rf $(SAN_LOG) && mkdir -p $(SAN_LOG)
	@ASAN_OPTIONS=$${ASAN_OPTIONS:+$$ASAN_OPTIONS:}log_path=$(CURDIR)/$(SAN_LOG)/asan:fast_unwind_on_malloc=0 \
	  LSAN_OPTIONS=$${LSAN_OPTIONS:+$$LSAN_OPTIONS:}suppressions=$(CURDIR)/tests/lsan.supp:print_suppressions=0 \
	  UBSAN_OPTIONS=$${UBSAN_OPTIONS:+$$UBSAN_OPTIONS:}print_stacktrace=1:log_path=$(CURDIR)/$(SAN_LOG)/ubsan \
	  $(MAKE) MODE=asan test; rc=$$?; \
	if [ -n "$$(ls -A $(SAN_LOG))" ]; then \
	  cat $(SAN_LOG)/*; echo "asan: FAILED, sanitizer reports above (kept in $(SAN_LOG)/)"; exit 1; \
	fi; exit $$rc

$(BUILD)/bench/%: bench/%.c $(LIBDNL)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -o $@ $< $(LIBDNL) $(LDLIBS)

# each benchmark starts once the previous one's writes are on disk (bench_checkpoint
# leaves write-back that slowed the next one by half)
bench: $(BENCH_BIN)
	@for b in $(BENCH_BIN); do echo "== $$b"; ./$$b || exit 1; sync; sleep 1; done

# A full-size checkpoint of the authors' layout, imported and evaluated (docs/pretrained.md)
published-check: all
	DNL_BIN=$(BIN) tests/reference/published_check.sh

# The main job on a fresh machine: dependencies, build, the default sweep
# (synthetic data generated on first use), its plots and its table.
SWEEP ?= experiments/ablation.cfg
SWEEP_NAME ?= $(shell sed -n 's/^ *name *= *"\([^"]*\)".*/\1/p' $(SWEEP) | head -n 1)
JOBS ?= 2
run:
	$(MAKE) deps
	$(MAKE) -j2 all
	./bin/runner sweep $(SWEEP) --jobs $(JOBS)
	./bin/analysis plot results/$(SWEEP_NAME)/*.h5 -o results/$(SWEEP_NAME)/plots
	./bin/analysis table results/$(SWEEP_NAME)/*.h5 | tee results/$(SWEEP_NAME)/table.md

# On a machine with a GPU: build for its compute capability, run the CUDA tests,
# a data-parallel step and the GPU benchmarks, each under a time limit, within 8
# minutes; the log and summary go to $OUT (when set) or build/gpu-check. Without
# a GPU it says so in one line and fails. GPU_CHECK_ARGS: e.g. --fake, --parts.
GPU_CHECK_ARGS ?=
ifneq ($(filter gpu-check,$(MAKECMDGOALS)),)
  # no GPU: the script's one line as make's only line
  GPU_CHECK_NO_GPU := $(shell tools/gpu_check.sh --no-gpu-reason $(GPU_CHECK_ARGS) 2>&1)
  ifneq ($(GPU_CHECK_NO_GPU),)
    $(error $(GPU_CHECK_NO_GPU))
  endif
endif
gpu-check:
	@tools/gpu_check.sh $(GPU_CHECK_ARGS)

clean:
	rm -rf build bin

-include $(shell find $(BUILD) -name '*.d' 2>/dev/null)
