// The log module (include/mbrl/log.h): CRC-32C, TFRecord/protobuf event files parsed back by
// an independent reader written here (own bitwise CRC, own protobuf walker), metrics.csv,
// errors, and the progress line. tests/py_tensorboard_read.py is a second, Python reader.
#include "testing.h"

#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <map>
#include <sstream>
#include <string>
#include <vector>

extern "C" {
#include "mbrl/log.h"
#include "mbrl/status.h"
}

using mbrl_test::TempDir;

namespace {

// Bitwise CRC-32C, independent of the library's table version.
uint32_t ref_crc32c(const uint8_t *p, size_t n) {
  uint32_t c = 0xffffffffu;
  for (size_t i = 0; i < n; ++i) {
    c ^= p[i];
    for (int k = 0; k < 8; ++k) c = (c >> 1) ^ (0x82F63B78u & (0u - (c & 1u)));
  }
  return ~c;
}

uint32_t ref_masked(const uint8_t *p, size_t n) {
  uint32_t c = ref_crc32c(p, n);
  return ((c >> 15) | (c << 17)) + 0xa282ead8u;
}

uint64_t get_le(const uint8_t *p, int bytes) {
  uint64_t v = 0;
  for (int i = bytes - 1; i >= 0; --i) v = (v << 8) | p[i];
  return v;
}

// One protobuf field: number, wire type, and its payload (varint / fixed / bytes).
struct Field {
  uint32_t num;
  int wire;
  uint64_t u;         // varint or fixed value
  std::string bytes;  // length-delimited payload
};

bool read_varint(const std::string &s, size_t &i, uint64_t &v) {
  v = 0;
  for (int shift = 0; shift < 64; shift += 7) {
    if (i >= s.size()) return false;
    uint8_t b = (uint8_t)s[i++];
    v |= (uint64_t)(b & 0x7f) << shift;
    if (!(b & 0x80)) return true;
  }
  return false;
}

// Decode a whole message into fields; false on any malformed byte.
bool decode(const std::string &s, std::vector<Field> &out) {
  size_t i = 0;
  while (i < s.size()) {
    uint64_t key;
    if (!read_varint(s, i, key)) return false;
    Field f{(uint32_t)(key >> 3), (int)(key & 7), 0, {}};
    switch (f.wire) {
      case 0:
        if (!read_varint(s, i, f.u)) return false;
        break;
      case 1:
        if (i + 8 > s.size()) return false;
        f.u = get_le((const uint8_t *)s.data() + i, 8);
        i += 8;
        break;
      case 5:
        if (i + 4 > s.size()) return false;
        f.u = get_le((const uint8_t *)s.data() + i, 4);
        i += 4;
        break;
      case 2: {
        uint64_t len;
        if (!read_varint(s, i, len) || i + len > s.size()) return false;
        f.bytes = s.substr(i, len);
        i += len;
        break;
      }
      default:
        return false;
    }
    out.push_back(f);
  }
  return true;
}

struct Scalar {
  std::string tag;
  int64_t step;
  float value;
  double wall_time;
};

struct EventFile {
  std::string version;
  double version_wall_time = 0;
  std::vector<Scalar> scalars;
};

// Parse a TFRecord event file; ADD_FAILURE on any framing, CRC or protobuf error.
EventFile parse_event_file(const std::string &path) {
  EventFile ef;
  std::string data = mbrl_test::read_file(path);
  const uint8_t *p = (const uint8_t *)data.data();
  size_t i = 0;
  int rec = 0;
  while (i < data.size()) {
    if (i + 12 > data.size()) {
      ADD_FAILURE() << "truncated record header at byte " << i;
      break;
    }
    uint64_t len = get_le(p + i, 8);
    EXPECT_EQ((uint32_t)get_le(p + i + 8, 4), ref_masked(p + i, 8)) << "length CRC of record " << rec;
    if (i + 12 + len + 4 > data.size()) {
      ADD_FAILURE() << "truncated record " << rec;
      break;
    }
    std::string body = data.substr(i + 12, len);
    EXPECT_EQ((uint32_t)get_le(p + i + 12 + len, 4), ref_masked(p + i + 12, len)) << "data CRC of record " << rec;
    i += 12 + len + 4;

    std::vector<Field> ev;
    if (!decode(body, ev)) {
      ADD_FAILURE() << "record " << rec << " is not a valid protobuf message";
      break;
    }
    double wall = 0;
    int64_t step = 0;
    std::string version, summary;
    bool has_summary = false;
    for (const Field &f : ev) {
      if (f.num == 1 && f.wire == 1) std::memcpy(&wall, &f.u, 8);
      else if (f.num == 2 && f.wire == 0) step = (int64_t)f.u;
      else if (f.num == 3 && f.wire == 2) version = f.bytes;
      else if (f.num == 5 && f.wire == 2) summary = f.bytes, has_summary = true;
      else ADD_FAILURE() << "record " << rec << ": unexpected Event field " << f.num << " wire " << f.wire;
    }
    if (rec == 0) {
      EXPECT_FALSE(has_summary) << "first record must be the file_version event";
      ef.version = version;
      ef.version_wall_time = wall;
    } else {
      EXPECT_TRUE(has_summary) << "record " << rec;
      std::vector<Field> sum;
      EXPECT_TRUE(decode(summary, sum));
      for (const Field &sv : sum) {
        EXPECT_EQ(sv.num, 1u);
        EXPECT_EQ(sv.wire, 2);
        std::vector<Field> val;
        EXPECT_TRUE(decode(sv.bytes, val));
        Scalar s{"", step, 0.0f, wall};
        bool has_value = false;
        for (const Field &v : val) {
          if (v.num == 1 && v.wire == 2) s.tag = v.bytes;
          else if (v.num == 2 && v.wire == 5) {
            uint32_t u = (uint32_t)v.u;
            std::memcpy(&s.value, &u, 4);
            has_value = true;
          } else ADD_FAILURE() << "unexpected Summary.Value field " << v.num;
        }
        EXPECT_TRUE(has_value);
        ef.scalars.push_back(s);
      }
    }
    ++rec;
  }
  return ef;
}

std::vector<std::string> event_files(const std::string &dir) {
  std::vector<std::string> out;
  for (const std::string &n : mbrl_test::list_dir(dir))
    if (n.rfind("events.out.tfevents.", 0) == 0) out.push_back(n);
  return out;
}

bool same_float(float a, float b) { return std::memcmp(&a, &b, 4) == 0; }

// The scalars the round-trip test writes (also what py_tensorboard_read.py reads back).
struct In {
  const char *tag;
  int64_t step;
  double value;
};
std::vector<In> sample_scalars() {
  std::vector<In> v;
  for (int64_t s = 0; s < 300; s += 7) v.push_back({"train_model/loss", s, 1.0 / (double)(s + 1)});
  v.push_back({"val/loss", 0, 0.1});
  v.push_back({"val/loss", 127, -2.5});
  v.push_back({"val/loss", 128, 1e-30});
  v.push_back({"val/loss", (int64_t)1 << 40, 3.0e38});
  v.push_back({"edge/negative_step", -5, 0.0});
  v.push_back({"edge/nan", 1, std::nan("")});
  v.push_back({"edge/inf", 2, -INFINITY});
  v.push_back({"edge/long tag with spaces and unicode \xc3\xa9", 3, 42.0});
  return v;
}

}  // namespace

