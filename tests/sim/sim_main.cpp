// sc-sim: runs the simulator over a range of seeds (or one) and prints a summary; a failing seed
// prints the command that replays it. Exit 1 if any seed failed.
//   sc-sim --seeds N [--first S] [--steps K] [--jobs J]   runs seeds S .. S+N-1
//   sc-sim --seed S [--verbose] [--keep]                 replays one seed
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "common/log.h"
#include "sim/simulator.h"

namespace {

int usage() {
  std::fprintf(stderr,
               "usage: sc-sim --seeds N [--first S] [--steps K] [--jobs J]\n"
               "       sc-sim --seed S [--steps K] [--verbose] [--keep]\n");
  return 2;
}

// Runs seeds first, first+stride, ... below end; returns the number that failed.
int runRange(uint64_t first, uint64_t end, uint64_t stride, const sc::test::sim::SimOptions& o) {
  int failed = 0;
  for (uint64_t s = first; s < end; s += stride) {
    auto r = sc::test::sim::runSeed(s, o);
    if (!r.ok) {
      ++failed;
      std::printf("FAIL seed %llu: %s\n  replay: tests/sim/run --seed %llu --steps %d --verbose\n",
                  static_cast<unsigned long long>(s), r.failure.c_str(),
                  static_cast<unsigned long long>(s), o.steps);
      std::fflush(stdout);
    }
  }
  return failed;
}

}  // namespace

int main(int argc, char** argv) {
  sc::test::sim::SimOptions o;
  uint64_t first = 1, seeds = 0;
  long one = -1;
  int jobs = 1;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    auto value = [&]() -> const char* { return i + 1 < argc ? argv[++i] : nullptr; };
    if (a == "--seeds") {
      const char* v = value();
      if (!v) return usage();
      seeds = std::strtoull(v, nullptr, 10);
    } else if (a == "--first") {
      const char* v = value();
      if (!v) return usage();
      first = std::strtoull(v, nullptr, 10);
    } else if (a == "--seed") {
      const char* v = value();
      if (!v) return usage();
      one = std::strtol(v, nullptr, 10);
    } else if (a == "--steps") {
      const char* v = value();
      if (!v) return usage();
      o.steps = std::atoi(v);
    } else if (a == "--jobs") {
      const char* v = value();
      if (!v) return usage();
      jobs = std::max(1, std::atoi(v));
    } else if (a == "--verbose")
      o.verbose = true;
    else if (a == "--keep")
      o.keep_journal = true;
    else
      return usage();
  }
  sc::log::setLevel(o.verbose ? "INFO" : "ERROR");
  if (one >= 0) {
    auto r = sc::test::sim::runSeed(static_cast<uint64_t>(one), o);
    std::printf(
        "seed %ld: %s — %d trades (%d rejected), %d settled, %d failed, %d partial, "
        "%d crashes, %d stalls, %d retries, %d lost answers, %d store faults\n",
        one, r.ok ? "ok" : r.failure.c_str(), r.trades, r.rejected, r.settled, r.failed,
        r.partial_fills, r.crashes, r.stalls, r.retries, r.lost_answers, r.store_faults);
    return r.ok ? 0 : 1;
  }
  if (seeds == 0) return usage();
  const uint64_t end = first + seeds;
  int failed = 0;
  if (jobs == 1) {
    failed = runRange(first, end, 1, o);
  } else {
    std::vector<pid_t> kids;
    for (int j = 0; j < jobs; ++j) {
      pid_t p = ::fork();
      if (p == 0) std::_Exit(runRange(first + j, end, jobs, o) > 0 ? 1 : 0);
      kids.push_back(p);
    }
    for (pid_t p : kids) {
      int st = 0;
      ::waitpid(p, &st, 0);
      if (!WIFEXITED(st) || WEXITSTATUS(st) != 0) ++failed;
    }
  }
  std::printf("%llu seeds from %llu (%d steps each): %s\n", static_cast<unsigned long long>(seeds),
              static_cast<unsigned long long>(first), o.steps,
              failed ? "FAILURES above" : "all passed");
  return failed ? 1 : 0;
}
