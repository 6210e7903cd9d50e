// Philox4x32-10 (include/mbrl/philox.h) and the fill ops (src/host/philox_fill.c,
// src/kernels/philox.cu).
//
// References that are not us:
//  - Random123's tests/kat_vectors, the three "philox4x32 10" lines (raw block function);
//  - cuRAND's device API: curand_kernel.h compiled for the host (QUALIFIERS = static inline),
//    i.e. NVIDIA's own curand_init / curand / curand4 / curand_uniform / skipahead code;
//  - cuRAND's host generator (curandCreateGeneratorHost, PHILOX4_32_10), a separate
//    implementation inside libcurand. Its output order was found empirically (see philox.h):
//    u32/float position p (p = generator offset + i) is word p % 4 of subsequence
//    (p / 4) % 65536, block (p / 4) / 65536; doubles come four per subsequence from two
//    curand_uniform2_double calls, position q -> subsequence (q / 4) % 65536, doubles
//    8 * ((q / 4) / 65536) words in, element q % 4.
// The cuRAND parts are compiled only in CUDA builds (libcurand and its headers present).
#ifdef MBRL_HAVE_CUDA
#define QUALIFIERS static inline
#include <cuda_runtime.h>
#include <curand.h>
#include <curand_kernel.h>
#endif

#include "testing.h"

#include <cstdint>
#include <cstring>
#include <vector>

extern "C" {
#include "mbrl/philox.h"
#include "mbrl/status.h"
}

namespace {

struct Kat {
  uint32_t ctr[4], key[2], out[4];
};

// Random123 tests/kat_vectors: "philox4x32 10 CTR(4) KEY(2) EXPECTED(4)".
const Kat kKats[] = {
    {{0x00000000, 0x00000000, 0x00000000, 0x00000000},
     {0x00000000, 0x00000000},
     {0x6627e8d5, 0xe169c58d, 0xbc57ac4c, 0x9b00dbd8}},
    {{0xffffffff, 0xffffffff, 0xffffffff, 0xffffffff},
     {0xffffffff, 0xffffffff},
     {0x408f276d, 0x41c83b0e, 0xa20bc7c6, 0x6d5451fd}},
    {{0x243f6a88, 0x85a308d3, 0x13198a2e, 0x03707344},
     {0xa4093822, 0x299f31d0},
     {0xd16cfe09, 0x94fdcceb, 0x5001e420, 0x24126ea1}},
};

const uint64_t kSeeds[] = {0, 1, 42, 0xdeadbeefcafef00dULL, 0xffffffffffffffffULL};
// Subsequences and offsets that hit word phases, 32-bit counter carries and the top words.
const uint64_t kSubs[] = {0, 1, 7, 0xffffffffULL, 0x100000000ULL, 0xffffffffffffffffULL};
const uint64_t kOffsets[] = {0,           1,           2,
                             3,           5,           4096,
                             4ULL << 32,  (4ULL << 32) - 5,  0xfffffffffffffffdULL};

mbrl_philox make(uint64_t seed, uint64_t sub, uint64_t off) {
  mbrl_philox s;
  mbrl_philox_init(&s, seed, sub, off);
  return s;
}

bool same_state(const mbrl_philox &a, const mbrl_philox &b) {
  return a.ctr.x == b.ctr.x && a.ctr.y == b.ctr.y && a.ctr.z == b.ctr.z && a.ctr.w == b.ctr.w &&
         a.key[0] == b.key[0] && a.key[1] == b.key[1] && a.state == b.state &&
         a.output.x == b.output.x && a.output.y == b.output.y && a.output.z == b.output.z &&
         a.output.w == b.output.w;
}

}  // namespace

// (a) Raw block function vs Random123's known answers.
TEST(Philox, Random123KnownAnswers) {
  for (const Kat &k : kKats) {
    mbrl_u32x4 c = {k.ctr[0], k.ctr[1], k.ctr[2], k.ctr[3]};
    mbrl_u32x4 r = mbrl_philox4x32_10(c, k.key[0], k.key[1]);
    EXPECT_EQ(r.x, k.out[0]);
    EXPECT_EQ(r.y, k.out[1]);
    EXPECT_EQ(r.z, k.out[2]);
    EXPECT_EQ(r.w, k.out[3]);
  }
}

