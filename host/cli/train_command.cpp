// sigtrain train: mini-batch SGD on a data file or a built-in set, one line per epoch.
#include <signal.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <memory>

#include "backends/backend.h"
#include "commands.h"
#include "util/errors.h"
#include "util/file_util.h"
#include "model/model_file.h"
#include "tools/plot.h"
#include "train/trainer.h"
#include "train_options.h"

namespace sigtrain::cli {

// Ctrl-C: the first one asks the trainer to stop after the step in progress; the handler then steps
// aside, so a second Ctrl-C ends the program at once.
std::atomic<bool> g_stop_requested{false};
static_assert(std::atomic<bool>::is_always_lock_free, "the flag is set from a signal handler");

extern "C" void on_sigint(int) {
  g_stop_requested.store(true);
  signal(SIGINT, SIG_DFL);
}

void begin_interruptible() {
  g_stop_requested.store(false);
  signal(SIGINT, on_sigint);
}

void end_interruptible() { signal(SIGINT, SIG_DFL); }

namespace {

// Prints the epoch lines (stdout), a progress bar when stdout is a terminal, and the --log CSV.
class ConsoleObserver : public TrainObserver {
 public:
  ConsoleObserver(int epochs, bool quiet, std::ofstream* log)
      : epochs_(epochs), quiet_(quiet), bar_(!quiet && isatty(STDOUT_FILENO)), log_(log) {}

  void on_epoch(const EpochReport& r) override {
    if (log_) {
      *log_ << r.epoch << ',' << format_number(r.train_loss, 9) << ','
            << (std::isnan(r.validation_loss) ? "" : format_number(r.validation_loss, 9)) << ','
            << format_number(r.samples_per_second, 6) << ',' << format_number(r.elapsed_seconds, 6) << '\n';
      log_->flush();
    }
    if (quiet_) return;
    if (bar_) std::fputs("\r\033[K", stdout);  // clear the bar before the line
    std::printf("epoch %*d/%d  train_mse %-11s val_mse %-11s %9s samples/s  %s s\n", width(), r.epoch, epochs_,
                format_number(r.train_loss).c_str(),
                std::isnan(r.validation_loss) ? "-" : format_number(r.validation_loss).c_str(),
                format_number(r.samples_per_second, 3).c_str(), format_number(r.elapsed_seconds, 3).c_str());
    std::fflush(stdout);
  }

  void on_step(int epoch, size_t done, size_t total) override {
    if (!bar_ || ++steps_ % 64 != 0) return;  // look at the clock only now and then
    const auto now = std::chrono::steady_clock::now();
    if (now - last_draw_ < std::chrono::milliseconds(100)) return;
    last_draw_ = now;
    const double fraction = (double(epoch - 1) + double(done) / double(total)) / double(epochs_);
    const int filled = int(fraction * 30);
    std::printf("\r[%s%s] %3d%%  epoch %d/%d", std::string(filled, '#').c_str(), std::string(30 - filled, ' ').c_str(),
                int(fraction * 100), epoch, epochs_);
    std::fflush(stdout);
  }

  void on_verify(const VerifyReport& r) override {
    if (quiet_) return;
    if (bar_) std::fputs("\r\033[K", stdout);
    std::printf("verify step %ld: largest relative difference from the fp64 reference: loss %s, gradients %s (layer %d)\n",
                r.step, format_number(r.loss_difference, 3).c_str(), format_number(r.gradient_difference, 3).c_str(),
                r.worst_layer);
  }

 private:
  int width() const { return int(std::to_string(epochs_).size()); }