TEST(LogCrc, KnownAnswers) {
  const char *s = "123456789";
  EXPECT_EQ(mbrl_log_crc32c(s, 9), 0xE3069283u);
  EXPECT_EQ(mbrl_log_crc32c("", 0), 0u);
  // RFC 3720 (iSCSI) appendix B.4.
  uint8_t zeros[32] = {0}, ones[32], inc[32], dec[32];
  for (int i = 0; i < 32; ++i) {
    ones[i] = 0xff;
    inc[i] = (uint8_t)i;
    dec[i] = (uint8_t)(31 - i);
  }
  EXPECT_EQ(mbrl_log_crc32c(zeros, 32), 0x8A9136AAu);
  EXPECT_EQ(mbrl_log_crc32c(ones, 32), 0x62A8AB43u);
  EXPECT_EQ(mbrl_log_crc32c(inc, 32), 0x46DD794Eu);
  EXPECT_EQ(mbrl_log_crc32c(dec, 32), 0x113FDB5Cu);
  // Masking, and agreement with the bitwise reference over many lengths.
  EXPECT_EQ(mbrl_log_masked_crc32c(s, 9), ((0xE3069283u >> 15) | (0xE3069283u << 17)) + 0xa282ead8u);
  std::vector<uint8_t> buf(1000);
  for (size_t i = 0; i < buf.size(); ++i) buf[i] = (uint8_t)(i * 131 + 7);
  for (size_t n = 0; n <= buf.size(); n += 37)
    EXPECT_EQ(mbrl_log_masked_crc32c(buf.data(), n), ref_masked(buf.data(), n)) << n;
}

