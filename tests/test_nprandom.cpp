// test_nprandom.cpp - mbrl/nprandom.h (numpy's SeedSequence and PCG64) against numpy itself:
// tests/data/nprandom_golden.txt, written with numpy by scripts/make_golden_nprandom.py
// (py_nprandom_reference re-makes it with the installed numpy and demands equality).
// Everything is compared exactly (integers bit for bit, doubles with ==).
#include <cmath>
#include <cstring>
#include <string>
#include <vector>

#include "nprandom_golden.h"
#include "testing.h"

extern "C" {
#include "mbrl/nprandom.h"
}

namespace {

const double kPi = 3.14159265358979323846;

std::string name(const npgold::Case &c) {
  return "seed " + std::to_string(c.seed_hi) + "*2^64+" + std::to_string(c.seed_lo);
}

mbrl_nprandom_pcg64 from_seed(const npgold::Case &c) {
  uint32_t w[4];
  size_t n = mbrl_nprandom_seed_words(c.seed_hi, c.seed_lo, w);
  mbrl_nprandom_pcg64 g;
  mbrl_nprandom_pcg64_init_entropy(&g, w, n);
  return g;
}

}  // namespace

TEST(NpGolden, FileLoads) {
  const npgold::Golden &g = npgold::golden();
  ASSERT_TRUE(g.error.empty()) << g.error;
  EXPECT_GE(g.cases.size(), 10u);
  EXPECT_GE(g.seedseqs.size(), 4u);
  for (const auto &c : g.cases) {
    EXPECT_EQ(c.raw.size(), 5u) << name(c);
    EXPECT_EQ(c.advances.size(), 6u) << name(c);
    EXPECT_GT(c.n_resets, 2) << name(c);
  }
}

TEST(NpSeedSequence, SeedWordsAreNumpysUint32Array) {
  for (const auto &c : npgold::golden().cases) {
    uint32_t w[4] = {0xdeadbeef, 0xdeadbeef, 0xdeadbeef, 0xdeadbeef};
    size_t n = mbrl_nprandom_seed_words(c.seed_hi, c.seed_lo, w);
    ASSERT_EQ(n, c.words.size()) << name(c);
    for (size_t i = 0; i < n; ++i) EXPECT_EQ(w[i], c.words[i]) << name(c) << " word " << i;
  }
}

TEST(NpSeedSequence, GenerateStateOfIntegerSeeds) {
  for (const auto &c : npgold::golden().cases) {
    std::vector<uint32_t> out(c.gen32.size());
    mbrl_nprandom_seedseq_generate(c.words.data(), c.words.size(), out.data(), out.size());
    EXPECT_EQ(out, c.gen32) << name(c);
  }
}

TEST(NpSeedSequence, GenerateStateOfListEntropyIncludingLongerThanThePool) {
  bool longer = false;
  for (const auto &s : npgold::golden().seedseqs) {
    std::vector<uint32_t> out(s.gen32.size());
    mbrl_nprandom_seedseq_generate(s.entropy.data(), s.entropy.size(), out.data(), out.size());
    EXPECT_EQ(out, s.gen32) << "entropy of " << s.entropy.size() << " words";
    longer = longer || s.entropy.size() > 4;
  }
  EXPECT_TRUE(longer) << "the golden file should exercise entropy past the pool size 4";
}

TEST(NpPcg64, SeededStateEqualsNumpys) {
  for (const auto &c : npgold::golden().cases) {
    mbrl_nprandom_pcg64 g = from_seed(c);
    EXPECT_EQ(g.state_hi, c.state[0]) << name(c);
    EXPECT_EQ(g.state_lo, c.state[1]) << name(c);
    EXPECT_EQ(g.inc_hi, c.state[2]) << name(c);
    EXPECT_EQ(g.inc_lo, c.state[3]) << name(c);
    EXPECT_EQ(g.inc_lo & 1u, 1u) << "the increment is odd";
  }
}

