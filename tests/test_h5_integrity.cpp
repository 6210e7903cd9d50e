// tests/test_h5_integrity.cpp - damage detection in mbrl's files (mbrl/h5util.h):
// SHA-256 against FIPS 180-2's examples; the seal covers every byte (each byte flipped and each
// truncation of a real file is refused, naming the file); per-dataset digests catch changed
// numbers behind a valid seal, naming the object; sealed files refuse variable-length strings;
// format_version 1 files of every kind (tests/data/v1, made by scripts/make_format_v1_files.sh
// with the previous programs) still load the same numbers; the guard turns a crash or a hang
// of the reading code on an unsealed file into an error; stale temporaries of killed writers
// are removed by the next writer, live ones are kept.
#include <fcntl.h>
#include <hdf5.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cmath>
#include <cstring>
#include <functional>
#include <fstream>
#include <string>
#include <vector>

#include "testing.h"

extern "C" {
#include "host/sha256.h"
#include "mbrl/a2c.h"
#include "mbrl/dataset.h"
#include "mbrl/dynamics.h"
#include "mbrl/h5util.h"
#include "mbrl/mlp.h"
#include "mbrl/philox.h"
#include "mbrl/trajectory.h"
}

using mbrl_test::has;
using mbrl_test::read_file;
using mbrl_test::TempDir;

namespace {

std::string hex_of(const std::string &s) {
  uint8_t d[MBRL_SHA256_BYTES];
  char h[MBRL_SHA256_HEX];
  mbrl_sha256(s.data(), s.size(), d);
  mbrl_sha256_hex(d, h);
  return h;
}

// Write a fresh file (unlinked first: rewriting a truncated file makes ext4 flush it to disk).
void write_bytes(const std::string &path, const std::string &bytes) {
  unlink(path.c_str());
  std::ofstream(path, std::ios::binary | std::ios::trunc).write(bytes.data(),
                                                                (std::streamsize)bytes.size());
}

std::string v1_file(const char *name) { return std::string(MBRL_TEST_DATA_DIR) + "/v1/" + name; }

// A small Pendulum dataset file (2 episodes of 8 steps).
std::string small_dataset(const TempDir &dir, const std::string &name) {
  mbrl_dataset ds;
  EXPECT_EQ(mbrl_dataset_init(&ds, "Pendulum-v1", 3, 1), MBRL_OK);
  for (int i = 0; i < 16; ++i) {
    float o[3] = {std::cos(0.1f * i), std::sin(0.1f * i), 0.01f * i}, a[1] = {0.1f * (i % 5)};
    float n[3] = {o[0] + 0.01f, o[1] - 0.01f, o[2] + 0.1f};
    EXPECT_EQ(mbrl_dataset_add(&ds, o, a, n, -0.5f * i, 0, i % 8 == 7), MBRL_OK);
  }
  ds.episodes = 2;
  const std::string path = dir.file(name);
  EXPECT_EQ(mbrl_dataset_save(&ds, path.c_str(), "test"), MBRL_OK) << mbrl_last_error();
  mbrl_dataset_free(&ds);
  return path;
}

bool same_rows(const mbrl_dataset &a, const mbrl_dataset &b) {
  const size_t O = (size_t)a.obs_dim, A = (size_t)a.act_dim;
  return a.n == b.n && a.obs_dim == b.obs_dim && a.act_dim == b.act_dim &&
         !std::memcmp(a.observations, b.observations, a.n * O * sizeof(float)) &&
         !std::memcmp(a.actions, b.actions, a.n * A * sizeof(float)) &&
         !std::memcmp(a.next_observations, b.next_observations, a.n * O * sizeof(float)) &&
         !std::memcmp(a.rewards, b.rewards, a.n * sizeof(float)) &&
         !std::memcmp(a.terminals, b.terminals, a.n) && !std::memcmp(a.timeouts, b.timeouts, a.n);
}

// The byte offset of dataset `name`'s data in the file (H5Dget_offset counts the user block).
long long data_offset(const std::string &path, const char *name) {
  hid_t f = H5Fopen(path.c_str(), H5F_ACC_RDONLY, H5P_DEFAULT);
  hid_t d = H5Dopen2(f, name, H5P_DEFAULT);
  haddr_t a = H5Dget_offset(d);
  H5Dclose(d);
  H5Fclose(f);
  return a == HADDR_UNDEF ? -1 : (long long)a;
}

// The file offset of object `name`'s header (HDF5's addresses start after the 512-byte seal).
long long header_offset(const std::string &path, const char *name) {
  hid_t f = H5Fopen(path.c_str(), H5F_ACC_RDONLY, H5P_DEFAULT);
  if (f < 0) return -1;
  long long at = -1;
#if H5_VERSION_GE(1, 12, 0)
  H5O_info2_t info;
  haddr_t a = HADDR_UNDEF;
  if (H5Oget_info_by_name3(f, name, &info, H5O_INFO_BASIC, H5P_DEFAULT) >= 0 &&
      H5VLnative_token_to_addr(f, info.token, &a) >= 0 && a != HADDR_UNDEF)
    at = 512 + (long long)a;
#else
  H5O_info_t info;
  if (H5Oget_info_by_name2(f, name, &info, H5O_INFO_BASIC, H5P_DEFAULT) >= 0)
    at = 512 + (long long)info.addr;
#endif
  H5Fclose(f);
  return at;
}

// Run fn in a child process (no OpenMP there) and return its answer; the child leaves with
// _exit, before any exit handler (LeakSanitizer's check among them).
std::string in_child(const std::function<std::string()> &fn) {
  int fds[2];
  if (pipe(fds) != 0) return "pipe failed";
  fflush(nullptr);
  const pid_t pid = fork();
  if (pid < 0) return "fork failed";
  if (pid == 0) {
    close(fds[0]);
    const std::string r = fn();
    (void)!write(fds[1], r.data(), r.size());
    _exit(0);
  }
  close(fds[1]);
  std::string out;
  char buf[512];
  for (ssize_t k; (k = read(fds[0], buf, sizeof buf)) != 0;) {
    if (k < 0 && errno == EINTR) continue;
    if (k < 0) break;
    out.append(buf, (size_t)k);
  }
  close(fds[0]);
  int ws = 0;
  while (waitpid(pid, &ws, 0) < 0 && errno == EINTR) {
  }
  if (!WIFEXITED(ws) || WEXITSTATUS(ws) != 0)
    out += " (the child failed: status " + std::to_string(ws) + ")";
  return out;
}

}  // namespace