// Write scalars, parse the event file and metrics.csv back. With MBRL_LOG_KEEP_DIR set (by
// tests/py_tensorboard_read.py) the files are written there and kept for the Python reader.
TEST(Log, WriteAndParseBack) {
  TempDir tmp;
  const char *keep = std::getenv("MBRL_LOG_KEEP_DIR");
  std::string logdir = keep && *keep ? std::string(keep) : tmp.file("runs/deep/er");  // mkdir -p
  std::vector<In> in = sample_scalars();
  double t_before = (double)std::time(nullptr);

  mbrl_log *log = nullptr;
  ASSERT_EQ(mbrl_log_open(&log, logdir.c_str(), "run1"), MBRL_OK) << mbrl_last_error();
  std::string dir = logdir + "/run1";
  EXPECT_EQ(std::string(mbrl_log_dir(log)), dir);
  for (const In &x : in) ASSERT_EQ(mbrl_log_scalar(log, x.tag, x.step, x.value), MBRL_OK) << mbrl_last_error();
  std::string ev_path = mbrl_log_event_path(log);
  ASSERT_EQ(mbrl_log_close(log), MBRL_OK) << mbrl_last_error();

  // File name: events.out.tfevents.<unix time>.<hostname>.mbrl
  std::vector<std::string> evs = event_files(dir);
  ASSERT_EQ(evs.size(), 1u);
  EXPECT_EQ(dir + "/" + evs[0], ev_path);
  char host[256] = {0};
  ASSERT_EQ(gethostname(host, sizeof host - 1), 0);
  long long t = std::atoll(evs[0].c_str() + std::strlen("events.out.tfevents."));
  EXPECT_GE((double)t, t_before - 1);
  EXPECT_LE((double)t, (double)std::time(nullptr) + 1);
  EXPECT_EQ(evs[0], "events.out.tfevents." + std::to_string(t) + "." + host + ".mbrl");

  EventFile ef = parse_event_file(ev_path);
  EXPECT_EQ(ef.version, "brain.Event:2");
  EXPECT_NEAR(ef.version_wall_time, t_before, 5.0);
  ASSERT_EQ(ef.scalars.size(), in.size());
  for (size_t i = 0; i < in.size(); ++i) {
    EXPECT_EQ(ef.scalars[i].tag, in[i].tag);
    EXPECT_EQ(ef.scalars[i].step, in[i].step);
    EXPECT_TRUE(same_float(ef.scalars[i].value, (float)in[i].value))
        << in[i].tag << " " << ef.scalars[i].value << " vs " << (float)in[i].value;
    EXPECT_NEAR(ef.scalars[i].wall_time, t_before, 5.0);
    if (i) {
      EXPECT_GE(ef.scalars[i].wall_time, ef.scalars[i - 1].wall_time);
    }
  }

  // metrics.csv: header then one `step,tag,value` row per scalar, values as float32.
  std::istringstream csv(mbrl_test::read_file(dir + "/metrics.csv"));
  std::string line;
  ASSERT_TRUE(std::getline(csv, line));
  EXPECT_EQ(line, "step,tag,value");
  for (size_t i = 0; i < in.size(); ++i) {
    ASSERT_TRUE(std::getline(csv, line)) << "row " << i;
    size_t c1 = line.find(','), c2 = line.rfind(',');
    ASSERT_NE(c1, c2) << line;
    EXPECT_EQ(std::atoll(line.substr(0, c1).c_str()), in[i].step);
    EXPECT_EQ(line.substr(c1 + 1, c2 - c1 - 1), in[i].tag);
    float v = std::strtof(line.c_str() + c2 + 1, nullptr);
    EXPECT_TRUE(same_float(v, (float)in[i].value) || (std::isnan(v) && std::isnan(in[i].value))) << line;
  }
  EXPECT_FALSE(std::getline(csv, line)) << "extra row: " << line;
  EXPECT_EQ(mbrl_test::read_file(dir + "/metrics.csv").rfind("step,tag,value\n0,train_model/loss,1\n7,tra", 0), 0u);
}

