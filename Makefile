# dlab — the one entry point.
#
#   make                  build libdlab, libdlbench, every lesson and test (runs scripts/setup first)
#   make lesson-1 && ./run    build lesson 1 and point ./run at it
#   make test             build everything, run unit tests, gradient checks, lesson smoke tests
#   make test SANITIZE=1  the CPU tests under AddressSanitizer + UBSan (build-san/)
#   make test-gpu         every CUDA variant against the CPU reference (needs a GPU)
#   make bench            time every matmul variant (results/bench/), int8 vs fp32 GEMM, and with a GPU the GPU benches
#   make bench-gpu        CUDA matmul variants, every CUDA op against the device peaks, training GPU vs CPU
#   make install PREFIX=… headers, static libraries, pkg-config files (dlab.pc, dlbench.pc)
#   make regress          every lesson's results/<lesson>/summary.csv against results/baseline/ (rules.csv)
#   make baseline         copy the complete runs' summary.csv files into results/baseline/
#   make report [QUICK=1] every lesson and benchmark → results/REPORT.md, results/report.html (roofline)
#   make report-check     render report.html in headless Chromium; fail if an image or table is missing
#   make handout          the course handout: solution blocks replaced by stubs (build/handout/dlab)
#   make grade LESSON=N [SUBMISSION=dir]   a student's tree: tests (hidden ones too) and speed vs this tree
#   make clean
#
# Knobs: CC, NVCC, CUDA_ARCH (default sm_90), NO_CUDA=1, NO_OPENMP=1, OPT (default -O3),
#        DLAB_NO_SETUP=1 (skip scripts/setup).

.DEFAULT_GOAL := all
SHELL := /bin/bash

# ---------------------------------------------------------------- set-up
# Install missing Debian packages before anything is detected (fast when all are there).
ifeq ($(filter clean help,$(MAKECMDGOALS)),)
ifneq ($(DLAB_NO_SETUP),1)
ifeq ($(MAKELEVEL),0)
$(shell scripts/setup --if-needed >&2)
endif
endif
endif

# ---------------------------------------------------------------- build dirs and flags
ifeq ($(SANITIZE),1)
BUILD ?= build-san
NO_CUDA := 1
SANFLAGS := -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined
else
BUILD ?= build
SANFLAGS :=
endif

CC ?= cc
OPT ?= -O3
CPPFLAGS := -D_GNU_SOURCE -Ikernels/include -Iharness/include
CFLAGS := -std=c11 -Wall -Wextra -Werror -g $(OPT) -fPIC $(SANFLAGS)
LDFLAGS := $(SANFLAGS)
LDLIBS := -lm -lpthread

# ---------------------------------------------------------------- feature detection
have_cmd = $(shell command -v $(1) >/dev/null 2>&1 && echo 1)
have_pc = $(shell pkg-config --exists $(1) 2>/dev/null && echo 1)

ifneq ($(NO_OPENMP),1)
HAVE_OPENMP := $(shell echo 'int main(void){return 0;}' | $(CC) -fopenmp -x c - -o /dev/null 2>/dev/null && echo 1)
endif
ifeq ($(HAVE_OPENMP),1)
CFLAGS += -fopenmp
LDFLAGS += -fopenmp
CPPFLAGS += -DDL_HAVE_OPENMP=1
endif

HAVE_OPENBLAS := $(call have_pc,openblas)
ifeq ($(HAVE_OPENBLAS),1)
CPPFLAGS += -DDL_HAVE_OPENBLAS=1 $(shell pkg-config --cflags openblas)
LDLIBS += $(shell pkg-config --libs openblas)
endif

HAVE_ZLIB := $(call have_pc,zlib)
ifeq ($(HAVE_ZLIB),1)
CPPFLAGS += -DDL_HAVE_ZLIB=1
LDLIBS += -lz
endif