// The stream API reaches any counter: init(seed = key, subsequence = counter high 64 bits)
// then skips to counter low 64 bits (in four skipaheads, since 4 * 2^64 draws overflow);
// its next four draws are the known answers of the raw block function.
TEST(Philox, StreamReachesKnownAnswerCounters) {
  for (const Kat &k : kKats) {
    uint64_t seed = ((uint64_t)k.key[1] << 32) | k.key[0];
    uint64_t hi = ((uint64_t)k.ctr[3] << 32) | k.ctr[2];
    uint64_t lo = ((uint64_t)k.ctr[1] << 32) | k.ctr[0];
    mbrl_philox s = make(seed, hi, 0);
    for (int q = 0; q < 4; ++q) mbrl_philox_skipahead(&s, 4 * (lo / 4));
    mbrl_philox_skipahead(&s, 4 * (lo % 4));
    EXPECT_EQ(mbrl_philox_next_u32(&s), k.out[0]);
    EXPECT_EQ(mbrl_philox_next_u32(&s), k.out[1]);
    EXPECT_EQ(mbrl_philox_next_u32(&s), k.out[2]);
    EXPECT_EQ(mbrl_philox_next_u32(&s), k.out[3]);
  }
  // subsequence 5, offset 4 * 3 + 2: block (3, 0, 5, 0), word z first.
  mbrl_philox s = make(77, 5, 14);
  mbrl_u32x4 b = mbrl_philox4x32_10(mbrl_u32x4{3, 0, 5, 0}, 77, 0);
  EXPECT_EQ(mbrl_philox_next_u32(&s), b.z);
  EXPECT_EQ(mbrl_philox_next_u32(&s), b.w);
}

// (c) offset k == offset 0 then k draws; skipahead composes; subsequence == 2^66 draws.
TEST(Philox, OffsetEqualsDraws) {
  for (uint64_t seed : kSeeds) {
    for (uint64_t sub : kSubs) {
      mbrl_philox walk = make(seed, sub, 0);
      for (uint64_t k = 0; k < 67; ++k) {
        mbrl_philox direct = make(seed, sub, k);
        ASSERT_TRUE(same_state(direct, walk)) << "seed " << seed << " sub " << sub << " k " << k;
        mbrl_philox_next_u32(&walk);
      }
    }
  }
}

TEST(Philox, SkipaheadComposes) {
  for (uint64_t seed : kSeeds) {
    for (uint64_t off : kOffsets) {
      for (uint64_t extra : {0ULL, 1ULL, 3ULL, 4ULL, 1000003ULL, 0x123456789ULL}) {
        if (off + extra < off) continue;  // off + extra must stay below 2^64
        mbrl_philox a = make(seed, 3, off);
        mbrl_philox_skipahead(&a, extra);
        mbrl_philox b = make(seed, 3, off + extra);
        EXPECT_TRUE(same_state(a, b)) << "off " << off << " extra " << extra;
      }
    }
  }
  // Subsequence n + 1 starts 2^64 blocks (2^66 draws) after subsequence n.
  mbrl_philox b = make(9, 0, 0);
  b.ctr = mbrl_philox_ctr_add(b.ctr, 0xffffffffffffffffULL);
  EXPECT_EQ(b.ctr.x, 0xffffffffu);
  EXPECT_EQ(b.ctr.y, 0xffffffffu);
  EXPECT_EQ(b.ctr.z, 0u);
  b.ctr = mbrl_philox_ctr_add(b.ctr, 1);
  mbrl_philox c = make(9, 1, 0);
  EXPECT_EQ(b.ctr.x, c.ctr.x);
  EXPECT_EQ(b.ctr.y, c.ctr.y);
  EXPECT_EQ(b.ctr.z, c.ctr.z);
  EXPECT_EQ(b.ctr.w, c.ctr.w);
}

