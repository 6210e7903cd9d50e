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