  int epochs_;
  bool quiet_, bar_;
  std::ofstream* log_;
  long steps_ = 0;
  std::chrono::steady_clock::time_point last_draw_{};
};

}  // namespace

Parameters initial_parameters(const TrainOptions& o) {
  NetworkSpec spec = parse_widths(o.layers, o.bias);
  if (o.init.empty()) return glorot_uniform(spec, o.seed);
  Parameters p = load_model(o.init).parameters;
  if (o.layers_option->count() > 0 && p.spec.widths != spec.widths)
    throw InputError(o.init + ": the model is " + p.spec.to_string() + ", but --layers says " + o.layers);
  if (o.bias_option->count() > 0 && !p.spec.bias)
    throw InputError(o.init + ": the model has no biases, but --bias was given");
  return p;
}

void check_options(const TrainOptions& o) {
  if (o.epochs < 0) throw UsageError("--epochs must be 0 or more, got " + std::to_string(o.epochs));
  if (o.batch < 1) throw UsageError("--batch must be at least 1, got " + std::to_string(o.batch));
  if (!(o.lr > 0) || !std::isfinite(o.lr)) throw UsageError("--lr must be a finite number above 0, got " + format_number(o.lr));
  if (!(o.val_split >= 0 && o.val_split < 1))
    throw UsageError("--val-split must be in [0, 1), got " + format_number(o.val_split));
  if (o.threads < 0) throw UsageError("--threads must be 0 (all) or more, got " + std::to_string(o.threads));
  if (o.verify_every < 0) throw UsageError("--verify-every must be 0 (off) or more, got " + std::to_string(o.verify_every));
  if (!o.save.empty()) check_writable("--save", o.save);
  if (!o.log.empty()) check_writable("--log", o.log);
  if (!o.plot.empty()) check_writable("--plot", o.plot);
  if (o.replicas < 1) throw UsageError("--replicas must be at least 1, got " + std::to_string(o.replicas));
  const bool many = o.replicas > 1 || !o.sweeps.empty();
  if (!o.save_all.empty() && !many) throw UsageError("--save-all goes with --replicas or --sweep");
  if (many && (!o.log.empty() || !o.plot.empty() || o.verify_every > 0))
    throw UsageError("--log, --plot and --verify-every follow a single run; leave them out with --replicas/--sweep");
  if (!o.save_all.empty()) check_writable("--save-all", o.save_all + "/model.json");
}

BackendOptions backend_options(const TrainOptions& o) {
  BackendOptions options;
  options.threads = o.threads;
  options.tf32 = o.tf32;
  options.cuda_graphs = !o.no_graphs;
  options.kernel = o.kernel;
  return options;
}

namespace {

int run_train(const TrainOptions& o) {
  check_options(o);
  if (o.replicas > 1 || !o.sweeps.empty()) return run_train_replicas(o);
  const Parameters initial = initial_parameters(o);
  const NetworkSpec& spec = initial.spec;
  const Dataset data = load_data(o.data, spec);
  const TrainValidation split = split_validation(data, o.val_split);
  std::unique_ptr<Backend> backend = make_backend(o.backend, spec, TrainingSetup{}, backend_options(o));

  TrainConfig config;
  config.epochs = o.epochs;
  config.batch = size_t(o.batch);
  config.lr = o.lr;
  config.seed = o.seed;
  config.shuffle = !o.no_shuffle;
  config.verify_every = o.verify_every;

  // With --backend auto, say why it is not cuda.
  std::string backend_text = backend->description();
  std::string why_not_cuda;
  if (o.backend == "auto" && backend->name() != "cuda" && !cuda_backend_available(&why_not_cuda))
    backend_text += " [auto: " + why_not_cuda + "]";
  if (!o.quiet)
    std::printf("sigtrain train: backend %s; network %s; data %s (%zu training, %zu validation samples); "
                "batch %lld, lr %s, %d epochs, seed %llu%s\n",
                backend_text.c_str(), spec.to_string().c_str(), data.name.c_str(), split.train.size,
                split.validation.size, o.batch, format_number(o.lr).c_str(), o.epochs, (unsigned long long)o.seed,
                o.no_shuffle ? ", file order" : "");

  std::ofstream log;
  if (!o.log.empty()) {
    log.open(o.log, std::ios::trunc);
    if (!log) throw InputError(o.log + ": cannot write the log");
    log << "epoch,train_mse,val_mse,samples_per_second,elapsed_seconds\n";
  }
  ConsoleObserver observer(o.epochs, o.quiet, o.log.empty() ? nullptr : &log);

  begin_interruptible();
  TrainResult result = train(*backend, initial, split.train, split.validation, config, observer, &g_stop_requested);
  end_interruptible();

  if (!o.save.empty()) save_model(Model(result.parameters), o.save);
  // Drawn however training ended: an interrupted or diverged run shows the epochs it finished.
  if (!o.plot.empty())
    write_file_atomically(o.plot, line_chart_svg(training_curves_chart(
                                      result.epochs, "sigtrain train: " + spec.to_string() + " on " + data.name)));
  switch (result.outcome) {
    case TrainOutcome::completed:
    case TrainOutcome::stopped_early:
      if (!o.quiet && !o.save.empty()) std::printf("saved %s\n", o.save.c_str());
      return 0;
    case TrainOutcome::interrupted:
      std::fprintf(stderr, "sigtrain: %s%s\n", result.message.c_str(),
                   o.save.empty() ? "" : ("; saved the model to " + o.save).c_str());
      return 130;
    case TrainOutcome::diverged:
      throw InputError(result.message + (o.save.empty() ? "" : "; saved it to " + o.save));
  }
  return 1;
}

}  // namespace

Run add_train(CLI::App& app) {
  auto o = std::make_shared<TrainOptions>();
  CLI::App* c = app.add_subcommand("train", "train a network by mini-batch SGD");
  add_data_options(*c, o->data, true);
  o->layers_option = c->add_option("--layers", o->layers, "widths n0,n1,…,nL: inputs, sigmoid layers, linear outputs")
                         ->capture_default_str();
  o->bias_option = c->add_flag("--bias", o->bias, "give every layer a bias (the notes' network has none)");
  c->add_option("--epochs", o->epochs, "passes over the training set")->capture_default_str();
  c->add_option("--batch", o->batch, "samples per SGD step (the last batch of an epoch may be smaller)")
      ->capture_default_str();
  c->add_option("--lr", o->lr, "learning rate")->capture_default_str();
  c->add_option("--seed", o->seed, "seed of the initialisation and of the epochs' orders")->capture_default_str();
  c->add_flag("--no-shuffle", o->no_shuffle, "take the batches in file order");
  c->add_option("--val-split", o->val_split, "fraction of the data held out for validation, in [0, 1)")
      ->capture_default_str();
  c->add_option("--backend", o->backend, "auto, reference, cpu or cuda")
      ->check(CLI::IsMember(backend_names()))
      ->capture_default_str();
  c->add_option("--init", o->init, "start from this model file");
  c->add_option("--save", o->save, "write the trained model here (atomically)");
  c->add_option("--log", o->log, "write the per-epoch figures to this CSV file");
  c->add_option("--plot", o->plot, "draw the train and validation MSE per epoch to this SVG file");
  c->add_option("--threads", o->threads, "threads of the cpu backend (0: all)")->capture_default_str();
  c->add_flag("--tf32", o->tf32, "cuda: let cuBLAS use TF32 tensor cores (default: plain FP32)");
  c->add_flag("--no-graphs", o->no_graphs, "cuda: launch every kernel of every step instead of replaying a CUDA graph");
  c->add_option("--kernel", o->kernel, "cuda: fused (one kernel runs many steps; widths up to 64), cublas, or auto")
      ->check(CLI::IsMember({"auto", "fused", "cublas"}))
      ->capture_default_str();
  c->add_option("--replicas", o->replicas, "train R networks at once (seeds --seed, --seed+1, …)")->capture_default_str();
  c->add_option("--sweep", o->sweeps, "train one network per value: lr=0.1,0.3,1 or seed=1-16 (repeatable: all combinations)");
  c->add_option("--save-all", o->save_all, "with --replicas/--sweep: write every network's model into this folder");
  c->add_option("--verify-every", o->verify_every, "every N steps compare gradients with the fp64 reference (0: off)")
      ->capture_default_str();
  c->add_flag("--quiet", o->quiet, "print nothing but errors");
  return [o] { return run_train(*o); };
}

}  // namespace sigtrain::cli