TEST(Log, FlushMakesRowsVisibleAndReopenReplacesCsv) {
  TempDir tmp;
  mbrl_log *log = nullptr;
  ASSERT_EQ(mbrl_log_open(&log, tmp.path.c_str(), nullptr), MBRL_OK) << mbrl_last_error();
  EXPECT_EQ(std::string(mbrl_log_dir(log)), tmp.path);
  ASSERT_EQ(mbrl_log_scalar(log, "a", 1, 0.5), MBRL_OK);
  ASSERT_EQ(mbrl_log_flush(log), MBRL_OK);
  EXPECT_EQ(mbrl_test::read_file(tmp.file("metrics.csv")), "step,tag,value\n1,a,0.5\n");
  EventFile ef = parse_event_file(mbrl_log_event_path(log));
  ASSERT_EQ(ef.scalars.size(), 1u);
  EXPECT_EQ(ef.scalars[0].tag, "a");

  // A second log in the same directory (same second): a new event file, CSV replaced.
  mbrl_log *log2 = nullptr;
  ASSERT_EQ(mbrl_log_open(&log2, tmp.path.c_str(), ""), MBRL_OK) << mbrl_last_error();
  EXPECT_NE(std::string(mbrl_log_event_path(log2)), std::string(mbrl_log_event_path(log)));
  ASSERT_EQ(mbrl_log_close(log2), MBRL_OK);
  ASSERT_EQ(mbrl_log_close(log), MBRL_OK);
  EXPECT_EQ(event_files(tmp.path).size(), 2u);
  EXPECT_EQ(mbrl_test::read_file(tmp.file("metrics.csv")), "step,tag,value\n");
  EXPECT_EQ(mbrl_log_close(nullptr), MBRL_OK);
}

TEST(Log, BadInputGetsClearErrors) {
  TempDir tmp;
  mbrl_log *log = reinterpret_cast<mbrl_log *>(0x1);
  FILE *f = std::fopen(tmp.file("plainfile").c_str(), "w");
  ASSERT_NE(f, nullptr);
  std::fclose(f);

  EXPECT_EQ(mbrl_log_open(&log, tmp.file("plainfile").c_str(), nullptr), MBRL_ERR_IO);
  EXPECT_EQ(log, nullptr);
  EXPECT_NE(std::string(mbrl_last_error()).find("plainfile"), std::string::npos) << mbrl_last_error();
  EXPECT_NE(std::string(mbrl_last_error()).find("not a directory"), std::string::npos) << mbrl_last_error();

  EXPECT_EQ(mbrl_log_open(&log, tmp.file("plainfile/sub").c_str(), nullptr), MBRL_ERR_IO);
  EXPECT_EQ(mbrl_log_open(&log, "", nullptr), MBRL_ERR_INVALID_ARG);
  EXPECT_EQ(mbrl_log_open(&log, tmp.path.c_str(), "a/b"), MBRL_ERR_INVALID_ARG);
  EXPECT_NE(std::string(mbrl_last_error()).find("a/b"), std::string::npos);
  EXPECT_EQ(mbrl_log_open(&log, tmp.path.c_str(), ".."), MBRL_ERR_INVALID_ARG);

  if (geteuid() != 0) {  // root ignores permissions
    std::string ro = tmp.file("readonly");
    ASSERT_EQ(mbrl_test::run("mkdir '" + ro + "' && chmod 555 '" + ro + "'").exit_code, 0);
    EXPECT_EQ(mbrl_log_open(&log, (ro + "/x").c_str(), nullptr), MBRL_ERR_IO);
    EXPECT_NE(std::string(mbrl_last_error()).find("readonly/x"), std::string::npos) << mbrl_last_error();
    EXPECT_EQ(mbrl_log_open(&log, ro.c_str(), nullptr), MBRL_ERR_IO);
    EXPECT_NE(std::string(mbrl_last_error()).find("metrics.csv"), std::string::npos) << mbrl_last_error();
  }

  ASSERT_EQ(mbrl_log_open(&log, tmp.file("ok").c_str(), nullptr), MBRL_OK);
  EXPECT_EQ(mbrl_log_scalar(log, "has,comma", 0, 1.0), MBRL_ERR_INVALID_ARG);
  EXPECT_NE(std::string(mbrl_last_error()).find("has,comma"), std::string::npos);
  EXPECT_EQ(mbrl_log_scalar(log, "", 0, 1.0), MBRL_ERR_INVALID_ARG);
  EXPECT_EQ(mbrl_log_scalar(log, "new\nline", 0, 1.0), MBRL_ERR_INVALID_ARG);
  EXPECT_EQ(mbrl_log_scalar(log, std::string(256, 'x').c_str(), 0, 1.0), MBRL_ERR_INVALID_ARG);
  EXPECT_EQ(mbrl_log_scalar(log, std::string(255, 'x').c_str(), 0, 1.0), MBRL_OK);
  EXPECT_EQ(mbrl_log_scalar(nullptr, "a", 0, 1.0), MBRL_ERR_INVALID_ARG);
  std::string ev = mbrl_log_event_path(log);
  ASSERT_EQ(mbrl_log_close(log), MBRL_OK);
  EventFile ef = parse_event_file(ev);  // rejected scalars left no trace
  ASSERT_EQ(ef.scalars.size(), 1u);
  EXPECT_EQ(ef.scalars[0].tag, std::string(255, 'x'));
}

