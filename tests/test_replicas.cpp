// Many networks at once: the sweep grammar, and replica r equal to the single run with its settings.
#include <gtest/gtest.h>

#include "backend_test_util.h"
#include "util/errors.h"
#include "backends/cuda/fused_host.h"
#include "train/replicas.h"

namespace sigtrain {
namespace {

using testing::random_dataset;

// Catches a wrong product order, a lost range end, or sweeps that ignore --replicas.
TEST(Replicas, SweepsExpandToTheCartesianProduct) {
  const std::vector<NetworkSettings> s = expand_sweeps({"lr=0.1,0.3,1", "seed=1-4"}, 1, 9, 0.5);
  ASSERT_EQ(s.size(), 12u);
  EXPECT_EQ(s[0].lr, 0.1);
  EXPECT_EQ(s[0].seed, 1u);
  EXPECT_EQ(s[3].seed, 4u);
  EXPECT_EQ(s[4].lr, 0.3);
  EXPECT_EQ(s[11].lr, 1.0);
  const std::vector<NetworkSettings> r = expand_sweeps({"lr=0.2,0.4"}, 3, 7, 0.5);  // 3 seeds per lr
  ASSERT_EQ(r.size(), 6u);
  EXPECT_EQ(r[2].seed, 9u);
  EXPECT_EQ(r[3].seed, 7u);
  EXPECT_EQ(r[3].lr, 0.4);
  const std::vector<NetworkSettings> plain = expand_sweeps({}, 1, 5, 0.25);  // no sweep: the single run
  ASSERT_EQ(plain.size(), 1u);
  EXPECT_EQ(plain[0].seed, 5u);
  EXPECT_EQ(plain[0].lr, 0.25);
  EXPECT_EQ(expand_sweeps({"seed=3,5,9"}, 1, 0, 1)[2].seed, 9u);
}

// Catches malformed sweeps being accepted (each must be a usage error, exit 2).
TEST(Replicas, MalformedSweepsAreUsageErrors) {
  for (const char* bad : {"lr", "momentum=0.9", "lr=", "lr=0.1,x", "lr=0,1", "lr=nan", "seed=5-1", "seed=a-b", "seed=-3"})
    EXPECT_THROW(expand_sweeps({bad}, 1, 1, 0.1), UsageError) << bad;
  EXPECT_THROW(expand_sweeps({"seed=1-3"}, 2, 1, 0.1), UsageError);
  EXPECT_THROW(expand_sweeps({}, 0, 1, 0.1), UsageError);
}

TrainConfig small_config() {
  TrainConfig c;
  c.epochs = 3;
  c.batch = 16;
  return c;
}

// Catches replicas sharing state (a backend, an RNG, an order) or running with other settings than
// their own: with two threads over networks, replica r equals the single run with its seed and lr,
// bit for bit, and the validation figures agree too.
TEST(Replicas, EachReplicaEqualsTheSingleRunWithItsSettings) {
  const NetworkSpec spec{{2, 5, 3, 1}, true};
  const Dataset train = random_dataset(spec, 300, 1), validation = random_dataset(spec, 50, 2);
  for (const std::string backend : {"cpu", "reference"}) {
    ReplicaRun run;
    run.backend = backend;
    run.parallel = 2;
    run.config = small_config();
    run.initial = [&](const NetworkSettings& s) { return glorot_uniform(spec, s.seed); };
    const std::vector<NetworkSettings> settings = expand_sweeps({"lr=0.05,0.2", "seed=1-3"}, 1, 0, 0);
    const std::vector<ReplicaResult> results = train_replicas(run, settings, train, validation);
    ASSERT_EQ(results.size(), 6u);
    for (size_t r = 0; r < results.size(); ++r) {
      TrainConfig single = small_config();
      single.seed = settings[r].seed;
      single.lr = settings[r].lr;
      TrainObserver quiet;
      std::unique_ptr<Backend> b = make_backend(backend, spec);
      const TrainResult alone = sigtrain::train(*b, glorot_uniform(spec, settings[r].seed), train, validation, single, quiet);
      EXPECT_EQ(results[r].result.parameters.values, alone.parameters.values) << backend << " replica " << r;
      EXPECT_EQ(results[r].validation_loss, alone.epochs.back().validation_loss);
    }
    // … and the replicas really differ from each other.
    EXPECT_NE(results[0].result.parameters.values, results[1].result.parameters.values);
  }
}

// Catches the group loop (train_group, which drives the fused kernel's replicas on the GPU) parting from
// the single-run loop: networks in lockstep, here the fused kernel's host twin, each equal to its single
// run bit for bit — parameters, every epoch's figures, the outcome and its message — including a network
// that diverges in epoch 1 while the others go on, and a run stopped (Ctrl-C) before it starts.
TEST(TrainGroup, EachNetworkEqualsItsSingleRun) {
  const NetworkSpec spec{{2, 4, 3, 2}, true};
  const Dataset train = random_dataset(spec, 200, 3), validation = random_dataset(spec, 40, 4);
  const std::vector<NetworkSettings> settings = {{1, 0.1}, {2, 1e30}, {3, 0.5}};
  for (const bool stopped : {false, true}) {
    const std::atomic<bool> stop{stopped};
    std::vector<std::unique_ptr<FusedHostBackend>> backends;
    std::vector<Backend*> members;
    std::vector<Parameters> initial;
    for (const NetworkSettings& s : settings) {
      backends.push_back(std::make_unique<FusedHostBackend>(spec));
      members.push_back(backends.back().get());
      initial.push_back(glorot_uniform(spec, s.seed));
    }
    BackendGroup group(members);
    TrainObserver quiet;
    const std::vector<TrainResult> together =
        train_group(group, initial, settings, train, validation, small_config(), quiet, &stop);
    ASSERT_EQ(together.size(), settings.size());
    for (size_t r = 0; r < settings.size(); ++r) {
      TrainConfig single = small_config();
      single.seed = settings[r].seed;
      single.lr = settings[r].lr;
      FusedHostBackend b(spec);
      const TrainResult alone = sigtrain::train(b, initial[r], train, validation, single, quiet, &stop);
      EXPECT_EQ(together[r].outcome, alone.outcome) << r;
      EXPECT_EQ(together[r].message, alone.message) << r;
      EXPECT_EQ(together[r].parameters.values, alone.parameters.values) << r;
      ASSERT_EQ(together[r].epochs.size(), alone.epochs.size()) << r;
      for (size_t e = 0; e < alone.epochs.size(); ++e) {
        EXPECT_EQ(together[r].epochs[e].train_loss, alone.epochs[e].train_loss) << r;
        EXPECT_EQ(together[r].epochs[e].validation_loss, alone.epochs[e].validation_loss) << r;
        EXPECT_EQ(together[r].epochs[e].network, r);
      }
    }
    // The scenario itself: network 1 diverged in its first steps (stopped or not), the others trained or
    // were interrupted.
    EXPECT_EQ(together[1].outcome, TrainOutcome::diverged);
    EXPECT_EQ(together[0].outcome, stopped ? TrainOutcome::interrupted : TrainOutcome::completed);
    EXPECT_EQ(together[2].epochs.size(), stopped ? 0u : 3u);
  }
}

// Catches picking the best by training error when validation exists, or a diverged replica winning.
TEST(Replicas, BestIsTheLowestValidationMseAmongFiniteRuns) {
  std::vector<ReplicaResult> results(3);
  results[0].train_loss = 0.1, results[0].validation_loss = 0.3;
  results[1].train_loss = 0.5, results[1].validation_loss = 0.2;
  results[2].train_loss = 0.0, results[2].validation_loss = 0.0;
  results[2].result.outcome = TrainOutcome::diverged;
  EXPECT_EQ(best_replica(results), 1);
  results[1].result.outcome = TrainOutcome::diverged;
  results[0].result.outcome = TrainOutcome::diverged;
  EXPECT_EQ(best_replica(results), -1);
}

// Catches replicas whose turn came after Ctrl-C being started anyway, or reported as if they had run
// (an untrained model, NaN figures that read like divergence) and ranked: with the stop already set,
// no replica runs, each says so, and none is best.
TEST(Replicas, AfterAStopNoReplicaStartsAndNoneIsBest) {
  const NetworkSpec spec{{2, 4, 1}, false};
  const Dataset train = random_dataset(spec, 100, 5), validation = random_dataset(spec, 20, 6);
  ReplicaRun run;
  run.backend = "cpu";
  run.config = small_config();
  run.initial = [&](const NetworkSettings& s) { return glorot_uniform(spec, s.seed); };
  const std::atomic<bool> stop{true};
  const std::vector<ReplicaResult> results = train_replicas(run, expand_sweeps({}, 3, 1, 0.1), train, validation, &stop);
  ASSERT_EQ(results.size(), 3u);
  for (const ReplicaResult& x : results) {
    EXPECT_FALSE(x.ran);
    EXPECT_EQ(x.result.outcome, TrainOutcome::interrupted);
    EXPECT_TRUE(x.result.epochs.empty());
    EXPECT_TRUE(x.result.parameters.values.empty()) << "a replica that did not run has no model";
  }
  EXPECT_EQ(results[2].settings.seed, 3u);
  EXPECT_EQ(best_replica(results), -1);
}

// Catches a replica interrupted in the middle of an epoch being listed and ranked without figures
// (NaN, as if it had diverged): the last finished epoch's stand in, and it can be best.
TEST(Replicas, InterruptedInAnEpochTakesTheLastFinishedEpochsFigures) {
  const NetworkSpec spec{{2, 4, 1}, false};
  const Dataset train = random_dataset(spec, 100, 5), validation = random_dataset(spec, 20, 6);
  ReplicaRun run;
  run.backend = "cpu";
  run.config = small_config();
  run.config.epochs = 1000;
  run.initial = [&](const NetworkSettings& s) { return glorot_uniform(spec, s.seed); };
  std::atomic<bool> stop{false};
  // Ctrl-C from inside the run: the replica's observer is its own, but the clock, read as each epoch
  // starts and ends, can press it (at the sixth reading: in epoch 2, whose figures are never made).
  int readings = 0;
  run.config.clock = [&] {
    if (++readings == 6) stop = true;
    return double(readings);
  };
  const std::vector<ReplicaResult> results = train_replicas(run, expand_sweeps({}, 1, 1, 0.1), train, validation, &stop);
  ASSERT_EQ(results.size(), 1u);
  const ReplicaResult& x = results[0];
  ASSERT_TRUE(x.ran);
  ASSERT_EQ(x.result.outcome, TrainOutcome::interrupted);
  ASSERT_FALSE(x.result.epochs.empty());
  ASSERT_GT(x.result.kept_epoch, x.result.epochs.back().epoch) << "the stop was meant to come inside an epoch";
  EXPECT_EQ(x.train_loss, x.result.epochs.back().train_loss);
  EXPECT_EQ(x.validation_loss, x.result.epochs.back().validation_loss);
  EXPECT_EQ(best_replica(results), 0);
}

}  // namespace
}  // namespace sigtrain
