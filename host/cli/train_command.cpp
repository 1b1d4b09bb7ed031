// sigtrain train: mini-batch training (any optimizer, schedule, loss) on a data file or a built-in set, one line per epoch.
#include <signal.h>
#include <unistd.h>

#include <atomic>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <memory>
#include <optional>

#include "commands.h"
#include "model/choices.h"
#include "model/model_file.h"
#include "mpi/communicator.h"
#include "mpi/rank_errors.h"
#include "run/console.h"
#include "run/train_run.h"
#include "run_files.h"
#include "train/checkpoint.h"
#include "train_options.h"
#include "util/errors.h"
#include "util/file_util.h"

namespace sigtrain::cli {

// Ctrl-C (SIGINT) or SIGTERM (what kill, timeout and job schedulers send): the first one asks the
// trainer to stop after the step in progress; the handler then steps aside for both, so a second one
// ends the program at once.
std::atomic<bool> g_stop_requested{false};
std::atomic<int> g_stop_signal{0};
static_assert(std::atomic<bool>::is_always_lock_free && std::atomic<int>::is_always_lock_free,
              "the flags are set from a signal handler");

extern "C" void on_stop_signal(int signal_number) {
  g_stop_signal.store(signal_number);
  g_stop_requested.store(true);
  signal(SIGINT, SIG_DFL);
  signal(SIGTERM, SIG_DFL);
}

void begin_interruptible() {
  g_stop_requested.store(false);
  g_stop_signal.store(0);
  signal(SIGINT, on_stop_signal);
  signal(SIGTERM, on_stop_signal);
}

void end_interruptible() {
  signal(SIGINT, SIG_DFL);
  signal(SIGTERM, SIG_DFL);
}

// The shell's code for a program its signal ended: 130 for Ctrl-C, 143 for SIGTERM.
int interrupted_exit_code() {
  const int signal_number = g_stop_signal.load();
  return 128 + (signal_number != 0 ? signal_number : SIGINT);
}

std::string stopping_signal_text() { return g_stop_signal.load() == SIGTERM ? " (SIGTERM)" : ""; }

namespace {

// The flags of --checkpoint and --resume, before any work.
void check_checkpoint_options(const TrainOptions& o) {
  const bool many = o.replicas > 1 || !o.sweeps.empty();
  if (many && (!o.checkpoint.empty() || !o.resume.empty()))
    throw UsageError("--checkpoint and --resume follow a single run; leave them out with --replicas/--sweep");
  if (o.is_given("checkpoint_every") && o.checkpoint.empty())
    throw UsageError("--checkpoint-every goes with --checkpoint FILE");
  if (o.checkpoint_every < 1)
    throw UsageError("--checkpoint-every must be at least 1 (epochs), got " + std::to_string(o.checkpoint_every));
  if (o.checkpoint.empty()) return;
  if (o.checkpoint == o.save) throw UsageError("--checkpoint and --save name the same file: give each its own");
  check_writable("--checkpoint", o.checkpoint);
}

}  // namespace

namespace {

int run_train(const TrainOptions& o) {
  // Under mpirun every rank checks; a flag one rank refuses ends every rank (mpi/rank_errors.h).
  Communicator& ranks = world();
  on_every_rank(ranks, [&] {
    check_options(o);
    check_checkpoint_options(o);
  });
  if (wants_data_parallel(o)) return run_train_data_parallel(o);
  if (o.replicas > 1 || !o.sweeps.empty()) return run_train_replicas(o);
  // One network over several ranks is --data-parallel's; without it, refused rather than trained once
  // per rank (each rank writing the same --save).
  if (ranks.size() > 1)
    throw JobError("one network under mpirun with " + std::to_string(ranks.size()) +
                       " ranks: give --data-parallel to train it over the ranks, or --replicas/--sweep to spread "
                       "networks over them (or run it without mpirun)",
                   2, ranks.rank() == 0);
  const TrainPlan plan = make_train_plan(o);
  const Model& start = plan.start;
  const TrainValidation& split = plan.split;
  RunBackend made = make_run_backend(o, plan);
  Backend& backend = *made.backend;

  // --checkpoint and --resume: what the run is (train/checkpoint.h), which a resume must agree on.
  RunSettings run;
  std::optional<Checkpoint> resume;
  if (!o.checkpoint.empty() || !o.resume.empty())
    run = run_settings(start, plan.config, o.val_split, split.train, split.validation, backend.name());
  if (!o.resume.empty()) {
    resume = load_checkpoint(o.resume);
    check_same_run(o.resume, resume->run, run);
  }
  TrainConfig config = plan.config;
  config.progress_every = o.checkpoint.empty() ? 0 : o.checkpoint_every;

  if (!o.quiet) std::printf("%s\n", run_header_line(o, plan, made.description).c_str());
  if (!o.quiet && resume)
    std::printf("resuming from %s after epoch %d\n", o.resume.c_str(), resume->progress.epochs_done);
  std::fflush(stdout);  // the first epoch may take long: show the header now, also through a pipe

  const std::string loss = loss_label(plan);
  std::ofstream log = open_run_log(o.log, loss, o.resume, resume ? &*resume : nullptr);
  CheckpointingObserver observer(o.epochs, loss, o.quiet, epoch_log_writer(log), o.checkpoint, start, run);

  begin_interruptible();
  SingleRunResult ran = train_single(backend, plan, config, observer, &g_stop_requested, resume ? &resume->progress : nullptr);
  end_interruptible();
  const TrainResult& result = ran.result;
  const Model& trained = ran.trained;

  // A diverged run fails (exit 1): the --save target keeps what it held, and the last finite model
  // goes beside it under its own name. Completed, stopped and interrupted runs save to --save.
  return finish_single_run(o, plan, result, trained, run_end_lines(plan, result, backend, trained), log, observer,
                           ranks);
}

}  // namespace

// The flags of issue 10's composable parts: activations, loss, optimizer, schedule, standardisation,
// early stopping. Their names match the model file's.
static void add_setup_options(CLI::App& c, TrainOptions& o) {
  c.add_option("--activation", o.activation, "hidden layers' activation: sigmoid, tanh or relu")
                            ->check(CLI::IsMember(hidden_activation_names()))
                            ->capture_default_str();
  c.add_option("--output", o.output, "output activation: linear or sigmoid")
                        ->check(CLI::IsMember(output_activation_names()))
                        ->capture_default_str();
  c.add_option("--loss", o.loss, "mse, or bce (binary cross-entropy; needs --output sigmoid, targets in [0, 1])")
                      ->check(CLI::IsMember(loss_names()))
                      ->capture_default_str();
  c.add_option("--optimizer", o.optimizer, "sgd, momentum, nesterov, adam or adamw")
                           ->check(CLI::IsMember(optimizer_names()))
                           ->capture_default_str();
  c.add_option("--momentum", o.momentum, "μ of momentum and nesterov")->capture_default_str();
  c.add_option("--beta1", o.beta1, "β1 of adam and adamw")->capture_default_str();
  c.add_option("--beta2", o.beta2, "β2 of adam and adamw")->capture_default_str();
  c.add_option("--eps", o.eps, "ε of adam and adamw")->capture_default_str();
  c.add_option("--weight-decay", o.weight_decay,
               "L2 penalty (sgd, momentum, nesterov, adam) or decoupled weight decay (adamw)")
      ->capture_default_str();
  c.add_option("--schedule", o.schedule, "learning rate per epoch: constant, step, cosine or invscaling")
      ->check(CLI::IsMember(schedule_names()))
      ->capture_default_str();
  c.add_option("--step-every", o.step_every, "step schedule: epochs between decays")->capture_default_str();
  c.add_option("--gamma", o.gamma, "step schedule: the factor of each decay")->capture_default_str();
  c.add_option("--power", o.power, "invscaling schedule: lr / (epoch)^power")->capture_default_str();
  c.add_option("--warmup", o.warmup, "epochs of linear warm-up before the schedule")->capture_default_str();
  c.add_option("--standardize", o.standardize, "standardise none, inputs, targets or both (fitted on the training part)")
          ->check(CLI::IsMember({"none", "inputs", "targets", "both"}))
          ->capture_default_str();
  c.add_option("--patience", o.patience, "stop after N epochs without a better validation loss (0: off)")
      ->capture_default_str();
  c.add_option("--min-delta", o.min_delta, "the least decrease of the validation loss that counts as better")
      ->capture_default_str();
  c.add_option("--keep", o.keep, "the model to save: best (by validation loss; default with --patience) or last")
      ->check(CLI::IsMember({"best", "last"}));
}

namespace {

// "--min-delta" → "min_delta"
std::string option_name(const CLI::Option& option) {
  std::string name = option.get_name();
  name.erase(0, name.find_first_not_of('-'));
  for (char& ch : name)
    if (ch == '-') ch = '_';
  return name;
}

}  // namespace

Run add_train(CLI::App& app) {
  auto o = std::make_shared<TrainOptions>();
  CLI::App* c = app.add_subcommand("train", "train a network by mini-batch gradient descent");
  add_data_options(*c, o->data, true);
  c->add_option("--layers", o->layers, "widths n0,n1,…,nL: inputs, hidden layers, outputs")
                         ->capture_default_str();
  c->add_flag("--bias", o->bias, "give every layer a bias (the notes' network has none)");
  c->add_option("--epochs", o->epochs, "passes over the training set")->capture_default_str();
  c->add_option("--batch", o->batch, "samples per step (the last batch of an epoch may be smaller)")
      ->capture_default_str();
  c->add_option("--lr", o->lr, "learning rate, the schedule's base rate (default 0.2; 0.001 for adam and adamw)");
  add_setup_options(*c, *o);
  c->add_option("--seed", o->seed, "seed of the initialisation and of the epochs' orders")
      ->check(seed_value())
      ->capture_default_str();
  c->add_flag("--no-shuffle", o->no_shuffle, "take the batches in file order");
  c->add_option("--val-split", o->val_split, "fraction of the data held out for validation, in [0, 1)")
      ->capture_default_str();
  c->add_option("--backend", o->backend, "auto, reference, cpu or cuda")
      ->check(CLI::IsMember(backend_names()))
      ->capture_default_str();
  c->add_option("--init", o->init, "start from this model file")->check(not_empty());
  c->add_option("--save", o->save,
                "write the trained model here (atomically; a failed run leaves it alone and writes FILE's "
                "name with .last-finite before the extension)")
      ->check(not_empty());
  c->add_option("--log", o->log, "write the per-epoch figures to this CSV file")->check(not_empty());
  c->add_option("--plot", o->plot, "draw the train and validation loss per epoch to this SVG file")->check(not_empty());
  c->add_option("--threads", o->threads, "threads of the cpu backend (0: all)")->capture_default_str();
  c->add_flag("--tf32", o->tf32, "cuda: let cuBLAS use TF32 tensor cores (default: plain FP32)");
  c->add_flag("--no-graphs", o->no_graphs, "cuda: launch every kernel of every step instead of replaying a CUDA graph");
  c->add_option("--kernel", o->kernel, "cuda: fused (one kernel runs many steps; widths up to 64), cublas, or auto")
      ->check(CLI::IsMember({"auto", "fused", "cublas"}))
      ->capture_default_str();
  c->add_option("--replicas", o->replicas, "train R networks at once (seeds --seed, --seed+1, …)")->capture_default_str();
  c->add_option("--sweep", o->sweeps, "train one network per value: lr=0.1,0.3,1 or seed=1-16 (repeatable: all combinations)");
  c->add_option("--save-all", o->save_all,
                "with --replicas/--sweep: write every network's model into this folder (created if need be)")
      ->check(not_empty());
  c->add_option("--checkpoint", o->checkpoint,
                "every --checkpoint-every epochs, and when stopped, write all that the run needs to go on to this "
                "file (atomically)")
      ->check(not_empty());
  c->add_option("--checkpoint-every", o->checkpoint_every, "epochs between checkpoints")->capture_default_str();
  c->add_option("--resume", o->resume,
                "go on with the run that wrote this --checkpoint file (same flags and data): it ends byte for byte "
                "as it would have without the stop")
      ->check(not_empty());
  c->add_option("--verify-every", o->verify_every, "every N steps compare gradients with the fp64 reference (0: off)")
      ->capture_default_str();
  c->add_flag("--data-parallel", o->data_parallel,
              "under mpirun: train one network on every rank's part of the data (--batch is the global batch; "
              "--data with {rank} names one file per rank, else each rank reads its byte range of the file)");
  c->add_option("--average-every", o->average_every,
                "with --data-parallel: each rank steps on its own shard and the models are averaged every K steps "
                "(local SGD) instead of summing the gradients every step")
      ->capture_default_str();
  c->add_flag("--quiet", o->quiet, "print nothing but errors");
  return [o, c] {
    // Which flags were given, by the run's option names (--min-delta → min_delta): run/run_options.h.
    for (const CLI::Option* option : c->get_options())
      if (option->count() > 0) o->given.insert(option_name(*option));
    return run_train(*o);
  };
}

}  // namespace sigtrain::cli