HAVE_CMOCKA := $(call have_pc,cmocka)
HAVE_GNUPLOT := $(call have_cmd,gnuplot)
HAVE_MPI := $(call have_cmd,mpicc)

CUDA_HOME ?= $(firstword $(wildcard /usr/local/cuda /usr/local/cuda-13.0 /usr/lib/cuda))
NVCC ?= $(or $(shell command -v nvcc 2>/dev/null),$(wildcard $(CUDA_HOME)/bin/nvcc))
# -arch follows the GPU that nvidia-smi finds (compute capability 9.0 → sm_90); sm_90 without one.
GPU_CC := $(shell nvidia-smi --query-gpu=compute_cap --format=csv,noheader 2>/dev/null | head -n 1 | tr -d '. ')
CUDA_ARCH ?= $(if $(GPU_CC),sm_$(GPU_CC),sm_90)
ifeq ($(NO_CUDA),1)
NVCC :=
endif
ifneq ($(NVCC),)
HAVE_CUDA := 1
CUDA_LIBDIR := $(firstword $(wildcard $(CUDA_HOME)/lib64 $(CUDA_HOME)/lib))
HAVE_CUBLAS := $(if $(wildcard $(CUDA_LIBDIR)/libcublas.so*),1)
HAVE_CUDNN := $(if $(and $(wildcard $(CUDA_HOME)/include/cudnn.h /usr/include/cudnn.h /usr/local/include/cudnn.h),$(wildcard $(CUDA_LIBDIR)/libcudnn.so* /usr/lib/x86_64-linux-gnu/libcudnn.so*)),1)
HAVE_NCCL := $(if $(wildcard $(CUDA_HOME)/include/nccl.h /usr/include/nccl.h /usr/local/include/nccl.h),1)
CPPFLAGS += -DDL_HAVE_CUDA=1 -DDLB_HAVE_CUDA=1 -I$(CUDA_HOME)/include
NVCCFLAGS := -arch=$(CUDA_ARCH) -O3 -g -std=c++17 -Xcompiler -fPIC,-Wall -Werror all-warnings \
             -D_GNU_SOURCE -DDL_HAVE_CUDA=1 -DDLB_HAVE_CUDA=1 -Ikernels/include -Iharness/include
ifeq ($(HAVE_CUDNN),1)
LDLIBS += -L$(CUDA_LIBDIR) -lcudnn
else
NVCCFLAGS += -DDL_NO_CUDNN=1
endif
ifeq ($(HAVE_CUBLAS),1)
# cuBLASLt (the int8 GEMM's cublaslt variant) ships with cuBLAS.
CPPFLAGS += -DDL_HAVE_CUBLASLT=1
NVCCFLAGS += -DDL_HAVE_CUBLASLT=1
LDLIBS += -L$(CUDA_LIBDIR) -Wl,-rpath,$(CUDA_LIBDIR) -lcublasLt -lcublas -lcudart -lstdc++
else
NVCCFLAGS += -DDL_NO_CUBLAS=1
LDLIBS += -L$(CUDA_LIBDIR) -Wl,-rpath,$(CUDA_LIBDIR) -lcudart -lstdc++
endif
endif

# A GPU that nvidia-smi lists, in a build with CUDA: `make bench` then also runs the GPU benchmarks.
HAVE_GPU := $(if $(HAVE_CUDA),$(if $(shell nvidia-smi -L 2>/dev/null | grep -m1 '^GPU '),1))

