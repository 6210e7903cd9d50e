// tests/test_mlp_golden.cpp - the mlp module against PyTorch 1.13 (tests/data/mlp_golden.h5,
// written by scripts/make_golden_mlp.py; see that script for what each group holds).
//
// Every comparison prints "worst |a-b| / (atol + rtol*|b|)" and fails when it exceeds 1.
// Tolerances (float32 on both sides, different summation orders):
//   forward outputs           atol 2e-5, rtol 1e-4   (3 layers, K <= 64 dot products, BN)
//   loss                      atol 1e-6, rtol 1e-5
//   gradients, dL/dx          atol 2e-5, rtol 1e-3   (BN backward subtracts near-equal sums)
//   running stats             atol 1e-5, rtol 1e-4; num_batches_tracked exact
//   state after 3 optimizer steps: Adam and RMSprop steps are scale-free, each moves a weight
//     by up to s = lr (Adam) or lr / sqrt(1 - alpha) (RMSprop's first step, 10 lr), so a
//     gradient known to ~1e-3 relative gives atol 3 * s * 1e-3, rtol 1e-3. EXCEPT the biases of
//     Linear layers followed by BatchNorm and the running means: their gradient is
//     mathematically zero (BN removes any constant), both sides hold float noise (~1e-8)
//     there, and the optimizers normalize that noise into full steps of either sign. Those
//     entries get atol = 3 * s * 1.5 (the largest move three steps can make), the running
//     means 0.3 * that (momentum 0.1 over the steps that saw a different bias).
#include <hdf5.h>

#include <cmath>
#include <cstdio>
#include <string>
#include <vector>

#include "testing.h"

extern "C" {
#include "host/mlp_cuda.h"
#include "mbrl/mlp.h"
}