// (c) next_u32x4 == four next_u32 at every phase, and leaves the same state.
TEST(Philox, U32x4EqualsFourU32AtEveryPhase) {
  for (uint64_t seed : kSeeds) {
    for (uint64_t off : kOffsets) {
      for (uint64_t phase = 0; phase < 4; ++phase) {
        if (off + phase < off) continue;
        mbrl_philox a = make(seed, 11, off + phase), b = a;
        for (int rep = 0; rep < 3; ++rep) {
          mbrl_u32x4 v = mbrl_philox_next_u32x4(&a);
          EXPECT_EQ(v.x, mbrl_philox_next_u32(&b));
          EXPECT_EQ(v.y, mbrl_philox_next_u32(&b));
          EXPECT_EQ(v.z, mbrl_philox_next_u32(&b));
          EXPECT_EQ(v.w, mbrl_philox_next_u32(&b));
          EXPECT_TRUE(same_state(a, b)) << "off " << off << " phase " << phase;
        }
      }
    }
  }
}

TEST(Philox, UniformRanges) {
  EXPECT_EQ(mbrl_philox_u32_to_uniform(0xffffffffu), 1.0f);
  EXPECT_GT(mbrl_philox_u32_to_uniform(0u), 0.0f);
  EXPECT_EQ(mbrl_philox_u32_to_uniform(0u), 1.16415322e-10f);  // 2^-33
  mbrl_philox s = make(5, 0, 0);
  double lo = 1.0, hi = 0.0;
  for (int i = 0; i < 100000; ++i) {
    double u = mbrl_philox_uniform_double(&s);
    ASSERT_GT(u, 0.0);
    ASSERT_LE(u, 1.0);
    lo = u < lo ? u : lo;
    hi = u > hi ? u : hi;
    double r = mbrl_philox_range_double(&s, -3.0, 3.0);
    ASSERT_GE(r, -3.0);
    ASSERT_LT(r, 3.0);
    uint32_t k = mbrl_philox_below(&s, 7);
    ASSERT_LT(k, 7u);
  }
  EXPECT_LT(lo, 1e-3);
  EXPECT_GT(hi, 1.0 - 1e-3);
}

// The fill op equals sequential draws, for every start phase and for n around block edges.
TEST(PhiloxFill, CpuEqualsSequentialDraws) {
  for (uint64_t seed : {0ULL, 42ULL, 0xdeadbeefcafef00dULL}) {
    for (uint64_t sub : {0ULL, 3ULL, 0x100000000ULL}) {
      for (uint64_t off : kOffsets) {
        for (size_t n : {size_t(0), size_t(1), size_t(3), size_t(4), size_t(5), size_t(1023)}) {
          std::vector<float> f(n + 1, -1.0f);
          std::vector<uint32_t> u(n + 1, 0xabababab);
          ASSERT_EQ(mbrl_philox_fill_uniform(f.data(), n, seed, sub, off), MBRL_OK);
          ASSERT_EQ(mbrl_philox_fill_u32(u.data(), n, seed, sub, off), MBRL_OK);
          mbrl_philox s = make(seed, sub, off), t = s;
          for (size_t i = 0; i < n; ++i) {
            ASSERT_EQ(u[i], mbrl_philox_next_u32(&s)) << "i " << i << " off " << off;
            float want = mbrl_philox_uniform(&t);
            ASSERT_EQ(std::memcmp(&f[i], &want, 4), 0) << "i " << i << " off " << off;
          }
          EXPECT_EQ(f[n], -1.0f) << "wrote past n = " << n;
          EXPECT_EQ(u[n], 0xababababu) << "wrote past n = " << n;
        }
      }
    }
  }
}

// Large enough to take the OpenMP path; compared with sequential draws.
TEST(PhiloxFill, CpuLargeParallelEqualsSequential) {
  const size_t n = (size_t)1 << 20;
  std::vector<uint32_t> u(n);
  ASSERT_EQ(mbrl_philox_fill_u32(u.data(), n, 123, 4, 6), MBRL_OK);
  mbrl_philox s = make(123, 4, 6);
  for (size_t i = 0; i < n; ++i) ASSERT_EQ(u[i], mbrl_philox_next_u32(&s)) << "i " << i;
}

TEST(Philox, MakeEqualsInit) {
  mbrl_philox a, b = mbrl_philox_make(0x123456789abcdefULL, 1ULL << 35, 7);
  mbrl_philox_init(&a, 0x123456789abcdefULL, 1ULL << 35, 7);
  EXPECT_EQ(0, memcmp(&a, &b, sizeof a));
  for (int i = 0; i < 9; ++i) EXPECT_EQ(mbrl_philox_next_u32(&a), mbrl_philox_next_u32(&b));
}