// ------------------------------------------------------------------ SHA-256

// Every compression path this CPU runs (the portable one, and SHA-NI where present) gives
// FIPS 180-2's example digests and the same digests as each other.
TEST(Sha256, Fips180ExamplesOnEveryPath) {
  const std::string first = mbrl_sha256_impl();
  int paths = 0;
  for (const char *impl : {"generic", "shani"}) {
    if (mbrl_sha256_select(impl) != 0) {
      std::printf("  SHA-256 path %s: not supported here\n", impl);
      continue;
    }
    ++paths;
    EXPECT_EQ(hex_of("abc"), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")
        << impl;
    EXPECT_EQ(hex_of(""), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")
        << impl;
    EXPECT_EQ(hex_of("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq"),
              "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1")
        << impl;
    EXPECT_EQ(hex_of(std::string(1000000, 'a')),
              "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0")
        << impl;
  }
  EXPECT_GE(paths, 1);
  // both paths agree on every length around the block boundaries
  if (mbrl_sha256_select("shani") == 0) {
    std::string s(300, '\0');
    for (size_t i = 0; i < s.size(); ++i) s[i] = (char)(i * 167 + 13);
    for (size_t n = 0; n <= s.size(); ++n) {
      mbrl_sha256_select("generic");
      const std::string g = hex_of(s.substr(0, n));
      mbrl_sha256_select("shani");
      ASSERT_EQ(hex_of(s.substr(0, n)), g) << n << " bytes";
    }
  }
  mbrl_sha256_select(first.c_str());
}

TEST(Sha256, PiecewiseEqualsOneShot) {
  std::string s(4099, '\0');
  for (size_t i = 0; i < s.size(); ++i) s[i] = (char)(i * 131 + 7);
  const std::string want = hex_of(s);
  for (size_t step : {1, 3, 63, 64, 65, 1000}) {
    mbrl_sha256_ctx c;
    mbrl_sha256_init(&c);
    for (size_t i = 0; i < s.size(); i += step)
      mbrl_sha256_update(&c, s.data() + i, std::min(step, s.size() - i));
    uint8_t d[MBRL_SHA256_BYTES];
    char h[MBRL_SHA256_HEX];
    mbrl_sha256_final(&c, d);
    mbrl_sha256_hex(d, h);
    EXPECT_EQ(std::string(h), want) << "pieces of " << step;
  }
}

// ------------------------------------------------------------------ the seal

TEST(Seal, WrittenFilesAreSealedAndNameTheirFormat) {
  TempDir dir;
  const std::string path = small_dataset(dir, "d.h5");
  const std::string bytes = read_file(path);
  ASSERT_GT(bytes.size(), 600u);
  EXPECT_EQ(bytes.substr(0, 16), std::string("\x89MBRL SEAL\r\n\x1a\n\0\0", 16));
  EXPECT_EQ(bytes.substr(512, 8), std::string("\x89HDF\r\n\x1a\n", 8));  // after the user block
  mbrl_h5_seal_info info;
  ASSERT_EQ(mbrl_h5_seal_check(path.c_str(), &info), MBRL_OK) << mbrl_last_error();
  EXPECT_EQ(info.sealed, 1);
  EXPECT_STREQ(info.format, "mbrl.dataset");
  EXPECT_EQ(info.format_version, MBRL_DATASET_FORMAT_VERSION);
  EXPECT_EQ(info.content_bytes, bytes.size() - 512);
  // the digest in the seal is the SHA-256 of everything after it
  uint8_t d[MBRL_SHA256_BYTES];
  mbrl_sha256(bytes.data() + 512, bytes.size() - 512, d);
  EXPECT_EQ(std::memcmp(d, bytes.data() + 32, 32), 0);
  // same contents, same bytes (no time stamps anywhere)
  const std::string again = small_dataset(dir, "d2.h5");
  EXPECT_EQ(read_file(again), bytes);
}

// Every byte of the file is covered: a changed byte anywhere is refused before HDF5 runs.
TEST(Seal, EveryChangedByteIsRefused) {
  TempDir dir;
  const std::string path = small_dataset(dir, "d.h5"), bad = dir.file("bad.h5");
  const std::string bytes = read_file(path);
  write_bytes(bad, bytes);
  const int fd = open(bad.c_str(), O_RDWR);
  ASSERT_GE(fd, 0);
  for (size_t i = 0; i < bytes.size(); ++i) {
    const char flipped = (char)(bytes[i] ^ (1 << (i % 8)));
    ASSERT_EQ(pwrite(fd, &flipped, 1, (off_t)i), 1);
    mbrl_h5_seal_info info;
    const mbrl_status st = mbrl_h5_seal_check(bad.c_str(), &info);
    ASSERT_EQ(st, MBRL_ERR_FORMAT) << "byte " << i << " of " << bytes.size() << " changed";
    ASSERT_TRUE(has(mbrl_last_error(), "'" + bad + "' is damaged")) << mbrl_last_error();
    ASSERT_EQ(pwrite(fd, &bytes[i], 1, (off_t)i), 1);
  }
  close(fd);
}

TEST(Seal, TruncatedOrExtendedFilesAreRefused) {
  TempDir dir;
  const std::string path = small_dataset(dir, "d.h5"), bad = dir.file("bad.h5");
  const std::string bytes = read_file(path);
  for (size_t keep = 0; keep < bytes.size(); keep += (keep < 600 ? 1 : 97)) {
    write_bytes(bad, bytes.substr(0, keep));
    mbrl_dataset ds;
    const mbrl_status st = mbrl_dataset_load(&ds, bad.c_str());
    ASSERT_EQ(st, MBRL_ERR_FORMAT) << "kept " << keep << " bytes";
    const std::string msg = mbrl_last_error();
    ASSERT_TRUE(has(msg, bad)) << msg;
    ASSERT_TRUE(has(msg, keep >= 16 ? "truncated" : "is not an HDF5 file")) << keep << ": " << msg;
  }
  write_bytes(bad, bytes + std::string(8, '\0'));
  EXPECT_EQ(mbrl_h5_seal_check(bad.c_str(), nullptr), MBRL_ERR_FORMAT);
  EXPECT_TRUE(has(mbrl_last_error(), "longer than written")) << mbrl_last_error();
}

TEST(Seal, DamagedSealWithIntactHdf5IsRefused) {
  TempDir dir;
  const std::string path = small_dataset(dir, "d.h5");
  std::string b = read_file(path);
  b[3] = 'X';  // the magic: it no longer looks sealed, but HDF5's superblock sits at 512
  write_bytes(path, b);
  mbrl_dataset ds;
  EXPECT_EQ(mbrl_dataset_load(&ds, path.c_str()), MBRL_ERR_FORMAT);
  EXPECT_TRUE(has(mbrl_last_error(), "first 512 bytes should hold mbrl's seal")) << mbrl_last_error();
}

// Behind a valid seal (rewritten after the change, as a deliberate edit would), the numbers
// are still checked against each dataset's digest, and the message names the object.
TEST(Seal, ChangedNumbersBehindAValidSealAreRefusedNamingTheDataset) {
  TempDir dir;
  const std::string path = small_dataset(dir, "d.h5");
  const long long off = data_offset(path, "actions");
  ASSERT_GT(off, 0);
  std::string b = read_file(path);
  const size_t at = (size_t)off + 4 * 3;  // actions[3]
  ASSERT_LT(at, b.size());
  b[at] ^= 0x01;
  write_bytes(path, b);
  ASSERT_EQ(mbrl_h5_seal_rewrite(path.c_str()), MBRL_OK) << mbrl_last_error();
  ASSERT_EQ(mbrl_h5_seal_check(path.c_str(), nullptr), MBRL_OK);
  mbrl_dataset ds;
  EXPECT_EQ(mbrl_dataset_load(&ds, path.c_str()), MBRL_ERR_FORMAT);
  EXPECT_TRUE(has(mbrl_last_error(), "the numbers of /actions do not match its SHA-256 digest"))
      << mbrl_last_error();
  EXPECT_TRUE(has(mbrl_last_error(), path)) << mbrl_last_error();
}

// A group or dataset whose object header is damaged (behind a forged seal) is an error naming
// the file, never taken for an absent optional object: mbrl_h5_exists says -1 and
// mbrl_h5_dataset_rank -2 where the metadata cannot be read, and an MLP with one damaged
// layer is refused instead of being read as a network without that layer.
TEST(Seal, DamagedObjectHeadersAreNotTakenForAbsentObjects) {
  TempDir dir;
  const int sizes[4] = {4, 8, 8, 3};
  mbrl_mlp_config c;
  mbrl_mlp_config_init(&c, 3, sizes);
  c.batchnorm = 1;
  mbrl_mlp *m = nullptr;
  ASSERT_EQ(mbrl_mlp_create(&m, &c, MBRL_BACKEND_CPU, 4), MBRL_OK) << mbrl_last_error();
  const std::string good = dir.file("mlp.h5");
  ASSERT_EQ(mbrl_mlp_save(m, good.c_str()), MBRL_OK) << mbrl_last_error();
  mbrl_mlp_free(m);
  const std::string bytes = read_file(good);
  struct Case {
    const char *object, *message;
  } cases[] = {{"/network", "is damaged: /network/0 cannot be read"},
               {"/network/3", "is damaged: /network/3 cannot be read"},          // its group
               {"/network/3/weight", "is damaged: /network/3 cannot be read"}};  // the dataset
  for (const Case &k : cases) {
    const long long at = header_offset(good, k.object);
    ASSERT_GT(at, 512) << k.object;
    ASSERT_EQ(bytes.substr((size_t)at, 4), "OHDR") << k.object;  // a checksummed (v2) header
    // the last byte of the header's first chunk, before its checksum (layout: "OHDR", version,
    // flags, [times], [attribute phase], chunk size in 1 << (flags & 3) bytes, messages, checksum)
    const unsigned flags = (unsigned char)bytes[(size_t)at + 5];
    size_t pos = (size_t)at + 6 + ((flags & 0x20) ? 16 : 0) + ((flags & 0x10) ? 4 : 0);
    const size_t size_len = (size_t)1 << (flags & 3);
    uint64_t chunk = 0;
    for (size_t i = 0; i < size_len; ++i)
      chunk |= (uint64_t)(unsigned char)bytes[pos + i] << (8 * i);
    pos += size_len + chunk - 1;
    ASSERT_LT(pos + 4, bytes.size()) << k.object;
    std::string b = bytes;
    b[pos] ^= 0x40;
    const std::string path = dir.file("bad.h5");
    write_bytes(path, b);
    ASSERT_EQ(mbrl_h5_seal_rewrite(path.c_str()), MBRL_OK) << mbrl_last_error();
    // HDF5 1.10 leaks the header object it failed to load (LeakSanitizer would fail the
    // sanitizer run): these reads run in a child process, the loader's in the guard's child
    const bool group = !std::strcmp(k.object, "/network"),
               dataset = !std::strcmp(k.object, "/network/3/weight");
    const std::string want = "exists " + std::string(dataset ? "1" : "-1") + ", rank -2, rank0 " +
                             (group ? "-2" : "2") + ", nothing " + (group ? "-1" : "0");
    EXPECT_EQ(in_child([&] {
                hid_t f = H5Fopen(path.c_str(), H5F_ACC_RDONLY, H5P_DEFAULT);
                if (f < 0) return std::string("cannot open the file");
                hsize_t dims[2];
                std::string r =
                    "exists " + std::to_string(mbrl_h5_exists(f, "/network/3/weight")) + ", rank " +
                    std::to_string(mbrl_h5_dataset_rank(f, "/network/3/weight", dims, 2)) +
                    ", rank0 " +
                    std::to_string(mbrl_h5_dataset_rank(f, "/network/0/weight", dims, 2)) +
                    ", nothing " + std::to_string(mbrl_h5_exists(f, "/network/0/nothing"));
                H5Fclose(f);
                return r;
              }),
              want)
        << k.object;
    setenv("MBRL_H5_GUARD", "always", 1);
    mbrl_mlp *back = nullptr;
    EXPECT_EQ(mbrl_mlp_load(path.c_str(), nullptr, MBRL_BACKEND_CPU, 4, &back), MBRL_ERR_FORMAT)
        << k.object;
    mbrl_mlp_free(back);
    unsetenv("MBRL_H5_GUARD");
    EXPECT_TRUE(has(mbrl_last_error(), "'" + path + "' " + k.message))
        << k.object << ": " << mbrl_last_error();
  }
}

TEST(Seal, SealedFilesHoldFixedLengthStringsOnly) {
  TempDir dir;
  const std::string path = small_dataset(dir, "d.h5");
  hid_t f = H5Fopen(path.c_str(), H5F_ACC_RDWR, H5P_DEFAULT);
  ASSERT_GE(f, 0);
  H5Adelete(f, "env_id");
  hid_t t = H5Tcopy(H5T_C_S1);
  H5Tset_size(t, H5T_VARIABLE);
  hid_t sp = H5Screate(H5S_SCALAR);
  hid_t a = H5Acreate2(f, "env_id", t, sp, H5P_DEFAULT, H5P_DEFAULT);
  const char *v = "Pendulum-v1";
  ASSERT_GE(H5Awrite(a, t, &v), 0);
  H5Aclose(a), H5Sclose(sp), H5Tclose(t), H5Fclose(f);
  ASSERT_EQ(mbrl_h5_seal_rewrite(path.c_str()), MBRL_OK);
  mbrl_dataset ds;
  EXPECT_EQ(mbrl_dataset_load(&ds, path.c_str()), MBRL_ERR_FORMAT);
  EXPECT_TRUE(has(mbrl_last_error(), "attribute 'env_id' is a variable-length string"))
      << mbrl_last_error();
}

// Every dataset a sealed file holds must carry a digest.
TEST(Seal, DatasetWithoutDigestInASealedFileIsRefused) {
  TempDir dir;
  const std::string path = small_dataset(dir, "d.h5");
  hid_t f = H5Fopen(path.c_str(), H5F_ACC_RDWR, H5P_DEFAULT);
  ASSERT_GE(f, 0);
  hid_t d = H5Dopen2(f, "rewards", H5P_DEFAULT);
  ASSERT_GE(H5Adelete(d, "sha256"), 0);
  H5Dclose(d), H5Fclose(f);
  ASSERT_EQ(mbrl_h5_seal_rewrite(path.c_str()), MBRL_OK);
  mbrl_dataset ds;
  EXPECT_EQ(mbrl_dataset_load(&ds, path.c_str()), MBRL_ERR_FORMAT);
  EXPECT_TRUE(has(mbrl_last_error(), "/rewards has no sha256 attribute")) << mbrl_last_error();
}

// ------------------------------------------------------------------ format_version 1 files

TEST(FormatV1, DatasetLoadsTheStoredNumbersAndRewritesSealed) {
  const std::string path = v1_file("dataset.h5");
  mbrl_h5_seal_info info;
  ASSERT_EQ(mbrl_h5_seal_check(path.c_str(), &info), MBRL_OK);
  EXPECT_EQ(info.sealed, 0);
  mbrl_dataset ds;
  ASSERT_EQ(mbrl_dataset_load(&ds, path.c_str()), MBRL_OK) << mbrl_last_error();
  EXPECT_EQ(ds.n, 20u);
  EXPECT_STREQ(ds.env_id, "Pendulum-v1");
  // the numbers are the file's, as plain HDF5 reads them
  std::vector<float> obs(ds.n * 3);
  hid_t f = H5Fopen(path.c_str(), H5F_ACC_RDONLY, H5P_DEFAULT);
  hid_t d = H5Dopen2(f, "observations", H5P_DEFAULT);
  ASSERT_GE(H5Dread(d, H5T_NATIVE_FLOAT, H5S_ALL, H5S_ALL, H5P_DEFAULT, obs.data()), 0);
  H5Dclose(d), H5Fclose(f);
  EXPECT_EQ(std::memcmp(obs.data(), ds.observations, obs.size() * sizeof(float)), 0);
  // written back it is version 2, sealed, and loads the same rows
  TempDir dir;
  const std::string v2 = dir.file("v2.h5");
  ASSERT_EQ(mbrl_dataset_save(&ds, v2.c_str(), "t"), MBRL_OK);
  ASSERT_EQ(mbrl_h5_seal_check(v2.c_str(), &info), MBRL_OK);
  EXPECT_EQ(info.sealed, 1);
  EXPECT_EQ(info.format_version, 2);
  mbrl_dataset back;
  ASSERT_EQ(mbrl_dataset_load(&back, v2.c_str()), MBRL_OK);
  EXPECT_TRUE(same_rows(ds, back));
  mbrl_dataset_free(&back);
  mbrl_dataset_free(&ds);
}

TEST(FormatV1, DynamicsCheckpointLoadsAndPredictsAsItsResave) {
  mbrl_dynamics *a = nullptr, *b = nullptr;
  ASSERT_EQ(mbrl_dynamics_load(v1_file("dynamics.h5").c_str(), MBRL_BACKEND_CPU, 8, &a), MBRL_OK)
      << mbrl_last_error();
  TempDir dir;
  const std::string v2 = dir.file("m.h5");
  ASSERT_EQ(mbrl_dynamics_save(a, v2.c_str()), MBRL_OK);
  ASSERT_EQ(mbrl_dynamics_load(v2.c_str(), MBRL_BACKEND_CPU, 8, &b), MBRL_OK);
  const size_t n = mbrl_mlp_state_size(a->mlp);
  std::vector<float> sa(n), sb(n);
  ASSERT_EQ(mbrl_mlp_get_state(a->mlp, sa.data()), MBRL_OK);
  ASSERT_EQ(mbrl_mlp_get_state(b->mlp, sb.data()), MBRL_OK);
  EXPECT_EQ(sa, sb);
  EXPECT_EQ(std::memcmp(&a->stats, &b->stats, sizeof a->stats), 0);
  // the first weight is the file's
  float w0 = 0;
  hid_t f = H5Fopen(v1_file("dynamics.h5").c_str(), H5F_ACC_RDONLY, H5P_DEFAULT);
  hid_t d = H5Dopen2(f, "model/network/0/weight", H5P_DEFAULT);
  hsize_t one = 1, zero[2] = {0, 0}, cnt[2] = {1, 1};
  hid_t fs = H5Dget_space(d), ms = H5Screate_simple(1, &one, nullptr);
  H5Sselect_hyperslab(fs, H5S_SELECT_SET, zero, nullptr, cnt, nullptr);
  ASSERT_GE(H5Dread(d, H5T_NATIVE_FLOAT, ms, fs, H5P_DEFAULT, &w0), 0);
  H5Sclose(ms), H5Sclose(fs), H5Dclose(d), H5Fclose(f);
  EXPECT_EQ(w0, sa[0]);
  mbrl_dynamics_free(a);
  mbrl_dynamics_free(b);
}

namespace {
// The weights of every model of an a2c object, concatenated.
std::vector<float> a2c_state(const mbrl_a2c *a) {
  std::vector<float> all;
  for (int i = 0; i < a->M; ++i) {
    std::vector<float> s(mbrl_a2c_state_size(a));
    EXPECT_EQ(mbrl_a2c_get_state(a, i, s.data()), MBRL_OK);
    all.insert(all.end(), s.begin(), s.end());
  }
  return all;
}

void policy_round_trip(const char *name, int models, std::vector<int> hidden) {
  const std::string path = v1_file(name);
  mbrl_a2c_file_info info;
  ASSERT_EQ(mbrl_a2c_file_info_read(path.c_str(), &info), MBRL_OK) << mbrl_last_error();
  EXPECT_EQ(info.models, models);
  mbrl_a2c_config c;
  mbrl_a2c_config_init(&c, MBRL_A2C_ALGO_A2C);
  c.n_hidden = (int)hidden.size();
  for (size_t i = 0; i < hidden.size(); ++i) c.hidden[i] = hidden[i];
  mbrl_a2c *a = nullptr, *b = nullptr;
  ASSERT_EQ(mbrl_a2c_create(&a, &c, "CartPole-v1", models, MBRL_BACKEND_CPU), MBRL_OK);
  ASSERT_EQ(mbrl_a2c_create(&b, &c, "CartPole-v1", models, MBRL_BACKEND_CPU), MBRL_OK);
  const std::vector<float> init = a2c_state(a);
  ASSERT_EQ(mbrl_a2c_load(a, path.c_str()), MBRL_OK) << mbrl_last_error();
  EXPECT_NE(a2c_state(a), init);
  TempDir dir;
  const std::string v2 = dir.file("p.h5");
  ASSERT_EQ(mbrl_a2c_save(a, v2.c_str()), MBRL_OK);
  ASSERT_EQ(mbrl_a2c_load(b, v2.c_str()), MBRL_OK) << mbrl_last_error();
  EXPECT_EQ(a2c_state(a), a2c_state(b));
  mbrl_a2c_free(a);
  mbrl_a2c_free(b);
}
}  // namespace

TEST(FormatV1, PolicyAndEnsembleLoadAsTheirResaves) {
  policy_round_trip("policy.h5", 1, {8, 8});
  policy_round_trip("ensemble.h5", 3, {8});
}

TEST(FormatV1, TrajectoryLoadsWithTimeoutsDerived) {
  mbrl_trajectory t;
  ASSERT_EQ(mbrl_trajectory_load(&t, v1_file("trajectory.h5").c_str()), MBRL_OK)
      << mbrl_last_error();
  EXPECT_EQ(t.n, 6u);
  EXPECT_STREQ(t.env_id, "Pendulum-v1");
  EXPECT_EQ(t.samples, 16);
  EXPECT_EQ(t.horizon, 4);
  EXPECT_EQ(t.step[5], 5);
  EXPECT_EQ(t.timeout[5], 1);  // the episode's last step
  EXPECT_EQ(t.timeout[4], 0);
  TempDir dir;
  const std::string v2 = dir.file("t.h5");
  ASSERT_EQ(mbrl_trajectory_save(&t, v2.c_str()), MBRL_OK);
  mbrl_trajectory u;
  ASSERT_EQ(mbrl_trajectory_load(&u, v2.c_str()), MBRL_OK) << mbrl_last_error();
  EXPECT_EQ(u.n, t.n);
  EXPECT_EQ(std::memcmp(u.obs, t.obs, t.n * 3 * sizeof(float)), 0);
  EXPECT_EQ(std::memcmp(u.pred_next, t.pred_next, t.n * 3 * sizeof(float)), 0);
  EXPECT_EQ(std::memcmp(u.timeout, t.timeout, t.n), 0);
  EXPECT_EQ(u.gamma, t.gamma);
  EXPECT_STREQ(u.model, t.model);
  mbrl_trajectory_free(&u);
  mbrl_trajectory_free(&t);
}

// An unsealed file is never opened outside the guard (unless MBRL_H5_GUARD=off).
TEST(FormatV1, UnsealedFilesOpenOnlyUnderTheGuard) {
  hid_t f = H5I_INVALID_HID;
  EXPECT_EQ(mbrl_h5_open_read(v1_file("dataset.h5").c_str(), &f), MBRL_ERR_FORMAT);
  EXPECT_TRUE(has(mbrl_last_error(), "has no mbrl seal")) << mbrl_last_error();
  setenv("MBRL_H5_GUARD", "off", 1);
  EXPECT_EQ(mbrl_h5_open_read(v1_file("dataset.h5").c_str(), &f), MBRL_OK);
  unsetenv("MBRL_H5_GUARD");
  if (f >= 0) H5Fclose(f);
}

// ------------------------------------------------------------------ the guard

namespace {
struct Probe {
  int child_runs_seen;  // set in the parent only
  const char *what;     // "crash", "hang", "openmp" or "ok"
};
mbrl_status probe_read(const char *, void *ctx) {
  Probe *p = (Probe *)ctx;
  if (mbrl_h5_guard_child()) {
    if (!std::strcmp(p->what, "crash")) raise(SIGKILL);
    if (!std::strcmp(p->what, "hang")) pause();
    if (!std::strcmp(p->what, "openmp")) {  // an OpenMP parallel region inside the child
      std::vector<float> v(1 << 20);
      return mbrl_philox_fill_uniform(v.data(), v.size(), 1, 0, 0);
    }
    return MBRL_OK;
  }
  p->child_runs_seen++;
  return MBRL_OK;
}
}  // namespace

TEST(Guard, CrashAndHangOfTheReaderBecomeErrorsNamingTheFile) {
  const std::string path = v1_file("dataset.h5");
  Probe ok{0, "ok"};
  EXPECT_EQ(mbrl_h5_guarded_read(path.c_str(), probe_read, &ok), MBRL_OK);
  EXPECT_EQ(ok.child_runs_seen, 1);  // the parent's run, after the child's
  Probe crash{0, "crash"};
  EXPECT_EQ(mbrl_h5_guarded_read(path.c_str(), probe_read, &crash), MBRL_ERR_FORMAT);
  EXPECT_TRUE(has(mbrl_last_error(), "'" + path + "' is damaged: reading it crashed"))
      << mbrl_last_error();
  EXPECT_EQ(crash.child_runs_seen, 0);  // nothing was read here
  setenv("MBRL_H5_GUARD_TIMEOUT", "0.5", 1);
  Probe hang{0, "hang"};
  EXPECT_EQ(mbrl_h5_guarded_read(path.c_str(), probe_read, &hang), MBRL_ERR_FORMAT);
  EXPECT_TRUE(has(mbrl_last_error(), "did not finish within")) << mbrl_last_error();
  unsetenv("MBRL_H5_GUARD_TIMEOUT");
  EXPECT_EQ(hang.child_runs_seen, 0);
}

// A reader may run OpenMP code in the child although the parent's OpenMP threads do not exist
// there (GCC's libgomp would wait for them forever).
TEST(Guard, OpenMpInTheChildAfterTheParentUsedIt) {
  std::vector<float> v(1 << 20);
  ASSERT_EQ(mbrl_philox_fill_uniform(v.data(), v.size(), 1, 0, 0), MBRL_OK);  // starts the team
  setenv("MBRL_H5_GUARD_TIMEOUT", "20", 1);
  Probe omp{0, "openmp"};
  EXPECT_EQ(mbrl_h5_guarded_read(v1_file("dataset.h5").c_str(), probe_read, &omp), MBRL_OK)
      << mbrl_last_error();
  unsetenv("MBRL_H5_GUARD_TIMEOUT");
  EXPECT_EQ(omp.child_runs_seen, 1);
}

TEST(Guard, SealedFilesAreReadInProcessUnlessAlways) {
  TempDir dir;
  const std::string path = small_dataset(dir, "d.h5");
  Probe crash{0, "crash"};  // would crash in a child: there is none for a sealed file
  EXPECT_EQ(mbrl_h5_guarded_read(path.c_str(), probe_read, &crash), MBRL_OK);
  EXPECT_EQ(crash.child_runs_seen, 1);
  setenv("MBRL_H5_GUARD", "always", 1);
  Probe crash2{0, "crash"};
  EXPECT_EQ(mbrl_h5_guarded_read(path.c_str(), probe_read, &crash2), MBRL_ERR_FORMAT);
  unsetenv("MBRL_H5_GUARD");
  // a damaged seal is refused before any reader runs
  std::string b = read_file(path);
  b[b.size() - 1] ^= 1;
  write_bytes(path, b);
  Probe ok{0, "ok"};
  EXPECT_EQ(mbrl_h5_guarded_read(path.c_str(), probe_read, &ok), MBRL_ERR_FORMAT);
  EXPECT_EQ(ok.child_runs_seen, 0);
}

// ------------------------------------------------------------------ temporaries

TEST(Temporaries, KilledWritersLeftoversAreRemovedLiveOnesKept) {
  TempDir dir;
  const std::string path = dir.file("d.h5");
  write_bytes(path + ".tmp.99999991", "left by a killed writer");
  write_bytes(path + ".tmp.x", "not ours: not digits");
  write_bytes(dir.file("other.h5.tmp.5"), "another target's");
  // a live writer's temporary: locked (an open file description lock, as the writer holds)
  const std::string live = path + ".tmp.99999992";
  write_bytes(live, "being written");
  int fd = open(live.c_str(), O_RDWR);
  ASSERT_GE(fd, 0);
  struct flock fl;
  std::memset(&fl, 0, sizeof fl);
  fl.l_type = F_WRLCK;
  fl.l_whence = SEEK_SET;
  ASSERT_EQ(fcntl(fd, F_OFD_SETLK, &fl), 0);
  small_dataset(dir, "d.h5");  // a writer of d.h5 cleans up first
  std::vector<std::string> names = mbrl_test::list_dir(dir.path);
  std::sort(names.begin(), names.end());
  EXPECT_EQ(names, (std::vector<std::string>{"d.h5", "d.h5.tmp.99999992", "d.h5.tmp.x",
                                              "other.h5.tmp.5"}));
  close(fd);  // the live writer is gone: the next writer removes its leftover
  EXPECT_EQ(mbrl_h5_remove_stale_temporaries(path.c_str()), 1);
  EXPECT_FALSE(mbrl_test::file_exists(live));
}

// ------------------------------------------------------------------ claims vs file size

// A policy file's attributes decide how much mbrl_a2c allocates before reading a weight: they
// must describe networks that fit in the file.
TEST(Claims, PolicyAttributesMustFitTheFile) {
  TempDir dir;
  const std::string path = dir.file("p.h5");
  for (const char *attr : {"models", "hidden"}) {
    std::ofstream(path, std::ios::binary) << read_file(v1_file("policy.h5"));  // unsealed
    hid_t f = H5Fopen(path.c_str(), H5F_ACC_RDWR, H5P_DEFAULT);
    ASSERT_GE(f, 0);
    H5Adelete(f, attr);
    if (!std::strcmp(attr, "models"))
      ASSERT_EQ(mbrl_h5_attr_write_i64(f, "models", 1000), MBRL_OK);
    else
      ASSERT_EQ(mbrl_h5_attr_write_str(f, "hidden", "4096,4096,4096"), MBRL_OK);
    H5Fclose(f);
    mbrl_a2c_file_info info;
    EXPECT_EQ(mbrl_a2c_file_info_read(path.c_str(), &info), MBRL_ERR_FORMAT) << attr;
    EXPECT_TRUE(has(mbrl_last_error(), "'" + path + "' is damaged: it declares")) << mbrl_last_error();
  }
}

// A network's widths come from its weights' shapes: a shape larger than the file is refused
// before the model is allocated.
TEST(Claims, NetworkShapesMustFitTheFile) {
  TempDir dir;
  const std::string path = dir.file("m.h5");
  std::ofstream(path, std::ios::binary) << read_file(v1_file("dynamics.h5"));  // unsealed
  hid_t f = H5Fopen(path.c_str(), H5F_ACC_RDWR, H5P_DEFAULT);
  ASSERT_GE(f, 0);
  ASSERT_GE(H5Ldelete(f, "model/network/6/weight", H5P_DEFAULT), 0);
  hsize_t dims[2] = {300000, 8}, chunk[2] = {1024, 8};  // the last layer: 300000 outputs
  hid_t sp = H5Screate_simple(2, dims, nullptr), dcpl = H5Pcreate(H5P_DATASET_CREATE);
  H5Pset_chunk(dcpl, 2, chunk);  // nothing stored
  hid_t d = H5Dcreate2(f, "model/network/6/weight", H5T_IEEE_F32LE, sp, H5P_DEFAULT, dcpl,
                       H5P_DEFAULT);
  ASSERT_GE(d, 0);
  H5Dclose(d), H5Pclose(dcpl), H5Sclose(sp), H5Fclose(f);
  mbrl_dynamics *m = nullptr;
  EXPECT_EQ(mbrl_dynamics_load(path.c_str(), MBRL_BACKEND_CPU, 4, &m), MBRL_ERR_FORMAT);
  EXPECT_TRUE(has(mbrl_last_error(), "is damaged: it declares an MLP")) << mbrl_last_error();
}

// ------------------------------------------------------------------ fuzz regressions

// Every input the fuzzer found that crashes or hangs HDF5 (tests/data/fuzz/<kind>/, see its
// README) is refused through the programs' loaders with an error naming the file: no crash,
// no hang (the guard's child takes the crash or is stopped after its time limit).
TEST(FuzzRegressions, CrashingInputsAreRefusedCleanly) {
  const std::string root = std::string(MBRL_TEST_DATA_DIR) + "/fuzz";
  setenv("MBRL_H5_GUARD_TIMEOUT", "1", 1);
  int n = 0;
  for (const char *kind : {"dataset", "dynamics", "policy", "trajectory"}) {
    for (const std::string &name : mbrl_test::list_dir(root + "/" + kind)) {
      const std::string path = root + "/" + kind + "/" + name;
      mbrl_status st = MBRL_OK;
      if (!std::strcmp(kind, "dataset")) {
        mbrl_dataset ds;
        st = mbrl_dataset_load(&ds, path.c_str());
        if (st == MBRL_OK) mbrl_dataset_free(&ds);
      } else if (!std::strcmp(kind, "dynamics")) {
        mbrl_dynamics *d = nullptr;
        st = mbrl_dynamics_load(path.c_str(), MBRL_BACKEND_CPU, 4, &d);
        mbrl_dynamics_free(d);
      } else if (!std::strcmp(kind, "policy")) {
        mbrl_a2c_file_info info;
        st = mbrl_a2c_file_info_read(path.c_str(), &info);
        if (st == MBRL_OK) {  // the file's attributes may be intact: then its networks fail
          mbrl_a2c_config c;
          mbrl_a2c_config_init(&c, info.algo);
          c.n_hidden = info.n_hidden;
          for (int i = 0; i < info.n_hidden; ++i) c.hidden[i] = info.hidden[i];
          mbrl_a2c *a = nullptr;
          ASSERT_EQ(mbrl_a2c_create(&a, &c, info.env_id, info.models, MBRL_BACKEND_CPU), MBRL_OK);
          st = mbrl_a2c_load(a, path.c_str());
          mbrl_a2c_free(a);
        }
      } else {
        mbrl_trajectory t;
        st = mbrl_trajectory_load(&t, path.c_str());
        if (st == MBRL_OK) mbrl_trajectory_free(&t);
      }
      EXPECT_EQ(st, MBRL_ERR_FORMAT) << path << ": " << mbrl_last_error();
      EXPECT_TRUE(has(mbrl_last_error(), path)) << mbrl_last_error();
      ++n;
    }
  }
  unsetenv("MBRL_H5_GUARD_TIMEOUT");
  EXPECT_GE(n, 4);
}