namespace {

// A float buffer in the memory of `be` (host vector for CPU, cudaMalloc for CUDA).
struct Buf {
  mbrl_backend be;
  size_t n;
  std::vector<float> host;
  float *dev = nullptr;
  Buf(mbrl_backend b, size_t count) : be(b), n(count), host(count) {
#ifdef MBRL_HAVE_CUDA
    if (be == MBRL_BACKEND_CUDA) {
      EXPECT_EQ(mbrl_mlp_cuda_alloc((void **)&dev, n * sizeof(float)), MBRL_OK);
    }
#endif
  }
  Buf(mbrl_backend b, const std::vector<float> &v) : Buf(b, v.size()) {
    host = v;
    push();
  }
  ~Buf() {
#ifdef MBRL_HAVE_CUDA
    if (dev) mbrl_mlp_cuda_free(dev);
#endif
  }
  float *ptr() { return be == MBRL_BACKEND_CUDA ? dev : host.data(); }
  void push() {
#ifdef MBRL_HAVE_CUDA
    if (dev) {
      EXPECT_EQ(mbrl_mlp_cuda_copy(dev, host.data(), n * sizeof(float), 1), MBRL_OK);
    }
#endif
  }
  std::vector<float> &pull() {
#ifdef MBRL_HAVE_CUDA
    if (dev) {
      EXPECT_EQ(mbrl_mlp_cuda_copy(host.data(), dev, n * sizeof(float), 0), MBRL_OK);
    }
#endif
    return host;
  }
};

const std::string kGolden = std::string(MBRL_TEST_DATA_DIR) + "/mlp_golden.h5";
const char *kHint = "HINT: regenerate with /usr/bin/python3 scripts/make_golden_mlp.py";

struct H5File {
  hid_t f = -1;
  explicit H5File(const std::string &path) {
    H5Eset_auto2(H5E_DEFAULT, nullptr, nullptr);
    f = H5Fopen(path.c_str(), H5F_ACC_RDONLY, H5P_DEFAULT);
  }
  ~H5File() {
    if (f >= 0) H5Fclose(f);
  }
  std::vector<float> read(const std::string &name) const {
    std::vector<float> v;
    hid_t ds = H5Dopen2(f, name.c_str(), H5P_DEFAULT);
    if (ds < 0) {
      ADD_FAILURE() << kGolden << ": missing dataset " << name << "; " << kHint;
      return v;
    }
    hid_t sp = H5Dget_space(ds);
    hssize_t n = H5Sget_simple_extent_npoints(sp);
    v.resize((size_t)n);
    H5Dread(ds, H5T_NATIVE_FLOAT, H5S_ALL, H5S_ALL, H5P_DEFAULT, v.data());
    H5Sclose(sp);
    H5Dclose(ds);
    return v;
  }
};

// Compare and print the worst ratio (llm.c style), failing loudly above 1.
void check(const std::string &what, const float *got, const float *want, size_t n, double atol,
           double rtol) {
  double r = mbrl_test::worst_ratio(got, want, n, atol, rtol);
  std::printf("  %-44s n=%-6zu worst err/tol = %.4f\n", what.c_str(), n, r);
  EXPECT_LE(r, 1.0) << what << " differs from PyTorch beyond tolerance (atol " << atol
                    << ", rtol " << rtol << ")";
}
void check(const std::string &what, const std::vector<float> &got, const std::vector<float> &want,
           double atol, double rtol) {
  ASSERT_EQ(got.size(), want.size()) << what;
  check(what, got.data(), want.data(), got.size(), atol, rtol);
}

// Module index of each Linear and its BN in the nn.Sequential (same rule as mlp_h5.c).
void module_indices(const mbrl_mlp_config &c, int *lin, int *bn) {
  int idx = 0;
  for (int l = 0; l < c.n_layers; ++l) {
    lin[l] = idx++;
    bn[l] = -1;
    if (l < c.n_layers - 1) {
      if (c.batchnorm) bn[l] = idx++;
      if (c.activation != MBRL_ACT_NONE) idx++;
    }
  }
}

// Parameters named PREFIX/<i>/{weight,bias} in the mlp's flat parameter layout.
std::vector<float> params_from_file(const H5File &h, const std::string &prefix, const mbrl_mlp *m) {
  std::vector<float> p(m->n_params);
  int lin[MBRL_MLP_MAX_LAYERS], bn[MBRL_MLP_MAX_LAYERS];
  module_indices(m->cfg, lin, bn);
  auto put = [&](const std::string &name, size_t off, size_t n) {
    std::vector<float> v = h.read(prefix + "/" + name);
    ASSERT_EQ(v.size(), n) << name;
    std::copy(v.begin(), v.end(), p.begin() + (long)off);
  };
  for (int l = 0; l < m->cfg.n_layers; ++l) {
    size_t in = (size_t)m->cfg.sizes[l], out = (size_t)m->cfg.sizes[l + 1];
    put(std::to_string(lin[l]) + "/weight", m->w_off[l], in * out);
    put(std::to_string(lin[l]) + "/bias", m->b_off[l], out);
    if (bn[l] >= 0) {
      put(std::to_string(bn[l]) + "/weight", m->gamma_off[l], out);
      put(std::to_string(bn[l]) + "/bias", m->beta_off[l], out);
    }
  }
  return p;
}

std::vector<float> state_of(const mbrl_mlp *m) {
  std::vector<float> s(mbrl_mlp_state_size(m));
  EXPECT_EQ(mbrl_mlp_get_state(m, s.data()), MBRL_OK) << mbrl_last_error();
  return s;
}

// The state stored under PREFIX, read through mbrl_mlp_read_h5 into a twin of m.
std::vector<float> state_from_file(const H5File &h, const std::string &prefix, const mbrl_mlp *m) {
  mbrl_mlp *t = nullptr;
  EXPECT_EQ(mbrl_mlp_create(&t, &m->cfg, MBRL_BACKEND_CPU, 1), MBRL_OK) << mbrl_last_error();
  EXPECT_EQ(mbrl_mlp_read_h5(t, h.f, prefix.c_str()), MBRL_OK) << mbrl_last_error() << "; " << kHint;
  std::vector<float> s = state_of(t);
  mbrl_mlp_free(t);
  return s;
}

mbrl_mlp_config seed_config() {
  const int sizes[4] = {4, 64, 64, 3};
  mbrl_mlp_config c;
  mbrl_mlp_config_init(&c, 3, sizes);
  c.batchnorm = 1;
  c.activation = MBRL_ACT_RELU;
  return c;
}

mbrl_mlp_config tanh_config() {
  const int sizes[4] = {4, 64, 64, 2};
  mbrl_mlp_config c;
  mbrl_mlp_config_init(&c, 3, sizes);
  c.activation = MBRL_ACT_TANH;
  c.init_gain[0] = c.init_gain[1] = std::sqrt(2.0f);
  c.init_gain[2] = 0.01f;
  return c;
}

// Compare a state vector per segment; `loose_atol` applies to pre-BN biases and running means.
void check_state(const std::string &what, const mbrl_mlp *m, const std::vector<float> &got,
                 const std::vector<float> &want, double atol, double rtol, double loose_atol) {
  ASSERT_EQ(got.size(), want.size());
  const mbrl_mlp_config &c = m->cfg;
  size_t o = 0;
  int lin[MBRL_MLP_MAX_LAYERS], bn[MBRL_MLP_MAX_LAYERS];
  module_indices(c, lin, bn);
  for (int l = 0; l < c.n_layers; ++l) {
    size_t in = (size_t)c.sizes[l], out = (size_t)c.sizes[l + 1];
    std::string L = what + " network/" + std::to_string(lin[l]);
    check(L + "/weight", &got[o], &want[o], in * out, atol, rtol);
    o += in * out;
    check(L + "/bias", &got[o], &want[o], out, bn[l] >= 0 ? loose_atol : atol, rtol);
    o += out;
    if (bn[l] < 0) continue;
    std::string N = what + " network/" + std::to_string(bn[l]);
    check(N + "/weight", &got[o], &want[o], out, atol, rtol);
    o += out;
    check(N + "/bias", &got[o], &want[o], out, atol, rtol);
    o += out;
    check(N + "/running_mean", &got[o], &want[o], out, std::max(1e-5, 0.3 * loose_atol), 1e-4);
    o += out;
    check(N + "/running_var", &got[o], &want[o], out, 1e-5, 1e-4);
    o += out;
    EXPECT_EQ(got[o], want[o]) << N << "/num_batches_tracked";
    o += 1;
  }
  EXPECT_EQ(o, got.size());
}

class MlpGolden : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(mbrl_test::file_exists(kGolden)) << kGolden << " is missing; " << kHint;
  }
};