mark = $(if $(1),✓,✗)
ifeq ($(MAKELEVEL),0)
ifeq ($(filter clean help,$(MAKECMDGOALS)),)
$(info dlab features:)
$(info   $(call mark,$(HAVE_OPENMP)) OpenMP)
$(info   $(call mark,$(HAVE_CUDA)) CUDA (nvcc$(if $(HAVE_CUDA), $(NVCC) -arch=$(CUDA_ARCH),: not found, CPU-only build)))
$(info   $(call mark,$(HAVE_CUBLAS)) cuBLAS)
$(info   $(call mark,$(HAVE_CUDNN)) cuDNN)
$(info   $(call mark,$(HAVE_GPU)) GPU (nvidia-smi -L))
$(info   $(call mark,$(HAVE_NCCL)) NCCL)
$(info   $(call mark,$(HAVE_MPI)) MPI (mpicc))
$(info   $(call mark,$(HAVE_OPENBLAS)) OpenBLAS)
$(info   $(call mark,$(HAVE_ZLIB)) zlib)
$(info   $(call mark,$(HAVE_GNUPLOT)) gnuplot)
$(info   $(call mark,$(HAVE_CMOCKA)) cmocka (tests))
endif
endif

# Recorded in run.json so every result says how it was built.
BUILD_FLAGS := $(CC) $(CFLAGS)
CPPFLAGS += -DDLB_BUILD_FLAGS='"$(BUILD_FLAGS)"'

# Objects depend on the flags they were built with: changing NO_CUDA, OPT, CC ... rebuilds.
FLAGS_STAMP := $(BUILD)/.flags
FLAGS_NOW := $(CC) $(CPPFLAGS) $(CFLAGS) $(LDFLAGS) | $(NVCC) $(NVCCFLAGS)
ifneq ($(FLAGS_NOW),$(file < $(FLAGS_STAMP)))
$(shell mkdir -p $(BUILD))
$(file > $(FLAGS_STAMP),$(FLAGS_NOW))
endif

# ---------------------------------------------------------------- sources
KERNEL_SRCS := $(shell find kernels -name '*.c' | sort)
HARNESS_SRCS := $(shell find harness -name '*.c' | sort)
ifeq ($(HAVE_CUDA),1)
KERNEL_CU := $(shell find kernels -name '*.cu' | sort)
HARNESS_CU := $(shell find harness -name '*.cu' | sort)
endif
KERNEL_OBJS := $(KERNEL_SRCS:%.c=$(BUILD)/obj/%.o) $(KERNEL_CU:%.cu=$(BUILD)/obj/%.cu.o)
HARNESS_OBJS := $(HARNESS_SRCS:%.c=$(BUILD)/obj/%.o) $(HARNESS_CU:%.cu=$(BUILD)/obj/%.cu.o)
LIBDLAB := $(BUILD)/lib/libdlab.a
LIBDLBENCH := $(BUILD)/lib/libdlbench.a
LIBS := $(LIBDLBENCH) $(LIBDLAB)

