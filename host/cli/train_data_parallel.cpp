// sigtrain train --data-parallel: one network trained by every rank of an MPI job on its part of the
// data (train/data_parallel.h), the rest as a single run (train_command.cpp): rank 0 prints, logs and
// saves; every rank computes. Each rank reads only its part of the data: --data with {rank} names one
// file per rank, a single file is read by byte ranges, a built-in set is drawn whole and cut.
#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <optional>
#include <thread>

#include "data/data_files.h"
#include "model/model_file.h"
#include "mpi/communicator.h"
#include "mpi/device_rank_sum.h"
#include "mpi/rank_errors.h"
#include "run/console.h"
#include "run/train_run.h"
#include "run_files.h"
#include "train/checkpoint.h"
#include "train/data_parallel.h"
#include "train/data_shard.h"
#include "train_options.h"
#include "util/errors.h"
#include "util/format.h"

namespace sigtrain::cli {

namespace {

constexpr char kRankPattern[] = "{rank}";

void check_data_parallel_options(const TrainOptions& o) {
  if (!o.data_parallel) throw UsageError("--average-every goes with --data-parallel");
  if (o.average_every < 0)
    throw UsageError("--average-every must be 0 (sum the gradients every step) or more, got " +
                     std::to_string(o.average_every));
  if (o.many()) throw UsageError("--data-parallel trains one network; leave out --replicas/--sweep");
  if (is_standard_input(o.data.file))
    throw UsageError("--data-parallel reads a file (or one per rank, with {rank} in its name), not standard input");
}

// This rank's part of the data (see the file's comment); its name in messages is the --data text.
Dataset load_part(const DataOptions& d, const NetworkSpec& spec, Communicator& comm) {
  const int rank = comm.rank(), ranks = comm.size();
  if (d.file.empty()) {
    const Dataset whole = load_data(d, spec);
    const RowBlock mine = block_of_rank(whole.size, rank, ranks);
    std::vector<size_t> rows(mine.count);
    for (size_t k = 0; k < mine.count; ++k) rows[k] = mine.first + k;
    return select_rows(whole, rows);
  }
  const size_t at = d.file.find(kRankPattern);
  if (at != std::string::npos) {
    const std::string path = std::string(d.file).replace(at, sizeof kRankPattern - 1, std::to_string(rank));
    return dataset_from_table(read_table(path, parse_data_format(d.format)), spec);
  }
  std::error_code no_size;
  const size_t bytes = size_t(std::filesystem::file_size(d.file, no_size));
  Table part = read_table_rows_in(d.file, parse_data_format(d.format), byte_range_of_rank(no_size ? 0 : bytes, rank, ranks));
  if (part.rows == 0) part.columns = spec.inputs() + spec.outputs();  // a part with no rows: an empty set
  Dataset data = dataset_from_table(part, spec);
  data.name = d.file;
  return data;
}

// "val_mse in the data's units" over every rank's part of the validation set (console.h's line for one).
std::string data_units_line_over_ranks(const TrainPlan& plan, const TrainResult& result, Backend& backend,
                                       const Model& trained, Communicator& comm) {
  const Model& start = plan.start;
  if (!start.standardization.targets() || result.epochs.empty()) return "";
  backend.set_parameters(trained.parameters);
  const double n = double(plan.raw_validation.size);
  const Evaluation e = n > 0 ? evaluate(plan.raw_validation, start.parameters.spec, start.setup.loss,
                                        [&](const float* x, size_t count, double* z) { backend.predict_logits(x, count, z); },
                                        &start.standardization)
                             : Evaluation{};
  double sums[2] = {e.mse * n, n};
  comm.sum_in_rank_order(sums, 2);
  return sums[1] > 0 ? "val_mse in the data's units: " + format_number(sums[0] / sums[1]) : "";
}

// What a data-parallel run is, for a checkpoint (train/checkpoint.h): a single run's settings, with the
// data every rank's part (each part's samples and fingerprints, in rank order) and how the ranks
// combine. A resume must agree on all of it: the same parts over the same rank count.
RunSettings job_run_settings(const TrainOptions& o, const TrainPlan& plan, const std::string& backend,
                             Communicator& comm) {
  RunSettings run = run_settings(plan.start, plan.config, o.val_split, plan.split.train, plan.split.validation, backend);
  for (auto& [name, value] : run)
    if (name == "data") {
      std::string parts;
      const std::vector<std::string> each = comm.all_gather(value);
      for (size_t r = 0; r < each.size(); ++r) parts += (r ? "; rank " : "rank ") + std::to_string(r) + ": " + each[r];
      value = parts;
    }
  run.push_back({"data-parallel", std::to_string(comm.size()) + " ranks, " +
                                      (o.average_every > 0 ? "models averaged every " + std::to_string(o.average_every) + " steps"
                                                           : "gradients summed every step")});
  return run;
}

}  // namespace

bool wants_data_parallel(const TrainOptions& o) { return o.data_parallel || o.is_given("average_every"); }

int run_train_data_parallel(const TrainOptions& o) {
  check_data_parallel_options(o);
  Communicator& comm = world();
  const bool printer = comm.rank() == 0;
  const TrainPlan plan = [&] {
    PlanInputs inputs;
    // Every rank's reading agreed on before the next collective (part_of's).
    inputs.load_data = [&](const NetworkSpec& spec) {
      Dataset part;
      on_every_rank(comm, [&] {
        part = load_part(o.data, spec, comm);
        if (o.loss == "bce") check_probability_targets(part);
      });
      return part;
    };
    inputs.part_of = [&](const Dataset& part) {
      const JobRows job = rows_in_job(comm, part.size);
      return DataPart{job.mine.first, job.total, [&comm](double* values, size_t n) { comm.sum_in_rank_order(values, n); }};
    };
    Model init;
    if (!o.init.empty()) {
      init = load_model(o.init);
      inputs.init = &init;
      inputs.init_name = o.init;
    }
    inputs.saves = !o.save.empty();
    return sigtrain::make_train_plan(o, inputs);
  }();
  if (comm.size() > 1) use_cuda_device_of_rank(comm.local_rank());  // (as the replicas over ranks do)
  // With --threads 0 (every hardware thread), the ranks on one machine share its cores.
  TrainOptions mine = o;
  if (o.threads <= 0) mine.threads = std::max(1, int(std::max(1u, std::thread::hardware_concurrency())) / comm.local_size());
  RunBackend made;
  on_every_rank(comm, [&] { made = make_run_backend(mine, plan); });
  Backend& backend = *made.backend;
  // Gradients summed every step by a backend that keeps them on the GPU (the cuBLAS path): NCCL sums
  // them there, where the build has it and every rank on its machine has a GPU of its own (NCCL takes
  // one rank per GPU); otherwise the host's MPI sum. The ranks agree first (a rank whose GPU was not
  // usable took the cpu backend under --backend auto; machines may differ), so all take one path.
  std::unique_ptr<DeviceRankSum> device_sum;
  double can_sum_on_device = o.average_every == 0 && backend.steps_with_device_sums() && nccl_fits_ranks(comm) ? 1.0 : 0.0;
  comm.sum_in_rank_order(&can_sum_on_device, 1);
  if (can_sum_on_device == double(comm.size()))
    on_every_rank(comm, [&] { device_sum = make_nccl_rank_sum(comm); });
  DataParallelGroup group(backend, comm, o.average_every, &g_stop_requested, device_sum.get());
  const bool report_times = std::getenv("SIGTRAIN_DATA_PARALLEL_TIMES") != nullptr;
  group.measure_waiting(report_times);

  // --checkpoint and --resume: at an epoch's end every rank holds the same network (local SGD averages
  // there too), so the job's checkpoint is rank 0's, and every rank goes on from it (a file all ranks
  // can read: a shared file system, as for --data).
  RunSettings run;
  std::optional<Checkpoint> resume;
  if (!o.checkpoint.empty() || !o.resume.empty()) run = job_run_settings(o, plan, backend.name(), comm);
  if (!o.resume.empty())
    on_every_rank(comm, [&] {
      resume = load_checkpoint(o.resume);
      check_same_run(o.resume, resume->run, run);
    });
  TrainConfig config = plan.config;
  config.progress_every = o.checkpoint.empty() ? 0 : o.checkpoint_every;
  // The job's samples, every rank's part (collectives: every rank counts).
  const SampleCounts job{group.rows_in_all_parts(plan.split.train), group.rows_in_all_parts(plan.split.validation)};
  if (printer && !o.quiet) {
    const std::string how = o.average_every > 0 ? "parameters averaged every " + std::to_string(o.average_every) + " steps"
                            : device_sum       ? "gradients summed every step on the GPUs, by " + device_sum->name()
                                               : "gradients summed every step";
    std::printf("%s\n", run_header_line(o, plan, made.description, &job).c_str());
    std::printf("data-parallel over %d rank%s (%s)\n", comm.size(), comm.size() == 1 ? "" : "s", how.c_str());
    if (resume) std::printf("resuming from %s after epoch %d\n", o.resume.c_str(), resume->progress.epochs_done);
    std::fflush(stdout);
  }
  const std::string loss = loss_label(plan);
  std::ofstream log = open_run_log(printer ? o.log : "", loss, o.resume, resume ? &*resume : nullptr);
  CheckpointingObserver observer(o.epochs, loss, o.quiet || !printer, epoch_log_writer(log),
                                 printer ? o.checkpoint : "", plan.start, run);
  // --verify-every: every rank compares its shard; the ranks' largest differences, printed by rank 0.
  group.verify_every(o.verify_every, [&observer](const VerifyReport& report) { observer.on_verify(report); });

  begin_interruptible();
  TrainResult result = std::move(train_group(group, {plan.start.parameters}, {{plan.config.seed, plan.config.lr}},
                                             plan.split.train, plan.split.validation, config, observer,
                                             group.agreed_stop(), {plan.start.optimizer_state},
                                             resume ? &resume->progress : nullptr)[0]);
  end_interruptible();
  const Model trained = with_parameters(plan.start, result.parameters, result.optimizer_state);
  const std::string units = data_units_line_over_ranks(plan, result, backend, trained, comm);
  // For the scaling bench (bench/data_parallel.sh): rank 0's time in the sums themselves, and before
  // them waiting for the slowest rank, over the run.
  if (printer && report_times)
    std::printf("communication: %ld sums, %s s in them, %s s waiting before them%s\n", group.sums(),
                format_number(group.communication_seconds(), 6).c_str(), format_number(group.waiting_seconds(), 6).c_str(),
                device_sum ? " (the host's: the stop flag only; NCCL's sums on the GPUs are not in these)" : "");
  std::vector<std::string> end_lines = {kept_model_line(plan, result), units,
                                        result.outcome == TrainOutcome::stopped_early ? result.message : ""};
  end_lines.erase(std::remove(end_lines.begin(), end_lines.end(), std::string()), end_lines.end());
  return finish_single_run(o, plan, result, trained, end_lines, log, observer, comm);
}

}  // namespace sigtrain::cli
