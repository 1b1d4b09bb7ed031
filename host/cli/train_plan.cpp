// `sigtrain train`'s plan: the run's (run/train_plan.h) from the flags, with the data file or built-in
// set and the --init model they name, and the checks of the files the program writes.
#include <filesystem>

#include "model/model_file.h"
#include "train_options.h"
#include "util/errors.h"

namespace sigtrain::cli {

void check_options(const TrainOptions& o) {
  check_run_options(o);
  if (!o.save.empty()) check_writable("--save", o.save);
  if (!o.log.empty()) check_writable("--log", o.log);
  if (!o.plot.empty()) check_writable("--plot", o.plot);
  if (!o.save_all.empty() && !o.many()) throw UsageError("--save-all goes with --replicas or --sweep");
  if (o.many() && (!o.log.empty() || !o.plot.empty() || o.verify_every > 0))
    throw UsageError("--log, --plot and --verify-every follow a single run; leave them out with --replicas/--sweep");
  if (!o.save_all.empty()) check_folder_writable("--save-all", o.save_all);
}

TrainPlan make_train_plan(const TrainOptions& o) {
  PlanInputs inputs;
  inputs.load_data = [&o](const NetworkSpec& spec) { return load_data(o.data, spec); };
  // Before the data are read, the memory estimate counts a built-in set by --samples (0 where load_data
  // refuses it), a file by its size.
  inputs.rows_before_loading = o.data.file.empty() && o.data.samples > 0 ? size_t(o.data.samples) : 0;
  if (!o.data.file.empty() && o.data.file != "-") {
    std::error_code no_size;  // (a file that cannot be read is the reader's error to report)
    const std::uintmax_t bytes = std::filesystem::file_size(o.data.file, no_size);
    inputs.file_bytes = no_size ? 0 : size_t(bytes);
  }
  Model init;
  if (!o.init.empty()) {
    init = load_model(o.init);
    inputs.init = &init;
    inputs.init_name = o.init;
  }
  inputs.saves = !o.save.empty() || !o.save_all.empty();
  inputs.checkpoints = !o.checkpoint.empty();
  inputs.resumes = !o.resume.empty();
  return sigtrain::make_train_plan(o, inputs);
}

}  // namespace sigtrain::cli
