// nprandom_golden.h - reader of tests/data/nprandom_golden.txt (numpy's SeedSequence, PCG64
// and Gymnasium's reset draws, written by scripts/make_golden_nprandom.py; format there).
// Used by test_nprandom.cpp and test_env.cpp.
#pragma once

#include <cstdint>
#include <cstdlib>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

namespace npgold {

struct Advance {
  uint64_t hi, lo, raw;
};

struct Case {
  uint64_t seed_hi = 0, seed_lo = 0;  // seed = hi * 2^64 + lo
  std::vector<uint32_t> words, gen32;
  uint64_t state[4] = {0, 0, 0, 0};  // state hi, lo, inc hi, lo
  std::vector<uint64_t> raw;
  std::vector<Advance> advances;
  int n_resets = 0;
  std::vector<double> pendulum;  // (n_resets, 2)
  std::vector<double> cartpole;  // (n_resets, 4)
};

struct SeedSeq {
  std::vector<uint32_t> entropy, gen32;
};

struct Golden {
  std::vector<Case> cases;
  std::vector<SeedSeq> seedseqs;
  std::string error;  // non-empty when the file is missing or malformed
};

inline uint64_t u64(std::istringstream &in) {
  std::string t;
  in >> t;
  return std::strtoull(t.c_str(), nullptr, 10);
}

inline double hexd(std::istringstream &in) {
  std::string t;
  in >> t;
  return std::strtod(t.c_str(), nullptr);  // C99 hex floats: exact
}

template <class T>
std::vector<T> counted(std::istringstream &in) {
  size_t n = (size_t)u64(in);
  std::vector<T> v(n);
  for (auto &x : v) x = (T)u64(in);
  return v;
}

inline Golden load(const std::string &path) {
  Golden g;
  std::ifstream f(path);
  if (!f) {
    g.error = "cannot open " + path + " (run scripts/make_golden_nprandom.py)";
    return g;
  }
  std::string line;
  while (std::getline(f, line)) {
    if (line.empty() || line[0] == '#') continue;
    std::istringstream in(line);
    std::string key;
    in >> key;
    if (key == "seed") {
      g.cases.emplace_back();
      g.cases.back().seed_hi = u64(in);
      g.cases.back().seed_lo = u64(in);
      continue;
    }
    if (key == "seedseq") {
      SeedSeq s;
      s.entropy = counted<uint32_t>(in);
      s.gen32 = counted<uint32_t>(in);
      g.seedseqs.push_back(s);
      continue;
    }
    if (g.cases.empty()) {
      g.error = "line before the first 'seed' line: " + line;
      return g;
    }
    Case &c = g.cases.back();
    if (key == "words") {
      c.words = counted<uint32_t>(in);
    } else if (key == "gen32") {
      c.gen32 = counted<uint32_t>(in);
    } else if (key == "state") {
      for (auto &x : c.state) x = u64(in);
    } else if (key == "raw") {
      c.raw = counted<uint64_t>(in);
    } else if (key == "advance") {
      Advance a;
      a.hi = u64(in);
      a.lo = u64(in);
      a.raw = u64(in);
      c.advances.push_back(a);
    } else if (key == "pendulum" || key == "cartpole") {
      int n = (int)u64(in);
      c.n_resets = n;
      auto &v = key == "pendulum" ? c.pendulum : c.cartpole;
      v.resize((size_t)n * (key == "pendulum" ? 2 : 4));
      for (auto &x : v) x = hexd(in);
    } else {
      g.error = "unknown line: " + line;
      return g;
    }
    if (in.fail()) {
      g.error = "malformed line: " + line;
      return g;
    }
  }
  if (g.cases.empty()) g.error = path + " holds no cases";
  return g;
}

inline const Golden &golden() {
  static const Golden g = load(std::string(MBRL_TEST_DATA_DIR) + "/nprandom_golden.txt");
  return g;
}

}  // namespace npgold