TEST(NpPcg64, Uint64SeedEntryPointEqualsTheWordPath) {
  for (const auto &c : npgold::golden().cases) {
    if (c.seed_hi != 0) continue;
    mbrl_nprandom_pcg64 a = from_seed(c), b;
    mbrl_nprandom_pcg64_init(&b, c.seed_lo);
    EXPECT_EQ(0, std::memcmp(&a, &b, sizeof a)) << name(c);
  }
}

TEST(NpPcg64, RandomRawEqualsNumpys) {
  for (const auto &c : npgold::golden().cases) {
    mbrl_nprandom_pcg64 g = from_seed(c);
    for (size_t i = 0; i < c.raw.size(); ++i)
      EXPECT_EQ(mbrl_nprandom_pcg64_next64(&g), c.raw[i]) << name(c) << " draw " << i;
  }
}

TEST(NpPcg64, AdvanceEqualsNumpys) {
  for (const auto &c : npgold::golden().cases) {
    for (const auto &a : c.advances) {
      mbrl_nprandom_pcg64 g = from_seed(c);
      mbrl_nprandom_pcg64_advance(&g, a.hi, a.lo);
      EXPECT_EQ(mbrl_nprandom_pcg64_next64(&g), a.raw)
          << name(c) << " advance " << a.hi << "*2^64+" << a.lo;
    }
  }
}

TEST(NpPcg64, AdvanceEqualsSteppingAndZeroIsANoOp) {
  mbrl_nprandom_pcg64 a, b;
  mbrl_nprandom_pcg64_init(&a, 31337);
  b = a;
  mbrl_nprandom_pcg64_advance(&b, 0, 0);
  EXPECT_EQ(0, std::memcmp(&a, &b, sizeof a));
  for (int k = 0; k < 777; ++k) mbrl_nprandom_pcg64_next64(&a);
  mbrl_nprandom_pcg64_advance(&b, 0, 777);
  EXPECT_EQ(0, std::memcmp(&a, &b, sizeof a));
  // the period is 2^128: advancing by 2^127 twice comes back
  mbrl_nprandom_pcg64_advance(&b, 1ull << 63, 0);
  EXPECT_NE(0, std::memcmp(&a, &b, sizeof a));
  mbrl_nprandom_pcg64_advance(&b, 1ull << 63, 0);
  EXPECT_EQ(0, std::memcmp(&a, &b, sizeof a));
}

TEST(NpPcg64, DoubleAndUniformUseTheTop53BitsOfOneDraw) {
  mbrl_nprandom_pcg64 a, b;
  mbrl_nprandom_pcg64_init(&a, 5);
  b = a;
  for (int i = 0; i < 100; ++i) {
    uint64_t r = mbrl_nprandom_pcg64_next64(&a);
    double u = mbrl_nprandom_pcg64_double(&b);
    EXPECT_EQ(u, std::ldexp((double)(r >> 11), -53));
    EXPECT_GE(u, 0.0);
    EXPECT_LT(u, 1.0);
  }
}

TEST(NpGenerator, GymnasiumPendulumResetsEqualNumpys) {
  for (const auto &c : npgold::golden().cases) {
    mbrl_nprandom_pcg64 g = from_seed(c);
    for (int k = 0; k < c.n_resets; ++k) {
      double th = mbrl_nprandom_pcg64_uniform(&g, -kPi, kPi);
      double td = mbrl_nprandom_pcg64_uniform(&g, -1.0, 1.0);
      EXPECT_EQ(th, c.pendulum[2 * k]) << name(c) << " reset " << k;
      EXPECT_EQ(td, c.pendulum[2 * k + 1]) << name(c) << " reset " << k;
    }
  }
}

TEST(NpGenerator, GymnasiumCartPoleResetsEqualNumpys) {
  for (const auto &c : npgold::golden().cases) {
    mbrl_nprandom_pcg64 g = from_seed(c);
    for (int k = 0; k < c.n_resets; ++k)
      for (int j = 0; j < 4; ++j)
        EXPECT_EQ(mbrl_nprandom_pcg64_uniform(&g, -0.05, 0.05), c.cartpole[4 * k + j])
            << name(c) << " reset " << k << " component " << j;
  }
}