TEST(PhiloxFill, NullOutputIsAnError) {
  EXPECT_EQ(mbrl_philox_fill_uniform(nullptr, 0, 1, 0, 0), MBRL_OK);
  EXPECT_EQ(mbrl_philox_fill_uniform(nullptr, 10, 1, 0, 0), MBRL_ERR_INVALID_ARG);
  EXPECT_NE(std::string(mbrl_last_error()).find("NULL"), std::string::npos);
  EXPECT_EQ(mbrl_philox_fill_u32(nullptr, 3, 1, 0, 0), MBRL_ERR_INVALID_ARG);
  EXPECT_NE(std::string(mbrl_last_error()).find("mbrl_philox_fill_u32"), std::string::npos);
}

#ifdef MBRL_HAVE_CUDA

// (b) Against NVIDIA's device API, compiled for the host from curand_kernel.h.
TEST(PhiloxCurand, DeviceApiStreamsMatch) {
  for (uint64_t seed : kSeeds) {
    for (uint64_t sub : kSubs) {
      for (uint64_t off : kOffsets) {
        curandStatePhilox4_32_10_t ref;
        curand_init(seed, sub, off, &ref);
        mbrl_philox s = make(seed, sub, off);
        for (int i = 0; i < 40; ++i) {
          // Mix every draw kind so all phases of the 4-word block are crossed.
          switch (i % 5) {
            case 0: ASSERT_EQ(mbrl_philox_next_u32(&s), curand(&ref)); break;
            case 1: {
              float a = mbrl_philox_uniform(&s), b = curand_uniform(&ref);
              ASSERT_EQ(std::memcmp(&a, &b, 4), 0) << a << " vs " << b;
              break;
            }
            case 2: {
              double a = mbrl_philox_uniform_double(&s), b = curand_uniform_double(&ref);
              ASSERT_EQ(std::memcmp(&a, &b, 8), 0) << a << " vs " << b;
              break;
            }
            case 3: {
              mbrl_u32x4 a = mbrl_philox_next_u32x4(&s);
              uint4 b = curand4(&ref);
              ASSERT_TRUE(a.x == b.x && a.y == b.y && a.z == b.z && a.w == b.w);
              break;
            }
            default: {
              double a[2];
              mbrl_philox_uniform2_double(&s, a);
              double2 b = curand_uniform2_double(&ref);
              ASSERT_EQ(std::memcmp(&a[0], &b.x, 8), 0);
              ASSERT_EQ(std::memcmp(&a[1], &b.y, 8), 0);
              break;
            }
          }
        }
        // Skips from the current (mid-block) state.
        for (uint64_t k : {1ULL, 2ULL, 7ULL, 0x100000003ULL}) {
          skipahead(k, &ref);
          mbrl_philox_skipahead(&s, k);
          ASSERT_EQ(mbrl_philox_next_u32(&s), curand(&ref)) << "skipahead " << k;
        }
        skipahead_sequence(3, &ref);
        mbrl_philox_skipahead_sequence(&s, 3);
        ASSERT_EQ(mbrl_philox_next_u32(&s), curand(&ref));
      }
    }
  }
}

namespace {

struct HostGen {
  curandGenerator_t g = nullptr;
  HostGen(uint64_t seed, uint64_t offset) {
    EXPECT_EQ(curandCreateGeneratorHost(&g, CURAND_RNG_PSEUDO_PHILOX4_32_10), CURAND_STATUS_SUCCESS);
    EXPECT_EQ(curandSetPseudoRandomGeneratorSeed(g, seed), CURAND_STATUS_SUCCESS);
    EXPECT_EQ(curandSetGeneratorOffset(g, offset), CURAND_STATUS_SUCCESS);
  }
  ~HostGen() { curandDestroyGenerator(g); }
};

const uint64_t kHostThreads = 65536;  // subsequences the host generator interleaves

}  // namespace