// Forward (train), loss, every gradient, dL/dx, running stats, then eval forward.
void forward_backward_case(const std::string &g, const mbrl_mlp_config &cfg,
                           mbrl_backend be = MBRL_BACKEND_CPU) {
  H5File h(kGolden);
  ASSERT_GE(h.f, 0) << kGolden;
  std::vector<float> xh = h.read(g + "/x"), th = h.read(g + "/target");
  const int in = cfg.sizes[0], out = cfg.sizes[cfg.n_layers];
  const int B = (int)(xh.size() / (size_t)in);
  const std::string tag = g + (be == MBRL_BACKEND_CUDA ? " [cuda]" : "");
  mbrl_mlp *m = nullptr;
  ASSERT_EQ(mbrl_mlp_create(&m, &cfg, be, B), MBRL_OK) << mbrl_last_error();
  ASSERT_EQ(mbrl_mlp_read_h5(m, h.f, (g + "/init/network").c_str()), MBRL_OK) << mbrl_last_error();
  std::vector<float> p(m->n_params);
  mbrl_mlp_get_params(m, p.data());
  EXPECT_EQ(p, params_from_file(h, g + "/init/network", m)) << "read_h5 must load exactly";

  Buf x(be, xh), target(be, th), y(be, (size_t)B * out), dy(be, (size_t)B * out), dx(be, xh.size()),
      loss(be, 1);
  std::vector<float> grads(m->n_params);
  ASSERT_EQ(mbrl_mlp_forward(m, x.ptr(), B, y.ptr(), 1), MBRL_OK) << mbrl_last_error();
  check(tag + " train forward y", y.pull(), h.read(g + "/train/y"), 2e-5, 1e-4);
#ifdef MBRL_HAVE_CUDA
  if (be == MBRL_BACKEND_CUDA) {
    ASSERT_EQ(mbrl_nn_mse_loss_cuda(loss.ptr(), dy.ptr(), y.ptr(), target.ptr(), y.n, nullptr),
              MBRL_OK);
  }
#endif
  if (be == MBRL_BACKEND_CPU) mbrl_nn_mse_loss(loss.ptr(), dy.ptr(), y.ptr(), target.ptr(), y.n);
  check(tag + " mse loss", loss.pull().data(), h.read(g + "/train/loss").data(), 1, 1e-6, 1e-5);
  ASSERT_EQ(mbrl_mlp_backward(m, dy.ptr(), dx.ptr()), MBRL_OK) << mbrl_last_error();
  mbrl_mlp_get_grads(m, grads.data());
  check(tag + " grads (all parameters)", grads, params_from_file(h, g + "/train/grad/network", m),
        2e-5, 1e-3);
  check(tag + " dL/dx", dx.pull(), h.read(g + "/train/dx"), 2e-5, 1e-3);
  check_state(tag + " state after train forward", m, state_of(m),
              state_from_file(h, g + "/train/state/network", m), 1e-6, 1e-5, 1e-6);
  if (cfg.batchnorm) {
    ASSERT_EQ(mbrl_mlp_forward(m, x.ptr(), B, y.ptr(), 0), MBRL_OK) << mbrl_last_error();
    check(tag + " eval forward y", y.pull(), h.read(g + "/eval/y"), 2e-5, 1e-4);
  }
  mbrl_mlp_free(m);
}

