// Checkpoints and resuming (train/checkpoint.h, `train --checkpoint/--resume`): a run stopped after any
// epoch and resumed from its checkpoint ends bit for bit where the run without the stop ends — in the
// trainer on every host backend (and cuda where there is a device), and in the program after a kill -9;
// a checkpoint of another run is refused; a checkpoint is only ever replaced whole.
#include <gtest/gtest.h>
#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <filesystem>
#include <memory>
#include <random>
#include <string>
#include <thread>
#include <tuple>
#include <vector>

#include "backend_test_util.h"
#include "child_process.h"
#include "data/dataset.h"
#include "model/choices.h"
#include "test_files.h"
#include "train/checkpoint.h"
#include "train/trainer.h"
#include "util/errors.h"

namespace sigtrain {
namespace {

namespace fs = std::filesystem;
using testing::Child;
using testing::describe;
using testing::run;
using testing::run_ok;
using testing::RunResult;
using testing::slurp;

// ---- The trainer ------------------------------------------------------------------------------------

// Every progress report of a run, and a stop after half of epoch `stop_in`'s samples (0: never).
class Recorder : public TrainObserver {
 public:
  explicit Recorder(int stop_in = 0) : stop_in_(stop_in) {}
  void on_progress(const TrainProgress& p) override { progress.push_back(p); }
  void on_step(int epoch, size_t done, size_t total) override {
    if (epoch == stop_in_ && done * 2 >= total) stop.store(true);
  }
  std::vector<TrainProgress> progress;
  std::atomic<bool> stop{false};

 private:
  int stop_in_;
};

// A run that exercises everything a resume must restore: shuffled epochs (the order key), a step
// schedule with warm-up (the schedule's position), a validation split with --patience and --keep best
// (the best model so far, its loss, the epochs without improvement; min-delta makes most epochs count
// as no improvement, so that the best is often an earlier epoch and the run stops early), a partial
// last batch (153 training samples in batches of 16), biases and a tanh hidden layer.
struct ResumeCase {
  NetworkSpec spec{{3, 6, 5, 2}, true, Activation::tanh};
  Model like;  // the setup and standardisation a checkpoint is written with
  TrainValidation split;
  Parameters initial;
  TrainConfig config;

  explicit ResumeCase(OptimizerKind optimizer) {
    like.setup.optimizer.kind = optimizer;
    like.setup.optimizer.weight_decay = 1e-3;  // (sgd then has a term of its own; no state still)
    split = split_validation(testing::random_dataset(spec, 204, 31), 0.25);
    initial = testing::random_parameters(spec, 5);
    like.parameters = initial;
    config.epochs = 40;
    config.batch = 16;
    config.lr = optimizer == OptimizerKind::adam ? 0.01 : 0.1;
    config.schedule.kind = ScheduleKind::step;
    config.schedule.step_every = 3;
    config.schedule.warmup = 2;
    config.seed = 9;
    config.patience = 4;
    config.min_delta = 2e-3;
    config.keep_best = true;
  }

  std::unique_ptr<Backend> backend(const std::string& name) const {
    return make_backend(name, spec, like.setup, BackendOptions{});
  }

