// The lines of a training run (console.h), moved from the program so that the Python module prints the
// same ones.
#include "run/console.h"

#include <unistd.h>

#include <cmath>
#include <cstdio>

#include "util/format.h"

namespace sigtrain {

std::string run_header_line(const RunOptions& o, const TrainPlan& plan, const std::string& backend_text,
                            const SampleCounts* rows) {
  const SampleCounts own{plan.split.train.size, plan.split.validation.size};
  if (!rows) rows = &own;
  char counts[160];
  std::snprintf(counts, sizeof counts, " (%zu training, %zu validation samples); batch %lld, lr ", rows->training,
                rows->validation, o.batch);
  return "sigtrain train: backend " + backend_text + "; network " + plan.start.parameters.spec.to_string() + "; data " +
         plan.data_name + counts + format_number(plan.config.lr) + ", " + std::to_string(o.epochs) + " epochs, seed " +
         std::to_string(o.seed) + (o.no_shuffle ? ", file order" : "") + describe_setup(plan);
}

std::string replicas_header_line(const RunOptions& o, const TrainPlan& plan, size_t networks, int parallel,
                                 bool fused_kernel) {
  const TrainValidation& split = plan.split;
  char counts[160];
  std::snprintf(counts, sizeof counts, " (%zu training, %zu validation samples); batch %lld, %d epochs",
                split.train.size, split.validation.size, o.batch, o.epochs);
  return "sigtrain train: " + std::to_string(networks) + " networks " + plan.start.parameters.spec.to_string() +
         "; backend " + o.backend + (fused_kernel ? "" : ", " + std::to_string(parallel) + " at a time") + "; data " +
         plan.data_name + counts + describe_setup(plan);
}

void print_to_stdout(const std::string& line) {
  std::fputs(line.c_str(), stdout);
  std::fputc('\n', stdout);
  std::fflush(stdout);
}

ConsoleObserver::ConsoleObserver(int epochs, std::string loss, bool quiet,
                                 std::function<void(const EpochReport&)> on_epoch_also, PrintLine print)
    : epochs_(epochs),
      loss_(std::move(loss)),
      quiet_(quiet),
      bar_(!quiet && !print && isatty(STDOUT_FILENO)),  // (the bar draws on stdout itself)
      on_epoch_also_(std::move(on_epoch_also)),
      print_(print ? std::move(print) : PrintLine(print_to_stdout)) {}

void ConsoleObserver::on_epoch(const EpochReport& r) {
  if (on_epoch_also_) on_epoch_also_(r);
  if (quiet_) return;
  if (bar_) std::fputs("\r\033[K", stdout);  // clear the bar before the line
  char line[512];
  std::snprintf(line, sizeof line, "epoch %*d/%d  train_%s %-11s val_%s %-11s %9s samples/s  %s s", width(), r.epoch,
                epochs_, loss_.c_str(), format_number(r.train_loss).c_str(), loss_.c_str(),
                std::isnan(r.validation_loss) ? "-" : format_number(r.validation_loss).c_str(),
                format_number(r.samples_per_second, 3).c_str(), format_number(r.elapsed_seconds, 3).c_str());
  print_(line);
}

void ConsoleObserver::on_step(int epoch, size_t done, size_t total) {
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

void ConsoleObserver::on_verify(const VerifyReport& r) {
  if (quiet_) return;
  if (bar_) std::fputs("\r\033[K", stdout);
  char line[512];
  std::snprintf(line, sizeof line,
                "verify step %ld: largest relative difference from the fp64 reference: loss %s, gradients %s (layer %d)",
                r.step, format_number(r.loss_difference, 3).c_str(), format_number(r.gradient_difference, 3).c_str(),
                r.worst_layer);
  print_(line);
}

std::string kept_model_line(const TrainPlan& plan, const TrainResult& result) {
  if (!plan.config.keep_best && plan.config.patience == 0) return "";
  std::string kept = result.kept_epoch == 0 ? "kept the initial model" : "kept epoch " + std::to_string(result.kept_epoch);
  if (!std::isnan(result.kept_validation_loss))
    kept += " (val_" + loss_label(plan) + " " + format_number(result.kept_validation_loss) + ")";
  return kept;
}

std::string data_units_line(const TrainPlan& plan, const TrainResult& result, Backend& backend, const Model& trained) {
  const Model& start = plan.start;
  if (!start.standardization.targets() || plan.raw_validation.size == 0 || result.epochs.empty()) return "";
  backend.set_parameters(trained.parameters);
  const Evaluation e = evaluate(plan.raw_validation, start.parameters.spec, start.setup.loss,
                                [&](const float* x, size_t n, double* z) { backend.predict_logits(x, n, z); },
                                &start.standardization);
  return "val_mse in the data's units: " + format_number(e.mse);
}

std::vector<std::string> run_end_lines(const TrainPlan& plan, const TrainResult& result, Backend& backend,
                                       const Model& trained) {
  std::vector<std::string> lines;
  for (std::string line : {kept_model_line(plan, result), data_units_line(plan, result, backend, trained),
                           result.outcome == TrainOutcome::stopped_early ? result.message : std::string()})
    if (!line.empty()) lines.push_back(std::move(line));
  return lines;
}

std::string settings_text(const NetworkSettings& s) { return "seed " + std::to_string(s.seed) + ", lr " + format_number(s.lr); }

namespace {

// A loss for the network lines: "-" where there is none (no finished epoch, no validation set).
std::string loss_text(double loss) { return std::isnan(loss) ? "-" : format_number(loss); }

}  // namespace

// A network that never ran shows no losses, so that it does not read like one that diverged.
std::string network_line(size_t r, const ReplicaResult& x, const std::string& loss, bool best) {
  std::string line = "network " + std::to_string(r) + "  " + settings_text(x.settings) + "  ";
  if (!x.ran) return line + x.result.message;
  line += "train_" + loss + " " + loss_text(x.train_loss) + "  val_" + loss + " " + loss_text(x.validation_loss);
  // Interrupted in an epoch, the figures are the last finished epoch's (ReplicaResult): say which.
  const std::vector<EpochReport>& epochs = x.result.epochs;
  const bool in_epoch = !epochs.empty() && x.result.kept_epoch > epochs.back().epoch;
  switch (x.result.outcome) {
    case TrainOutcome::diverged: return line + "  diverged: " + x.result.message;
    case TrainOutcome::interrupted:
      return line + "  " + x.result.message +
             (in_epoch ? " (figures of epoch " + std::to_string(epochs.back().epoch) + ")" : "") + (best ? "  best" : "");
    default: return line + (best ? "  best" : "");
  }
}

}  // namespace sigtrain