# Lessons: lessons/NN-name/*.c, lesson.c has main(); the other files can be linked by tests.
LESSON_DIRS := $(patsubst %/,%,$(sort $(dir $(wildcard lessons/[0-9][0-9]-*/lesson.c))))
lesson_num = $(firstword $(subst -, ,$(notdir $(1))))
lesson_bin = $(BUILD)/bin/lesson-$(call lesson_num,$(1))
# lessons/common/*.c: code several lessons share (e.g. the trained GPT they start from).
LESSON_COMMON_OBJS := $(patsubst %.c,$(BUILD)/obj/%.o,$(wildcard lessons/common/*.c))
lesson_objs = $(patsubst %.c,$(BUILD)/obj/%.o,$(filter-out $(1)/lesson.c,$(wildcard $(1)/*.c))) $(LESSON_COMMON_OBJS)
LESSON_BINS := $(foreach d,$(LESSON_DIRS),$(call lesson_bin,$(d)))

BENCH_SRCS := $(wildcard bench/*.c)
BENCH_BINS := $(BENCH_SRCS:bench/%.c=$(BUILD)/bin/bench-%)

TEST_SRCS := $(wildcard tests/test_*.c)
TEST_BINS := $(TEST_SRCS:tests/%.c=$(BUILD)/tests/%)
TEST_GPU_SRCS := $(wildcard tests/gpu_*.c)
TEST_GPU_BINS := $(TEST_GPU_SRCS:tests/%.c=$(BUILD)/tests/%)

# ---- MPI (lesson 6)
# The collectives (kernels/ops/collective/) need MPI, so they go into their own
# $(BUILD)/lib/libdlab_mpi.a, never into libdlab.a: programs that do not use MPI do not
# link it. Lesson 6 and the tests that use MPI (tests/test_collective*.c, test_lesson06.c)
# get MPI's include path and libraries from `mpicc --showme`. Without mpicc they are skipped.
MPI_DIR := kernels/ops/collective
MPI_LESSON_DIR := lessons/06-ring-allreduce
MPI_TEST_NAMES := $(notdir $(basename $(wildcard tests/test_collective*.c tests/test_lesson06.c)))
KERNEL_OBJS := $(filter-out $(BUILD)/obj/$(MPI_DIR)/%,$(KERNEL_OBJS))
LESSON_DIRS := $(filter-out $(MPI_LESSON_DIR),$(LESSON_DIRS))
TEST_BINS := $(filter-out $(addprefix $(BUILD)/tests/,$(MPI_TEST_NAMES)),$(TEST_BINS))
ifeq ($(HAVE_MPI),1)
MPI_CPPFLAGS := $(shell mpicc --showme:compile)
MPI_LDLIBS := $(shell mpicc --showme:link)
LIBDLAB_MPI := $(BUILD)/lib/libdlab_mpi.a
MPI_OBJS := $(patsubst %.c,$(BUILD)/obj/%.o,$(wildcard $(MPI_DIR)/*.c))
MPI_LESSON_BIN := $(BUILD)/bin/lesson-06
MPI_LESSON_OBJS := $(patsubst %.c,$(BUILD)/obj/%.o,$(filter-out $(MPI_LESSON_DIR)/lesson.c,$(wildcard $(MPI_LESSON_DIR)/*.c)))
LESSON_BINS := $(foreach d,$(LESSON_DIRS),$(call lesson_bin,$(d))) $(if $(wildcard $(MPI_LESSON_DIR)/lesson.c),$(MPI_LESSON_BIN))
TEST_BINS += $(addprefix $(BUILD)/tests/,$(MPI_TEST_NAMES))
$(BUILD)/obj/$(MPI_DIR)/%.o $(BUILD)/obj/$(MPI_LESSON_DIR)/%.o: CPPFLAGS += $(MPI_CPPFLAGS)
$(addprefix $(BUILD)/obj/tests/,$(addsuffix .o,$(MPI_TEST_NAMES))): CPPFLAGS += $(MPI_CPPFLAGS)
$(LIBDLAB_MPI): $(MPI_OBJS)
	@mkdir -p $(@D)
	rm -f $@ && ar rcs $@ $^
$(MPI_LESSON_BIN): $(BUILD)/obj/$(MPI_LESSON_DIR)/lesson.o $(MPI_LESSON_OBJS) $(LESSON_COMMON_OBJS) $(LIBDLAB_MPI) $(LIBS)
	@mkdir -p $(@D)
	$(CC) $(LDFLAGS) $^ $(LDLIBS) $(MPI_LDLIBS) -o $@
$(BUILD)/tests/test_lesson06: $(BUILD)/obj/tests/test_lesson06.o $(MPI_LESSON_OBJS) $(LESSON_COMMON_OBJS) $(LIBDLAB_MPI) $(LIBS)
	@mkdir -p $(@D)
	$(CC) $(LDFLAGS) $^ $(LDLIBS) $(MPI_LDLIBS) -lcmocka -o $@
$(addprefix $(BUILD)/tests/,$(filter test_collective%,$(MPI_TEST_NAMES))): $(BUILD)/tests/%: $(BUILD)/obj/tests/%.o $(LIBDLAB_MPI) $(LIBS)
	@mkdir -p $(@D)
	$(CC) $(LDFLAGS) $^ $(LDLIBS) $(MPI_LDLIBS) -lcmocka -o $@
.PHONY: lesson-06 lesson-6
lesson-06 lesson-6: $(MPI_LESSON_BIN)
	ln -sfn $(MPI_LESSON_BIN) run
	@echo "built $(MPI_LESSON_DIR): now ./run   (./run --help for options; it starts mpirun itself)"
else
LESSON_BINS := $(foreach d,$(LESSON_DIRS),$(call lesson_bin,$(d)))
ifeq ($(MAKELEVEL),0)
ifeq ($(filter clean help,$(MAKECMDGOALS)),)
$(info   ✗ lesson 06 (ring-allreduce) and its tests skipped: no mpicc (scripts/setup installs openmpi-bin libopenmpi-dev))
endif
endif
endif
# ---- end MPI

# ---------------------------------------------------------------- rules
.PHONY: all libs lessons tests bench bench-gpu test test-gpu install clean help regress baseline handout grade report report-check
all: libs lessons $(BENCH_BINS) $(if $(HAVE_CMOCKA),tests)
libs: $(LIBS)
lessons: $(LESSON_BINS)
tests: $(TEST_BINS) $(if $(HAVE_CUDA),$(TEST_GPU_BINS))

$(BUILD)/obj/%.o: %.c $(FLAGS_STAMP)
	@mkdir -p $(@D)
	$(CC) $(CPPFLAGS) $(CFLAGS) -MMD -MP -c $< -o $@

$(BUILD)/obj/%.cu.o: %.cu $(FLAGS_STAMP)
	@mkdir -p $(@D)
	$(NVCC) $(NVCCFLAGS) -MMD -MP -c $< -o $@

$(LIBDLAB): $(KERNEL_OBJS)
	@mkdir -p $(@D)
	rm -f $@ && ar rcs $@ $^

$(LIBDLBENCH): $(HARNESS_OBJS)
	@mkdir -p $(@D)
	rm -f $@ && ar rcs $@ $^

define lesson_rules
$(call lesson_bin,$(1)): $(BUILD)/obj/$(1)/lesson.o $(call lesson_objs,$(1)) $(LIBS)
	@mkdir -p $$(@D)
	$$(CC) $$(LDFLAGS) $$^ $$(LDLIBS) -o $$@
.PHONY: lesson-$(call lesson_num,$(1)) lesson-$(patsubst 0%,%,$(call lesson_num,$(1)))
lesson-$(call lesson_num,$(1)) lesson-$(patsubst 0%,%,$(call lesson_num,$(1))): $(call lesson_bin,$(1))
	ln -sfn $(call lesson_bin,$(1)) run
	@echo "built $(1): now ./run   (./run --help for options)"
endef
$(foreach d,$(LESSON_DIRS),$(eval $(call lesson_rules,$(d))))

$(BUILD)/bin/bench-%: $(BUILD)/obj/bench/%.o $(LIBS)
	@mkdir -p $(@D)
	$(CC) $(LDFLAGS) $^ $(LDLIBS) -o $@

# A test named test_lessonNN links lesson NN's non-main objects.
test_lesson_objs = $(foreach d,$(filter lessons/$(patsubst test_lesson%,%,$(1))-%,$(LESSON_DIRS)),$(call lesson_objs,$(d)))
.SECONDARY:
.SECONDEXPANSION:
$(BUILD)/tests/%: $(BUILD)/obj/tests/%.o $$(call test_lesson_objs,%) $(LIBS)
	@mkdir -p $(@D)
	$(CC) $(LDFLAGS) $^ $(LDLIBS) -lcmocka -o $@

test: all
	@BUILD=$(BUILD) SANITIZE=$(SANITIZE) scripts/run-tests

test-gpu: all
	@BUILD=$(BUILD) scripts/run-tests --gpu

# The GPU half of the benchmarks: every CUDA op against the device's measured peaks
# (results/bench-gpu/), then training throughput of the MLP and the GPT, CPU then GPU.
define BENCH_GPU_STEPS
	$(BUILD)/bin/bench-ops_gpu
	$(BUILD)/bin/bench-train_mlp
	$(BUILD)/bin/bench-train_mlp --device cuda
	$(BUILD)/bin/bench-train_gpt
	$(BUILD)/bin/bench-train_gpt --device cuda
endef

bench: all
	@mkdir -p results/bench
	env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE $(BUILD)/bin/bench-matmul $(if $(HAVE_GPU),--device cuda) $(BENCH_ARGS)
	$(BUILD)/bin/bench-int8_gemm
	$(if $(HAVE_GPU),$(BENCH_GPU_STEPS))

# make install PREFIX=/usr/local: headers, static libraries and pkg-config files
# (dlab.pc, dlbench.pc), so another program builds with `pkg-config --cflags --libs dlab`.
PREFIX ?= /usr/local
install: libs
	install -d $(PREFIX)/include/dlab $(PREFIX)/lib/pkgconfig
	install -m 644 kernels/include/dlab/*.h $(PREFIX)/include/dlab/
	install -m 644 harness/include/dlbench.h $(PREFIX)/include/
	install -m 644 $(LIBDLAB) $(LIBDLBENCH) $(PREFIX)/lib/
	printf 'prefix=%s\nName: dlab\nDescription: dlab kernel library\nVersion: 0.1.0\nCflags: -I$${prefix}/include\nLibs: -L$${prefix}/lib -ldlab %s\n' \
	  '$(abspath $(PREFIX))' '$(LDFLAGS) $(LDLIBS)' > $(PREFIX)/lib/pkgconfig/dlab.pc
	printf 'prefix=%s\nName: dlbench\nDescription: dlab timing harness\nVersion: 0.1.0\nCflags: -I$${prefix}/include\nLibs: -L$${prefix}/lib -ldlbench %s\n' \
	  '$(abspath $(PREFIX))' '$(LDFLAGS) $(LDLIBS)' > $(PREFIX)/lib/pkgconfig/dlbench.pc

bench-gpu: all
	env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE $(BUILD)/bin/bench-matmul --device cuda $(BENCH_ARGS)
	$(BENCH_GPU_STEPS)

# Compare the last runs with the committed baseline (per-metric rules in results/baseline/).
regress:
	@scripts/regress

# Refresh the baseline from every complete run in results/ (run.json says "complete": true).
baseline:
	@n=0; for d in results/*/; do name=$$(basename $$d); \
	  case $$name in baseline|machine) continue;; esac; \
	  if [ -f $$d/summary.csv ] && grep -q '"complete": *true' $$d/run.json 2>/dev/null; then \
	    mkdir -p results/baseline/$$name && cp $$d/summary.csv results/baseline/$$name/ && \
	    echo "baseline: results/baseline/$$name/summary.csv" && n=$$((n + 1)); \
	  elif [ -f $$d/summary.csv ]; then echo "baseline: skipped $$name (its run.json is not complete)"; fi; \
	done; echo "baseline: $$n summaries copied; review with git diff results/baseline, then commit"

report: all
	@scripts/setup --if-needed --report
	@BUILD=$(BUILD) scripts/report $(if $(QUICK),--quick)

report-check:
	@scripts/setup --if-needed --report
	@scripts/report-check

handout:
	@scripts/handout

grade:
	@test -n "$(LESSON)" || { echo "make grade: say which lesson: make grade LESSON=N [SUBMISSION=dir]" >&2; exit 2; }
	@scripts/grade $(LESSON) $(SUBMISSION)

clean:
	rm -rf build build-san run

help:
	@sed -n '3,21p' Makefile | cut -c3-

-include $(shell find $(BUILD)/obj -name '*.d' 2>/dev/null)
