// tests/testing_paths.h - where a test program finds the built programs, the source tree, the test
// data and Python, decided at run time. tests/CMakeLists.txt force-includes this header in every
// test source, so MBRL_BIN_DIR, MBRL_SOURCE_DIR, MBRL_TEST_DATA_DIR and MBRL_PYTHON can be used
// anywhere as `const char *` expressions (std::string(MBRL_TEST_DATA_DIR) + "/x.h5").
//
// Each one is, in this order:
//   1. the environment variable of the same name, when it is set and not empty;
//   2. the value compiled in (MBRL_*_DEFAULT: the build tree's absolute paths), when the test
//      program runs from the folder it was built into;
//   3. otherwise (the program was moved, e.g. into the GPU bundle of scripts/gpu-bundle) a path
//      relative to the executable, laid out like the source tree: MBRL_BIN_DIR = the executable's
//      folder, MBRL_SOURCE_DIR = its parent, MBRL_TEST_DATA_DIR = MBRL_SOURCE_DIR/tests/data.
//      MBRL_PYTHON has no relative form and keeps the compiled value.
// MBRL_FAULT_SHIM (the LD_PRELOAD library of tests/fault_shim.c) is $MBRL_FAULT_SHIM when set,
// else libmbrl_fault_shim.so in MBRL_BIN_DIR (the build puts it next to the programs).
#pragma once

namespace mbrl_test {
const char *bin_dir();        // folder of mbrl_collect, mbrl_train, ... and the test programs
const char *source_dir();     // the source tree (or the bundle's root)
const char *test_data_dir();  // tests/data: golden files
const char *python();         // a Python with numpy/h5py (Debian's /usr/bin/python3 by default)
const char *fault_shim();     // the write-fault LD_PRELOAD library (tests/fault_shim.c)
}  // namespace mbrl_test

#define MBRL_BIN_DIR (::mbrl_test::bin_dir())
#define MBRL_SOURCE_DIR (::mbrl_test::source_dir())
#define MBRL_TEST_DATA_DIR (::mbrl_test::test_data_dir())
#define MBRL_PYTHON (::mbrl_test::python())
#define MBRL_FAULT_SHIM (::mbrl_test::fault_shim())
