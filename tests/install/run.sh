#!/usr/bin/env bash
# Installs cfutures under a temporary prefix and builds programs against it the ways a user
# would, with no paths into the source tree other than the sources being compiled:
#   pkg-config  the README C quick start (C99) and examples/cpp/submit_pow.cpp (C++17);
#   CMake       a project generated here: find_package(cfutures <major.minor> REQUIRED) and
#               cfutures::cfutures, building the same two programs, configured against the
#               prefix after it has been moved (the package config is relocatable); then the
#               same project with C++ never enabled, so a C user provably needs no C++.
# Every check that builds a program runs it. Any failure exits non-zero (set -e) before the summary, so
# the summary only ever prints with 0 failed.
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
prefix=$tmp/prefix
passed=0
pass() { passed=$((passed + 1)); echo "ok $passed - $1"; }
# Runs a command with its output set aside, shown only if it fails.
quiet() { "$@" >"$tmp/log" 2>&1 || { cat "$tmp/log" >&2; echo "install: failed: $*" >&2; return 1; }; }

make -C "$root" --no-print-directory install PREFIX="$prefix" >/dev/null
export PKG_CONFIG_PATH="$prefix/lib/pkgconfig"
version=$(pkg-config --modversion cfutures)
IFS=. read -r major minor patch <<<"$version"
test "$(readlink "$prefix/lib/libcfutures.so.$major")" = "libcfutures.so.$version"
test -f "$prefix/lib/cmake/cfutures/cfuturesConfig.cmake"
test -f "$prefix/lib/cmake/cfutures/cfuturesConfigVersion.cmake"
pass "install layout: libcfutures.so.$major -> libcfutures.so.$version, cfutures.pc, cmake/cfutures/"

mkdir "$tmp/bin"
cc -std=c99 -Wall -Wextra -Werror "$root/tests/install/quickstart.c" $(pkg-config --cflags --libs cfutures) \
   -Wl,-rpath,"$prefix/lib" -o "$tmp/bin/quickstart"
readelf -d "$tmp/bin/quickstart" | grep -q "NEEDED.*libcfutures.so.$major"
"$tmp/bin/quickstart"
pass "pkg-config: C quick start (C99)"

c++ -std=c++17 -Wall -Wextra -Werror "$root/examples/cpp/submit_pow.cpp" $(pkg-config --cflags --libs cfutures) \
    -Wl,-rpath,"$prefix/lib" -o "$tmp/bin/submit_pow"
"$tmp/bin/submit_pow"
pass "pkg-config: examples/cpp/submit_pow.cpp (C++17)"

command -v cmake >/dev/null || { echo "install: cmake not found (Debian: apt-get install cmake)" >&2; exit 1; }
# From here on the prefix lives elsewhere: only a relocatable package config finds it.
moved=$tmp/moved
mv "$prefix" "$moved"
# find_package must refuse a newer minor, another major and a newer patch, and for 0.x an
# older minor (cmake/cfuturesConfigVersion.cmake.in); these look only in the test prefix, so
# a cfutures installed elsewhere on the machine cannot answer for it.
reject="$major.$((minor + 1)) $((major + 1)) $major.$minor.$((patch + 1))"
if [ "$major" = 0 ] && [ "$minor" -gt 0 ]; then reject="$reject 0.$((minor - 1))"; fi
mkdir "$tmp/cmake"
cat >"$tmp/cmake/CMakeLists.txt" <<EOF
cmake_minimum_required(VERSION 3.19)
project(cfutures_install_test LANGUAGES C)
option(WITH_CXX "build the C++ example too" ON)

foreach(v $reject)
  find_package(cfutures \${v} QUIET PATHS \${CMAKE_PREFIX_PATH} NO_DEFAULT_PATH)
  if(cfutures_FOUND)
    message(FATAL_ERROR "find_package(cfutures \${v}) accepted cfutures \${cfutures_VERSION}")
  endif()
endforeach()
foreach(v "$version EXACT" "$major.$minor...<$major.$((minor + 1))")
  separate_arguments(args UNIX_COMMAND "\${v}")
  find_package(cfutures \${args} QUIET PATHS \${CMAKE_PREFIX_PATH} NO_DEFAULT_PATH)
  if(NOT cfutures_FOUND)
    message(FATAL_ERROR "find_package(cfutures \${v}) refused cfutures $version")
  endif()
endforeach()

find_package(cfutures $major.$minor REQUIRED)
if(NOT cfutures_DIR STREQUAL "$moved/lib/cmake/cfutures" OR NOT cfutures_VERSION STREQUAL "$version")
  message(FATAL_ERROR "found cfutures \${cfutures_VERSION} in \${cfutures_DIR}")
endif()

# The target asks nothing of its users' compilers (no C++ standard forced on C users).
foreach(p INTERFACE_COMPILE_FEATURES INTERFACE_COMPILE_OPTIONS)
  get_target_property(v cfutures::cfutures \${p})
  if(v)
    message(FATAL_ERROR "cfutures::cfutures sets \${p} \${v}")
  endif()
endforeach()
add_executable(quickstart "$root/tests/install/quickstart.c")
set_target_properties(quickstart PROPERTIES C_STANDARD 99 C_STANDARD_REQUIRED ON C_EXTENSIONS OFF)
target_compile_options(quickstart PRIVATE -Wall -Wextra -Werror)
target_link_libraries(quickstart PRIVATE cfutures::cfutures)

if(WITH_CXX)
  enable_language(CXX)
  add_executable(submit_pow "$root/examples/cpp/submit_pow.cpp")
  target_compile_features(submit_pow PRIVATE cxx_std_17)
  set_target_properties(submit_pow PROPERTIES CXX_EXTENSIONS OFF)
  target_compile_options(submit_pow PRIVATE -Wall -Wextra -Werror)
  target_link_libraries(submit_pow PRIVATE cfutures::cfutures)
endif()
EOF

quiet cmake -S "$tmp/cmake" -B "$tmp/cmake/build" -DCMAKE_PREFIX_PATH="$moved"
pass "cmake: find_package version rules (refuses $reject; accepts $version EXACT, $major.$minor...<$major.$((minor + 1)))"
quiet cmake --build "$tmp/cmake/build"
"$tmp/cmake/build/submit_pow"
pass "cmake: examples/cpp/submit_pow.cpp with cfutures::cfutures (C++17)"
readelf -d "$tmp/cmake/build/quickstart" | grep -q "NEEDED.*libcfutures.so.$major"
"$tmp/cmake/build/quickstart"
pass "cmake: C quick start with cfutures::cfutures (C99; no compile features or options on the target)"

quiet cmake -S "$tmp/cmake" -B "$tmp/cmake/build-c" -DCMAKE_PREFIX_PATH="$moved" -DWITH_CXX=OFF
quiet cmake --build "$tmp/cmake/build-c"
if grep -q '^CMAKE_CXX_COMPILER' "$tmp/cmake/build-c/CMakeCache.txt"; then
  echo "install: find_package(cfutures) enabled C++ in a C project" >&2; exit 1
fi
"$tmp/cmake/build-c/quickstart"
pass "cmake: C quick start in a C-only project (C++ never enabled)"

echo "install: $passed passed, 0 failed"