// (b) Against cuRAND's host generator: curandGenerate and curandGenerateUniform, several seeds
// and offsets, every element checked via the documented-by-test position map.
TEST(PhiloxCurand, HostGeneratorU32AndUniform) {
  const size_t n = 2 * 4 * kHostThreads + 37;  // two rounds over all subsequences and a bit
  std::vector<unsigned int> u(n);
  std::vector<float> f(n);
  for (uint64_t seed : {0ULL, 1234ULL, 0xdeadbeefcafef00dULL}) {
    for (uint64_t off : {0ULL, 1ULL, 6ULL, 262147ULL, 4ULL * kHostThreads * 5 + 2}) {
      {
        HostGen h(seed, off);
        ASSERT_EQ(curandGenerate(h.g, u.data(), n), CURAND_STATUS_SUCCESS);
      }
      {
        HostGen h(seed, off);
        ASSERT_EQ(curandGenerateUniform(h.g, f.data(), n), CURAND_STATUS_SUCCESS);
      }
      for (size_t i = 0; i < n; ++i) {
        uint64_t p = off + i, q = p / 4;
        mbrl_philox s = make(seed, q % kHostThreads, 4 * (q / kHostThreads) + p % 4);
        mbrl_philox t = s;
        ASSERT_EQ(mbrl_philox_next_u32(&s), u[i]) << "seed " << seed << " off " << off << " i " << i;
        float a = mbrl_philox_uniform(&t);
        ASSERT_EQ(std::memcmp(&a, &f[i], 4), 0) << "seed " << seed << " off " << off << " i " << i;
      }
    }
  }
}

// (b) curandGenerateUniformDouble: four doubles per subsequence per round (two
// curand_uniform2_double). Offsets 0..3 only: from offset 4 on, cuRAND's host generator
// starts a subsequence whose first group in the call lies in round r at block r (the float
// offset rule) but then steps 2 blocks per round, so its doubles are not one stream there
// (measured with cuRAND 13.0); we do not copy that quirk.
TEST(PhiloxCurand, HostGeneratorUniformDouble) {
  const size_t n = 3 * 4 * kHostThreads + 11;
  std::vector<double> d(n);
  for (uint64_t seed : {42ULL, 0xfedcba9876543210ULL}) {
    for (uint64_t off : {0ULL, 1ULL, 2ULL, 3ULL}) {
      HostGen h(seed, off);
      ASSERT_EQ(curandGenerateUniformDouble(h.g, d.data(), n), CURAND_STATUS_SUCCESS);
      for (size_t i = 0; i < n; ++i) {
        uint64_t q = off + i, grp = q / 4;
        mbrl_philox s = make(seed, grp % kHostThreads, 8 * (grp / kHostThreads));
        double v[4];
        mbrl_philox_uniform2_double(&s, v);
        mbrl_philox_uniform2_double(&s, v + 2);
        ASSERT_EQ(std::memcmp(&v[q % 4], &d[i], 8), 0) << "seed " << seed << " off " << off << " i " << i;
      }
    }
  }
}

// The fill op of one subsequence against the host generator's interleaved output.
TEST(PhiloxCurand, FillMatchesHostGenerator) {
  const uint64_t seed = 31337, rounds = 3;
  std::vector<unsigned int> u(4 * kHostThreads * rounds);
  HostGen h(seed, 0);
  ASSERT_EQ(curandGenerate(h.g, u.data(), u.size()), CURAND_STATUS_SUCCESS);
  for (uint64_t sub : {(uint64_t)0, (uint64_t)1, (uint64_t)999, kHostThreads - 1}) {
    for (uint64_t off : {0ULL, 1ULL, 3ULL, 4ULL}) {
      size_t n = 4 * rounds - off;
      std::vector<uint32_t> mine(n);
      ASSERT_EQ(mbrl_philox_fill_u32(mine.data(), n, seed, sub, off), MBRL_OK);
      for (size_t i = 0; i < n; ++i) {
        uint64_t qpos = off + i;  // position in subsequence `sub`
        size_t p = 4 * (kHostThreads * (qpos / 4) + sub) + qpos % 4;
        ASSERT_EQ(mine[i], u[p]) << "sub " << sub << " off " << off << " i " << i;
      }
    }
  }
}