TEST_F(MlpGolden, SeedModelForwardBackward) { forward_backward_case("bn", seed_config()); }
TEST_F(MlpGolden, TanhModelForwardBackward) { forward_backward_case("tanh", tanh_config()); }
TEST_F(MlpGolden, CudaSeedModelForwardBackward) {
  MBRL_REQUIRE_GPU();
  forward_backward_case("bn", seed_config(), MBRL_BACKEND_CUDA);
}
TEST_F(MlpGolden, CudaTanhModelForwardBackward) {
  MBRL_REQUIRE_GPU();
  forward_backward_case("tanh", tanh_config(), MBRL_BACKEND_CUDA);
}

void optimizer_case(const std::string &g, const std::string &which, const mbrl_mlp_config &cfg,
                    const mbrl_optim_config &oc, float clip, mbrl_backend be = MBRL_BACKEND_CPU) {
  H5File h(kGolden);
  ASSERT_GE(h.f, 0) << kGolden;
  std::vector<float> xh = h.read(g + "/x"), th = h.read(g + "/target");
  const int B = (int)(xh.size() / (size_t)cfg.sizes[0]);
  const int out = cfg.sizes[cfg.n_layers];
  const std::string tag = g + (be == MBRL_BACKEND_CUDA ? " [cuda] " : " ") + which;
  mbrl_mlp *m = nullptr;
  mbrl_optim *o = nullptr;
  ASSERT_EQ(mbrl_mlp_create(&m, &cfg, be, B), MBRL_OK) << mbrl_last_error();
  ASSERT_EQ(mbrl_mlp_read_h5(m, h.f, (g + "/init/network").c_str()), MBRL_OK) << mbrl_last_error();
  ASSERT_EQ(mbrl_optim_create(&o, &oc, m), MBRL_OK) << mbrl_last_error();
  Buf x(be, xh), target(be, th), y(be, (size_t)B * out), dy(be, (size_t)B * out), loss(be, 1);
  std::vector<float> losses(3), norms(3);
  for (int s = 0; s < 3; ++s) {
    if (clip > 0) {
      ASSERT_EQ(mbrl_mlp_forward(m, x.ptr(), B, y.ptr(), 1), MBRL_OK);
      std::vector<float> &yh = y.pull();
      std::vector<float> dyh(yh.size());
      mbrl_nn_mse_loss(&losses[s], dyh.data(), yh.data(), th.data(), yh.size());
      dy.host = dyh;
      dy.push();
      ASSERT_EQ(mbrl_mlp_backward(m, dy.ptr(), nullptr), MBRL_OK);
      ASSERT_EQ(mbrl_mlp_clip_grad_norm(m, clip, &norms[s]), MBRL_OK);
      ASSERT_EQ(mbrl_optim_step(o, m), MBRL_OK);
    } else {
      ASSERT_EQ(mbrl_mlp_train_step_mse(m, o, x.ptr(), target.ptr(), B, loss.ptr()), MBRL_OK)
          << mbrl_last_error();
      losses[s] = loss.pull()[0];
    }
  }
  EXPECT_EQ(o->step, 3);
  check(tag + " losses (3 steps)", losses, h.read(g + "/" + which + "/loss"), 1e-6, 1e-4);
  if (clip > 0)
    check(tag + " grad norms before clipping", norms, h.read(g + "/" + which + "/grad_norm"),
          1e-6, 1e-4);
  const double step = oc.kind == MBRL_OPTIM_ADAM ? oc.lr : oc.lr / std::sqrt(1.0 - oc.alpha);
  const double atol = 3 * step * 1e-3;
  const double loose = cfg.batchnorm ? 3 * step * 1.5 : atol;
  check_state(tag + " 3 steps", m, state_of(m),
              state_from_file(h, g + "/" + which + "/state/network", m), atol, 1e-3, loose);
  mbrl_optim_free(o);
  mbrl_mlp_free(m);
}