  TrainResult run(const std::string& name, TrainObserver& observer, const TrainConfig& c,
                  const TrainProgress* resume = nullptr, const std::atomic<bool>* stop = nullptr) const {
    std::unique_ptr<Backend> b = backend(name);
    return train(*b, initial, split.train, split.validation, c, observer, stop, nullptr, resume);
  }
};

// The end of a resumed run against the end of the run without a stop: the same outcome and message,
// the same kept epoch, bit for bit the same parameters and optimizer state, and the same figures for
// every epoch the resumed run ran.
void expect_same_end(const TrainResult& resumed, const TrainResult& whole) {
  EXPECT_EQ(resumed.outcome, whole.outcome);
  EXPECT_EQ(resumed.message, whole.message);
  EXPECT_EQ(resumed.kept_epoch, whole.kept_epoch);
  EXPECT_EQ(resumed.parameters.values, whole.parameters.values) << "the kept parameters differ";
  EXPECT_EQ(resumed.optimizer_state.steps, whole.optimizer_state.steps);
  EXPECT_EQ(resumed.optimizer_state.values, whole.optimizer_state.values) << "the kept optimizer state differs";
  for (const EpochReport& r : resumed.epochs) {
    ASSERT_LE(size_t(r.epoch), whole.epochs.size());
    const EpochReport& w = whole.epochs[size_t(r.epoch) - 1];
    EXPECT_EQ(r.train_loss, w.train_loss) << "epoch " << r.epoch;
    EXPECT_EQ(r.validation_loss, w.validation_loss) << "epoch " << r.epoch;
    EXPECT_EQ(r.lr, w.lr) << "epoch " << r.epoch;
  }
}

// The progress through the checkpoint file's text and back, as a resume reads it.
TrainProgress through_the_file(const ResumeCase& c, const TrainProgress& p) {
  return checkpoint_from_json(checkpoint_to_json(c.like, p, {{"lr", "0.1"}}), "checkpoint.json").progress;
}

class CheckpointResume : public ::testing::TestWithParam<std::tuple<std::string, OptimizerKind>> {};

// Catches whatever a resume fails to restore or repeats differently: the optimizer state (momentum's
// buffer, adam's moments and step count t: its bias correction), the epoch to start at, the epoch
// orders, the schedule's rate, the kept best model and its loss, early stopping's count (a resumed run
// that stops at another epoch), the "stopped early" outcome of a checkpoint taken at the stop — and
// anything the checkpoint's text does not carry exactly (every resume goes through the file format).
// Resumed after every epoch, and once from the checkpoint a stop in the middle of an epoch leaves.
TEST_P(CheckpointResume, EndsBitForBitAsTheRunWithoutTheStop) {
  const auto& [backend, optimizer] = GetParam();
  if (backend == "cuda") SKIP_WITHOUT_CUDA();
  const ResumeCase c(optimizer);
  TrainObserver quiet;
  const TrainResult whole = c.run(backend, quiet, c.config);
  ASSERT_EQ(whole.outcome, TrainOutcome::stopped_early) << "the case must stop early, so that patience is tested";

  TrainConfig every_epoch = c.config;
  every_epoch.progress_every = 1;
  Recorder recorder;
  expect_same_end(c.run(backend, recorder, every_epoch), whole);  // reporting progress changes nothing
  ASSERT_EQ(recorder.progress.size(), whole.epochs.size());
  bool best_was_earlier = false;
  for (const TrainProgress& p : recorder.progress) {
    SCOPED_TRACE("resumed after epoch " + std::to_string(p.epochs_done));
    best_was_earlier |= p.kept.epoch != p.epochs_done;
    const TrainProgress resume = through_the_file(c, p);
    const TrainResult resumed = c.run(backend, quiet, c.config, &resume);
    expect_same_end(resumed, whole);
    EXPECT_EQ(resumed.epochs.size(), whole.epochs.size() - size_t(p.epochs_done));
  }
  EXPECT_TRUE(best_was_earlier) << "no checkpoint kept an earlier epoch's model: --keep best's restore is untested";

  // Stopped halfway through epoch 4: the checkpoint is the end of epoch 3's, and goes on from there.
  Recorder stopped(4);
  TrainConfig rarely = c.config;
  rarely.progress_every = 100;  // only the stop reports
  const TrainResult interrupted = c.run(backend, stopped, rarely, nullptr, &stopped.stop);
  ASSERT_EQ(interrupted.outcome, TrainOutcome::interrupted);
  ASSERT_EQ(stopped.progress.size(), 1u);
  EXPECT_EQ(stopped.progress[0].epochs_done, 3);
  const TrainProgress resume = through_the_file(c, stopped.progress[0]);
  expect_same_end(c.run(backend, quiet, c.config, &resume), whole);
}

INSTANTIATE_TEST_SUITE_P(
    Backends, CheckpointResume,
    ::testing::Combine(::testing::Values("reference", "cpu", "cuda"),
                       ::testing::Values(OptimizerKind::sgd, OptimizerKind::momentum, OptimizerKind::adam)),
    [](const ::testing::TestParamInfo<CheckpointResume::ParamType>& info) {
      return std::get<0>(info.param) + "_" + name_of(std::get<1>(info.param));
    });

// ---- The file ---------------------------------------------------------------------------------------

// Catches a checkpoint written in place (truncated, then written: a kill in between leaves a torn
// file, and a reader can see half of one): a hard link to the old checkpoint must keep the old bytes,
// because the new one is a new file renamed over the name. Nothing else is left in the folder.
TEST(CheckpointFile, IsReplacedByRenameNeverWrittenInPlace) {
  const fs::path dir = testing::scratch_dir("checkpoint");
  const std::string path = (dir / "ck.json").string();
  const ResumeCase c(OptimizerKind::adam);
  TrainConfig every_epoch = c.config;
  every_epoch.progress_every = 1;
  Recorder recorder;
  c.run("cpu", recorder, every_epoch);
  ASSERT_GE(recorder.progress.size(), 2u);
  save_checkpoint(path, c.like, recorder.progress[0], {});
  const std::string first = slurp(path);
  ASSERT_EQ(link(path.c_str(), (dir / "old.json").c_str()), 0);
  save_checkpoint(path, c.like, recorder.progress[1], {});
  EXPECT_EQ(slurp(dir / "old.json"), first) << "the old checkpoint was written over in place";
  EXPECT_NE(slurp(path), first);
  EXPECT_EQ(load_checkpoint(path).progress.epochs_done, 2);
  std::vector<std::string> names;
  for (const auto& entry : fs::directory_iterator(dir)) names.push_back(entry.path().filename().string());
  std::sort(names.begin(), names.end());
  EXPECT_EQ(names, (std::vector<std::string>{"ck.json", "old.json"}));
}

// Catches a reader that accepts a torn or damaged checkpoint (and would resume from garbage) or fails
// without naming what is wrong: every cut of the file is refused as bad input, and so is each damaged
// element, by its name.
TEST(CheckpointFile, TornOrDamagedCheckpointsAreRefusedByName) {
  const ResumeCase c(OptimizerKind::momentum);
  TrainConfig every_epoch = c.config;
  every_epoch.progress_every = 1;
  Recorder recorder;
  c.run("cpu", recorder, every_epoch);
  const TrainProgress* earlier_best = nullptr;  // a checkpoint that holds a kept model of its own
  for (const TrainProgress& p : recorder.progress)
    if (p.kept.epoch != p.epochs_done) earlier_best = &p;
  ASSERT_NE(earlier_best, nullptr);
  const std::string text = checkpoint_to_json(c.like, *earlier_best, {{"lr", "0.1"}});
  for (size_t cut = 0; cut < text.size(); cut += 97)
    EXPECT_THROW(checkpoint_from_json(text.substr(0, cut), "ck.json"), InputError) << "cut at byte " << cut;
  const auto refused = [&](const std::string& from, const std::string& to, const std::string& named) {
    const size_t at = text.find(from);
    ASSERT_NE(at, std::string::npos) << from;
    try {
      checkpoint_from_json(text.substr(0, at) + to + text.substr(at + from.size()), "ck.json");
      ADD_FAILURE() << from << " → " << to << " was accepted";
    } catch (const InputError& e) {
      EXPECT_NE(std::string(e.what()).find(named), std::string::npos) << e.what();
    }
  };
  refused("\"epochs_done\": ", "\"epochs_done\": -", "checkpoint.epochs_done");
  refused("\"version\": 1", "\"version\": 2", "checkpoint version 2");
  refused("\"kept\": {\"epoch\":", "\"kept\": {\"epoch\":1000", "checkpoint.kept.epoch");
  refused("\"run\": ", "\"nur\": ", "checkpoint.run is missing");
  refused("\"checkpoint\": ", "\"checkpoint_\": ", "not a checkpoint");
  refused("\"validation_loss\":", "\"validation_loss\":\"x\",\"_\":", "checkpoint.kept.validation_loss");
}

// ---- The program ------------------------------------------------------------------------------------

std::vector<std::string> with(std::vector<std::string> args, const std::vector<std::string>& more) {
  args.insert(args.end(), more.begin(), more.end());
  return args;
}

// A run of about 100 epochs of 160000 samples (a few seconds here), adam, a cosine schedule, --keep best.
const std::vector<std::string> kLongRun = {"train",    "--epochs",   "100",    "--samples", "200000", "--backend",
                                           "cpu",      "--optimizer", "adam",  "--schedule", "cosine", "--keep",
                                           "best",     "--quiet"};

// Catches a resume that does not end where the run would have ended, byte for byte in the saved model
// (e.g. adam's moments or step count not restored: the trainer-level tests above tell which state), a
// checkpoint torn by the kill (the resume reads it), and a resume that starts over instead of going on
// (which would save the same bytes): its rows in the log must begin with the epoch after the checkpoint's. The kill
// comes at a random moment after the first checkpoint; its delay is printed on failure.
TEST(CliCheckpoint, KilledRunResumedSavesTheBytesOfTheRunWithoutTheKill) {
  const fs::path dir = testing::scratch_dir("checkpoint");
  const std::string whole = (dir / "whole.json").string(), a = (dir / "a.json").string(),
                    b = (dir / "b.json").string(), ck = (dir / "ck.json").string();
  run_ok(with(kLongRun, {"--save", whole}), 120);

  const fs::path log = dir / "run.csv";
  const std::vector<std::string> checkpointed =
      with(kLongRun, {"--checkpoint", ck, "--checkpoint-every", "1", "--log", log.string()});
  Child child(with(checkpointed, {"--save", a}));
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
  while (!fs::exists(ck) && std::chrono::steady_clock::now() < deadline)
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
  ASSERT_TRUE(fs::exists(ck)) << "no checkpoint within 60 s";
  std::random_device random;
  const int delay_ms = std::uniform_int_distribution<int>(0, 500)(random);
  SCOPED_TRACE("killed " + std::to_string(delay_ms) + " ms after the first checkpoint");
  std::this_thread::sleep_for(std::chrono::milliseconds(delay_ms));
  ASSERT_EQ(kill(child.pid(), SIGKILL), 0);
  const RunResult killed = child.finish(30);
  ASSERT_EQ(killed.signal, SIGKILL) << "the run ended before the kill: lengthen it\n" << describe(killed);
  const int epochs_done = load_checkpoint(ck).progress.epochs_done;
  EXPECT_GT(epochs_done, 0);
  EXPECT_LT(epochs_done, 100);

  run_ok(with(checkpointed, {"--resume", ck, "--save", b}), 120);
  EXPECT_TRUE(slurp(b) == slurp(whole)) << "the resumed run's model differs from the uninterrupted run's";
  // The resumed run goes on in the killed run's log, after a line saying from which epoch.
  const std::string rows = slurp(log);
  EXPECT_EQ(rows.rfind("epoch,", 0), 0u) << rows;
  const std::string resumed = "# resumed from " + ck + " after epoch " + std::to_string(epochs_done) + "\n";
  const size_t at = rows.find(resumed);
  ASSERT_NE(at, std::string::npos) << rows;
  const size_t first_row = at + resumed.size();
  EXPECT_EQ(rows.substr(first_row, rows.find(',', first_row) - first_row), std::to_string(epochs_done + 1))
      << "the resumed run did not start after the checkpoint's epoch:\n" << rows;
}

// Catches a resume that goes on with another run's checkpoint (its model would then be neither run's):
// each setting that differs is refused with one line naming it, exit 2, and nothing saved; a model
// file that is not a checkpoint is refused as such (exit 1, bad input); and --resume with replicas.
TEST(CliCheckpoint, ResumeOfAnotherRunIsRefused) {
  const fs::path dir = testing::scratch_dir("checkpoint");
  const std::string ck = (dir / "ck.json").string(), m = (dir / "m.json").string(), out = (dir / "out.json").string();
  const std::vector<std::string> base = {"train", "--epochs", "3", "--samples", "300", "--backend", "cpu", "--quiet"};
  run_ok(with(base, {"--checkpoint", ck, "--save", m}));
  const std::vector<std::pair<std::vector<std::string>, std::string>> changes = {
      {{"--lr", "0.3"}, "lr"},
      {{"--samples", "301"}, "data"},
      {{"--data-seed", "7"}, "data"},
      {{"--optimizer", "momentum"}, "optimizer"},
      {{"--seed", "3"}, "seed"},
      {{"--epochs", "4"}, "epochs"},
      {{"--val-split", "0.3"}, "validation split"},
      {{"--backend", "reference"}, "backend"},
  };
  for (const auto& [flags, named] : changes) {
    std::vector<std::string> args = with(base, {"--resume", ck, "--save", out});
    // a later flag of the same name would be refused by the parser: replace the value instead
    for (size_t k = 0; k + 1 < args.size(); ++k)
      if (args[k] == flags[0]) args.erase(args.begin() + long(k), args.begin() + long(k) + 2);
    args = with(args, flags);
    const RunResult r = run(args);
    SCOPED_TRACE(testing::command_line(args));
    EXPECT_EQ(r.code, 2) << describe(r);
    EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << describe(r);
    EXPECT_NE(r.err.find("checkpoint's run has " + named + " "), std::string::npos) << describe(r);
    EXPECT_FALSE(fs::exists(out));
  }
  const RunResult not_a_checkpoint = run(with(base, {"--resume", m}));
  EXPECT_EQ(not_a_checkpoint.code, 1) << describe(not_a_checkpoint);
  EXPECT_NE(not_a_checkpoint.err.find("not a checkpoint"), std::string::npos) << describe(not_a_checkpoint);
  const RunResult replicas = run(with(base, {"--resume", ck, "--replicas", "2"}));
  EXPECT_EQ(replicas.code, 2) << describe(replicas);
  EXPECT_NE(replicas.err.find("--replicas"), std::string::npos) << describe(replicas);
  // The same flags are taken.
  run_ok(with(base, {"--resume", ck, "--save", out}));
  EXPECT_EQ(slurp(out), slurp(m));
}

}  // namespace
}  // namespace sigtrain