// (d) CUDA kernel vs CPU twin, bit for bit.
TEST(PhiloxFill, CudaEqualsCpu) {
  MBRL_REQUIRE_GPU();
  const size_t sizes[] = {1, 3, 4, 5, 1000, 4097, (size_t)1 << 22};
  const size_t nmax = (size_t)1 << 22;
  float *d_f = nullptr;
  uint32_t *d_u = nullptr;
  ASSERT_EQ(cudaMalloc(&d_f, (nmax + 1) * sizeof(float)), cudaSuccess);
  ASSERT_EQ(cudaMalloc(&d_u, (nmax + 1) * sizeof(uint32_t)), cudaSuccess);
  std::vector<float> cf(nmax + 1), gf(nmax + 1);
  std::vector<uint32_t> cu(nmax + 1), gu(nmax + 1);
  for (uint64_t seed : {0ULL, 0xdeadbeefcafef00dULL}) {
    for (uint64_t sub : {0ULL, 0x100000001ULL}) {
      for (uint64_t off : {0ULL, 1ULL, 2ULL, 3ULL, (4ULL << 32) - 5}) {
        for (size_t n : sizes) {
          ASSERT_EQ(cudaMemset(d_f, 0xff, (n + 1) * sizeof(float)), cudaSuccess);
          ASSERT_EQ(mbrl_philox_fill_uniform_cuda(d_f, n, seed, sub, off, nullptr), MBRL_OK)
              << mbrl_last_error();
          ASSERT_EQ(mbrl_philox_fill_u32_cuda(d_u, n, seed, sub, off, nullptr), MBRL_OK) << mbrl_last_error();
          ASSERT_EQ(cudaMemcpy(gf.data(), d_f, (n + 1) * sizeof(float), cudaMemcpyDeviceToHost), cudaSuccess);
          ASSERT_EQ(cudaMemcpy(gu.data(), d_u, n * sizeof(uint32_t), cudaMemcpyDeviceToHost), cudaSuccess);
          ASSERT_EQ(mbrl_philox_fill_uniform(cf.data(), n, seed, sub, off), MBRL_OK);
          ASSERT_EQ(mbrl_philox_fill_u32(cu.data(), n, seed, sub, off), MBRL_OK);
          ASSERT_EQ(std::memcmp(gf.data(), cf.data(), n * sizeof(float)), 0) << "n " << n << " off " << off;
          ASSERT_EQ(std::memcmp(gu.data(), cu.data(), n * sizeof(uint32_t)), 0) << "n " << n << " off " << off;
          uint32_t tail;
          std::memcpy(&tail, &gf[n], 4);
          EXPECT_EQ(tail, 0xffffffffu) << "kernel wrote past n = " << n;
        }
      }
    }
  }
  // Device curand (cuRAND's own kernels) agree with the fill of subsequence 0 at offset 0
  // through the host-generator order: element 4*65536*r + w of the GPU generator output
  // is word w of subsequence 0, block r (CURAND_ORDERING_PSEUDO_LEGACY).
  curandGenerator_t g;
  ASSERT_EQ(curandCreateGenerator(&g, CURAND_RNG_PSEUDO_PHILOX4_32_10), CURAND_STATUS_SUCCESS);
  ASSERT_EQ(curandSetGeneratorOrdering(g, CURAND_ORDERING_PSEUDO_LEGACY), CURAND_STATUS_SUCCESS);
  ASSERT_EQ(curandSetPseudoRandomGeneratorSeed(g, 77), CURAND_STATUS_SUCCESS);
  const size_t ng = 4 * kHostThreads * 2;
  ASSERT_EQ(curandGenerate(g, d_u, ng), CURAND_STATUS_SUCCESS);
  ASSERT_EQ(cudaMemcpy(gu.data(), d_u, ng * sizeof(uint32_t), cudaMemcpyDeviceToHost), cudaSuccess);
  curandDestroyGenerator(g);
  ASSERT_EQ(mbrl_philox_fill_u32(cu.data(), 8, 77, 0, 0), MBRL_OK);
  for (size_t r = 0; r < 2; ++r)
    for (size_t w = 0; w < 4; ++w) EXPECT_EQ(gu[4 * kHostThreads * r + w], cu[4 * r + w]);
  cudaFree(d_f);
  cudaFree(d_u);
}

#else

TEST(PhiloxCurand, NeedsCudaBuild) { GTEST_SKIP() << "built without CUDA: no libcurand to compare with"; }

#endif