TEST(Progress, FormatIsDeterministic) {
  mbrl_progress p;
  mbrl_progress_init(&p, nullptr, "train", 0, 300, MBRL_PROGRESS_PLAIN, 1.0);
  p.t0 = 100.0;
  char line[256];
  mbrl_progress_format(&p, 100, "loss", 0.0123456, 102.0, line, sizeof line);
  EXPECT_STREQ(line, "train step 100/300  loss 0.012346  50 steps/s  ETA 0:00:04  elapsed 0:00:02");
  mbrl_progress_format(&p, 100, nullptr, 0.0, 100.0 + 3725.0, line, sizeof line);
  EXPECT_STREQ(line, "train step 100/300  0 steps/s  ETA 2:04:10  elapsed 1:02:05");
  p.total = 0;  // unknown total: no ETA
  mbrl_progress_format(&p, 7, "reward", -3.5, 101.0, line, sizeof line);
  EXPECT_STREQ(line, "train step 7  reward -3.5  7 steps/s  elapsed 0:00:01");
  char small[12];
  mbrl_progress_format(&p, 7, "reward", -3.5, 101.0, small, sizeof small);  // truncates safely
  EXPECT_LT(std::strlen(small), sizeof small);
}

TEST(Progress, PlainLiveAndOffModes) {
  TempDir tmp;
  for (int mode : {MBRL_PROGRESS_PLAIN, MBRL_PROGRESS_LIVE, MBRL_PROGRESS_OFF, MBRL_PROGRESS_AUTO}) {
    std::string path = tmp.file("progress" + std::to_string(mode));
    FILE *f = std::fopen(path.c_str(), "w");
    ASSERT_NE(f, nullptr);
    mbrl_progress p;
    mbrl_progress_init(&p, f, "fit", 0, 10, (mbrl_progress_mode)mode, 1e-9);
    int printed = 0;
    for (int s = 1; s <= 3; ++s) {
      usleep(120000);  // past the live line's 0.1 s refresh
      printed += mbrl_progress_update(&p, s, "loss", 1.0 / s);
    }
    mbrl_progress_finish(&p, 10, "loss", 0.25);
    std::fclose(f);
    std::string out = mbrl_test::read_file(path);
    if (mode == MBRL_PROGRESS_OFF) {
      EXPECT_EQ(printed, 0);
      EXPECT_EQ(out, "");
      continue;
    }
    EXPECT_EQ(printed, 3);
    EXPECT_NE(out.find("fit step 2/10  loss 0.5  "), std::string::npos) << out;
    EXPECT_NE(out.find("fit step 10/10  loss 0.25  "), std::string::npos) << out;
    EXPECT_EQ(out.back(), '\n');
    if (mode == MBRL_PROGRESS_LIVE) {
      EXPECT_EQ(std::count(out.begin(), out.end(), '\r'), 4) << out;
      EXPECT_EQ(std::count(out.begin(), out.end(), '\n'), 1) << out;
      EXPECT_NE(out.find("\033[K"), std::string::npos);
    } else {  // PLAIN, and AUTO on a file (not a terminal)
      EXPECT_EQ(std::count(out.begin(), out.end(), '\r'), 0) << out;
      EXPECT_EQ(std::count(out.begin(), out.end(), '\n'), 4) << out;
    }
  }
  // PLAIN with a long interval prints nothing until finish.
  std::string path = tmp.file("quiet");
  FILE *f = std::fopen(path.c_str(), "w");
  mbrl_progress p;
  mbrl_progress_init(&p, f, "fit", 0, 10, MBRL_PROGRESS_PLAIN, 3600.0);
  EXPECT_EQ(mbrl_progress_update(&p, 1, "loss", 1.0), 0);
  mbrl_progress_finish(&p, 10, "loss", 0.5);
  std::fclose(f);
  std::string out = mbrl_test::read_file(path);
  EXPECT_EQ(std::count(out.begin(), out.end(), '\n'), 1) << out;
}
