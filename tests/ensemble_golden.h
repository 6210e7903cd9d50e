// tests/ensemble_golden.h - helpers shared by test_nn_batched.cpp and test_dyn_ensemble.cpp:
// reading tests/data/ensemble_golden.h5 (written by scripts/make_golden_ensemble.py) and the
// llm.c-style comparison that prints the worst error as a fraction of its tolerance.
#pragma once

#include <hdf5.h>

#include <cstdio>
#include <string>
#include <vector>

#include "testing.h"

namespace ensemble_golden {

inline const std::string &path() {
  static const std::string p = std::string(MBRL_TEST_DATA_DIR) + "/ensemble_golden.h5";
  return p;
}
inline const char *hint() {
  return "HINT: regenerate with /usr/bin/python3 scripts/make_golden_ensemble.py";
}

// Dataset `name` of HDF5 file `file` as floats (any shape, row-major); a failure and {} when
// the file or dataset is missing.
inline std::vector<float> read(const std::string &file, const std::string &name) {
  std::vector<float> v;
  H5Eset_auto2(H5E_DEFAULT, nullptr, nullptr);
  hid_t f = H5Fopen(file.c_str(), H5F_ACC_RDONLY, H5P_DEFAULT);
  if (f < 0) {
    ADD_FAILURE() << "cannot open " << file << "; " << hint();
    return v;
  }
  hid_t ds = H5Dopen2(f, name.c_str(), H5P_DEFAULT);
  if (ds < 0) {
    ADD_FAILURE() << file << ": missing dataset " << name << "; " << hint();
    H5Fclose(f);
    return v;
  }
  hid_t sp = H5Dget_space(ds);
  v.resize((size_t)H5Sget_simple_extent_npoints(sp));
  H5Dread(ds, H5T_NATIVE_FLOAT, H5S_ALL, H5S_ALL, H5P_DEFAULT, v.data());
  H5Sclose(sp);
  H5Dclose(ds);
  H5Fclose(f);
  return v;
}

// Fails unless every |got - want| <= atol + rtol |want|; prints the worst ratio under `what`.
inline void check(const std::string &what, const float *got, const float *want, size_t n,
                  double atol, double rtol) {
  const double r = mbrl_test::worst_ratio(got, want, n, atol, rtol);
  std::printf("  %-46s n=%-6zu worst err/tol = %.4f\n", what.c_str(), n, r);
  EXPECT_LE(r, 1.0) << what << " beyond tolerance (atol " << atol << ", rtol " << rtol << ")";
}
inline void check(const std::string &what, const std::vector<float> &got,
                  const std::vector<float> &want, double atol, double rtol) {
  ASSERT_EQ(got.size(), want.size()) << what;
  check(what, got.data(), want.data(), got.size(), atol, rtol);
}

}  // namespace ensemble_golden