TEST_F(MlpGolden, SeedModelAdam3Steps) {
  optimizer_case("bn", "adam", seed_config(), mbrl_optim_adam_config(0.01f, 0.99f, 0.999f), 0);
}
TEST_F(MlpGolden, SeedModelRmsprop3Steps) {
  optimizer_case("bn", "rmsprop", seed_config(), mbrl_optim_rmsprop_config(0.01f, 0.99f, 1e-8f), 0);
}
TEST_F(MlpGolden, TanhModelRmspropClip3Steps) {
  optimizer_case("tanh", "rmsprop", tanh_config(), mbrl_optim_rmsprop_config(7e-4f, 0.99f, 1e-5f),
                 0.5f);
}
TEST_F(MlpGolden, CudaSeedModelAdam3Steps) {
  MBRL_REQUIRE_GPU();
  optimizer_case("bn", "adam", seed_config(), mbrl_optim_adam_config(0.01f, 0.99f, 0.999f), 0,
                 MBRL_BACKEND_CUDA);
}
TEST_F(MlpGolden, CudaTanhModelRmspropClip3Steps) {
  MBRL_REQUIRE_GPU();
  optimizer_case("tanh", "rmsprop", tanh_config(), mbrl_optim_rmsprop_config(7e-4f, 0.99f, 1e-5f),
                 0.5f, MBRL_BACKEND_CUDA);
}

// The whole-file loader infers the architecture of the seed's state_dict written by h5py.
TEST_F(MlpGolden, ConfigFromTorchFile) {
  H5File h(kGolden);
  mbrl_mlp_config c;
  ASSERT_EQ(mbrl_mlp_config_from_h5(h.f, "/bn/init/network", &c), MBRL_OK) << mbrl_last_error();
  EXPECT_EQ(c.n_layers, 3);
  EXPECT_EQ(c.sizes[0], 4);
  EXPECT_EQ(c.sizes[1], 64);
  EXPECT_EQ(c.sizes[3], 3);
  EXPECT_EQ(c.batchnorm, 1);
  EXPECT_EQ(c.activation, MBRL_ACT_RELU);
  // a group that does not exist is a clear format error
  EXPECT_EQ(mbrl_mlp_config_from_h5(h.f, "/nope/network", &c), MBRL_ERR_FORMAT);
  EXPECT_NE(std::string(mbrl_last_error()).find("/nope/network"), std::string::npos);
  // shapes that do not match the model are refused naming the dataset
  mbrl_mlp_config t = tanh_config();
  mbrl_mlp *m = nullptr;
  ASSERT_EQ(mbrl_mlp_create(&m, &t, MBRL_BACKEND_CPU, 4), MBRL_OK);
  EXPECT_EQ(mbrl_mlp_read_h5(m, h.f, "/bn/init/network"), MBRL_ERR_FORMAT);
  EXPECT_NE(std::string(mbrl_last_error()).find("network/"), std::string::npos) << mbrl_last_error();
  mbrl_mlp_free(m);
}

}  // namespace
