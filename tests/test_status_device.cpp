// Status messages and backend choice.
#include "testing.h"

extern "C" {
#include "mbrl/device.h"
#include "mbrl/status.h"
}

TEST(Status, SetAndClear) {
  EXPECT_EQ(mbrl_set_error(MBRL_ERR_IO, "cannot open '%s'", "x.h5"), MBRL_ERR_IO);
  EXPECT_STREQ(mbrl_last_error(), "cannot open 'x.h5'");
  mbrl_clear_error();
  EXPECT_STREQ(mbrl_last_error(), "");
  EXPECT_STREQ(mbrl_status_name(MBRL_ERR_FORMAT), "bad file format");
}

TEST(Device, ParseAndResolve) {
  mbrl_backend b;
  EXPECT_EQ(mbrl_backend_parse("cpu", &b), MBRL_OK);
  EXPECT_EQ(b, MBRL_BACKEND_CPU);
  EXPECT_EQ(mbrl_backend_parse("gpu", &b), MBRL_ERR_INVALID_ARG);
  EXPECT_NE(std::string(mbrl_last_error()).find("gpu"), std::string::npos);
  mbrl_backend r;
  EXPECT_EQ(mbrl_backend_resolve(MBRL_BACKEND_AUTO, &r), MBRL_OK);
  EXPECT_EQ(r, mbrl_cuda_device_count() > 0 ? MBRL_BACKEND_CUDA : MBRL_BACKEND_CPU);
  if (mbrl_cuda_device_count() == 0) {
    EXPECT_EQ(mbrl_backend_resolve(MBRL_BACKEND_CUDA, &r), MBRL_ERR_UNSUPPORTED);
    EXPECT_NE(std::string(mbrl_last_error()).find("--device cpu"), std::string::npos);
  }
}

TEST(Device, BackendMemoryCpu) {
  void *p = nullptr;
  ASSERT_EQ(mbrl_backend_malloc(&p, 10, MBRL_BACKEND_CPU), MBRL_OK);
  ASSERT_NE(p, nullptr);
  EXPECT_EQ(reinterpret_cast<uintptr_t>(p) % 64, 0u);
  for (int i = 0; i < 10; ++i) EXPECT_EQ(static_cast<unsigned char *>(p)[i], 0);  // zeroed
  const float src[2] = {1.5f, -2.0f};
  float back[2] = {0, 0};
  EXPECT_EQ(mbrl_backend_upload(p, src, sizeof src, MBRL_BACKEND_CPU), MBRL_OK);
  EXPECT_EQ(mbrl_backend_download(back, p, sizeof back, MBRL_BACKEND_CPU), MBRL_OK);
  EXPECT_EQ(back[0], 1.5f);
  EXPECT_EQ(back[1], -2.0f);
  mbrl_backend_free(p, MBRL_BACKEND_CPU);
  mbrl_backend_free(nullptr, MBRL_BACKEND_CPU);
  void *z = &p;
  EXPECT_EQ(mbrl_backend_malloc(&z, 0, MBRL_BACKEND_CPU), MBRL_OK);
  EXPECT_EQ(z, nullptr);
  EXPECT_EQ(mbrl_backend_malloc(&z, 8, MBRL_BACKEND_AUTO), MBRL_ERR_INVALID_ARG);
  EXPECT_EQ(mbrl_backend_upload(nullptr, src, 4, MBRL_BACKEND_CPU), MBRL_ERR_INVALID_ARG);
  if (mbrl_cuda_device_count() == 0) {
    EXPECT_EQ(mbrl_backend_malloc(&z, 8, MBRL_BACKEND_CUDA), MBRL_ERR_UNSUPPORTED);
    EXPECT_EQ(z, nullptr);
  }
}

TEST(Device, BackendMemoryCudaRoundTrip) {
  MBRL_REQUIRE_GPU();
  void *d = nullptr;
  ASSERT_EQ(mbrl_backend_malloc(&d, 3 * sizeof(float), MBRL_BACKEND_CUDA), MBRL_OK);
  const float src[3] = {1.0f, 2.0f, 3.0f};
  float back[3] = {9, 9, 9}, zero[3] = {9, 9, 9};
  ASSERT_EQ(mbrl_backend_download(zero, d, sizeof zero, MBRL_BACKEND_CUDA), MBRL_OK);
  EXPECT_EQ(zero[0], 0.0f);
  ASSERT_EQ(mbrl_backend_upload(d, src, sizeof src, MBRL_BACKEND_CUDA), MBRL_OK);
  ASSERT_EQ(mbrl_backend_download(back, d, sizeof back, MBRL_BACKEND_CUDA), MBRL_OK);
  EXPECT_EQ(back[2], 3.0f);
  mbrl_backend_free(d, MBRL_BACKEND_CUDA);
}
