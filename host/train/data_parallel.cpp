#include "train/data_parallel.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstring>
#include <stdexcept>
#include <string>

#include "backends/reference/reference.h"
#include "math/epoch_shuffle.h"

namespace sigtrain {

DataParallelGroup::DataParallelGroup(Backend& backend, Communicator& communicator, int average_every,
                                     const std::atomic<bool>* stop, DeviceRankSum* device_sum)
    : backend_(backend), comm_(communicator), average_every_(average_every), stop_(stop), device_sum_(device_sum) {
  if (average_every < 0) throw std::invalid_argument("average_every must be 0 (every step's gradients) or more");
  if (device_sum && (average_every > 0 || !backend.steps_with_device_sums()))
    throw std::invalid_argument("sums on the device need gradients every step and a backend that keeps them there (" +
                                backend.name() + ")");
}

void DataParallelGroup::set_parameters(size_t, const Parameters& p) {
  backend_.set_parameters(p);
  params_ = p;
}

Parameters DataParallelGroup::parameters(size_t) const {
  return host_model() ? params_ : backend_.parameters();
}

void DataParallelGroup::set_optimizer_state(size_t, const OptimizerState& state) {
  backend_.set_optimizer_state(state);
  state_ = state;
}

OptimizerState DataParallelGroup::optimizer_state(size_t) const {
  return host_model() ? state_ : backend_.optimizer_state();
}

size_t DataParallelGroup::rows_in_all_parts(const Dataset& part) {
  std::vector<double> count = {double(part.size), 0.0};
  sum(count);
  return size_t(count[0]);
}

JobRows rows_in_job(Communicator& communicator, size_t rows) {
  const std::vector<std::string> counts = communicator.all_gather(std::to_string(rows));
  JobRows job;
  job.mine.count = rows;
  for (int r = 0; r < int(counts.size()); ++r) {
    const size_t n = std::stoull(counts[size_t(r)]);
    if (r < communicator.rank()) job.mine.first += n;
    job.total += n;
  }
  return job;
}

void DataParallelGroup::set_training_data(const Dataset& train) {
  part_ = &train;
  const JobRows job = rows_in_job(comm_, train.size);
  mine_ = job.mine;
  global_rows_ = job.total;
  check_backend_limits({job.total, 0, 0});  // (the global order numbers the job's rows in 32 bits)
}

void DataParallelGroup::begin_epoch(const std::vector<EpochOrder>& orders) {
  order_ = make_epoch_shuffle(global_rows_, orders.at(0).shuffle, orders.at(0).seed);
  shard_batch_ = 0;  // the shard is made at the epoch's first step, which gives the batch
  epoch_loss_ = 0;
  if (device_sum_) backend_.begin_epoch({false, 0});  // (the backend's epoch loss: the job's, see header)
}

void DataParallelGroup::make_shard(size_t batch) {
  shard_ = epoch_shard(order_, batch, mine_);
  shard_batch_ = batch;
  if (average_every_ == 0) return;
  // Local SGD: the backend trains on this rank's rows in the epoch's order, so that each shard is a run
  // of consecutive positions of its (unshuffled) training set.
  const Dataset& d = *part_;
  epoch_part_.name = d.name;
  epoch_part_.inputs = d.inputs;
  epoch_part_.outputs = d.outputs;
  epoch_part_.size = shard_.rows.size();
  epoch_part_.x.resize(epoch_part_.size * size_t(d.inputs));
  epoch_part_.y.resize(epoch_part_.size * size_t(d.outputs));
  for (size_t k = 0; k < shard_.rows.size(); ++k) {
    std::copy_n(d.x_of(shard_.rows[k]), d.inputs, epoch_part_.x.data() + k * size_t(d.inputs));
    std::copy_n(d.y_of(shard_.rows[k]), d.outputs, epoch_part_.y.data() + k * size_t(d.outputs));
  }
  backend_.set_training_data(epoch_part_);
  backend_.begin_epoch({false, 0});
}

void DataParallelGroup::train_steps(size_t first, size_t end, size_t batch) {
  if (shard_batch_ != batch) make_shard(batch);
  for (size_t at = first; at < end; at += batch) {
    const size_t step = at / batch;
    const bool verifying = verify_every_ > 0 && steps_done_ % verify_every_ == 0;
    ++steps_done_;
    // This rank's rows of the step into x_, y_, once: for the verification and the gradient steps
    // (local SGD's backend reads them from its own training set).
    if (verifying || average_every_ == 0) gather_step_rows(step);
    if (verifying) verify(step);
    if (average_every_ > 0)
      local_step(step);
    else if (device_sum_)
      device_gradient_step(step, std::min(batch, end - at));
    else
      gradient_step(step, std::min(batch, end - at));
  }
}

void DataParallelGroup::gather_step_rows(size_t step) {
  const Dataset& d = *part_;
  const size_t count = shard_.count(step);
  x_.resize(count * size_t(d.inputs));
  y_.resize(count * size_t(d.outputs));
  for (size_t k = 0; k < count; ++k) {
    const uint32_t row = shard_.rows[shard_.step_starts[step] + k];
    std::copy_n(d.x_of(row), d.inputs, x_.data() + k * size_t(d.inputs));
    std::copy_n(d.y_of(row), d.outputs, y_.data() + k * size_t(d.outputs));
  }
}

void DataParallelGroup::gradient_step(size_t step, size_t global_count) {
  const size_t count = shard_.count(step), P = params_.values.size();
  // [G_r (P), F_r, stop]: the shard's sums (its means times its count; zeros for an empty shard)
  buffer_.assign(P + 2, 0.0);
  if (count > 0) {
    const double mean_loss = backend_.loss_and_gradients({x_.data(), y_.data(), count}, grad_);
    for (size_t k = 0; k < P; ++k) buffer_[k] = grad_.values[k] * double(count);
    buffer_[P] = mean_loss * double(count);
  }
  sum(buffer_);
  for (size_t k = 0; k < P; ++k) buffer_[k] /= double(global_count);  // g = G / |batch|
  reference::optimizer_update(backend_.setup().optimizer, lr_, state_, params_.values.data(), buffer_.data(), P);
  backend_.set_parameters(params_);
  epoch_loss_ += buffer_[P];
}

void DataParallelGroup::device_gradient_step(size_t step, size_t global_count) {
  buffer_.assign(1, 0.0);  // [stop]
  sum(buffer_);
  backend_.data_parallel_step({x_.data(), y_.data(), shard_.count(step)}, global_count, lr_, *device_sum_);
}

void DataParallelGroup::verify(size_t step) {
  const size_t count = shard_.count(step);
  ReferenceComparison mine;
  mine.layers.assign(size_t(backend_.spec().num_layers()), 0.0);
  if (count > 0) mine = compare_with_reference(backend_, {x_.data(), y_.data(), count});
  // The largest of every rank's differences: [loss, layer 1, …, layer L] from each.
  std::vector<double> values = {mine.loss};
  values.insert(values.end(), mine.layers.begin(), mine.layers.end());
  const std::string bytes(reinterpret_cast<const char*>(values.data()), values.size() * sizeof(double));
  const auto worse = [](double a, double b) { return std::isnan(b) || b > a ? b : a; };  // (a NaN stays)
  ReferenceComparison all;
  all.layers.assign(mine.layers.size(), 0.0);
  for (const std::string& theirs : comm_.all_gather(bytes)) {
    std::vector<double> v(values.size());
    std::memcpy(v.data(), theirs.data(), std::min(theirs.size(), bytes.size()));
    all.loss = worse(all.loss, v[0]);
    for (size_t l = 0; l < all.layers.size(); ++l) all.layers[l] = worse(all.layers[l], v[l + 1]);
  }
  const VerifyReport report = verify_report(all, steps_done_ - 1);  // (this step's number; counted already)
  if (report_) report_(report);
  check_verify_report(report, backend_.name());
}

void DataParallelGroup::local_step(size_t step) {
  const size_t count = shard_.count(step);
  if (count > 0) backend_.train_step(shard_.step_starts[step], count, lr_);
  if (++steps_since_average_ == average_every_) average_models(nullptr);
}

void DataParallelGroup::average_models(double* loss_sum) {
  Parameters p = backend_.parameters();
  OptimizerState s = backend_.optimizer_state();
  const size_t P = p.values.size(), S = size_t(optimizer_slots(backend_.setup().optimizer.kind)) * P;
  s.values.resize(S, 0.0);  // (a rank that has not stepped yet may hold none: zeros, a fresh optimizer's)
  // [θ (P), state (S), steps, this rank's epoch loss sum, stop]
  buffer_.assign(P + S + 3, 0.0);
  std::copy(p.values.begin(), p.values.end(), buffer_.begin());
  std::copy(s.values.begin(), s.values.end(), buffer_.begin() + long(P));
  buffer_[P + S] = double(s.steps);
  if (loss_sum) buffer_[P + S + 1] = backend_.epoch_loss_sum();
  sum(buffer_);
  const double ranks = double(comm_.size());
  for (size_t k = 0; k < P; ++k) p.values[k] = buffer_[k] / ranks;
  for (size_t k = 0; k < S; ++k) s.values[k] = buffer_[P + k] / ranks;
  s.steps = uint64_t(std::llround(buffer_[P + S] / ranks));
  backend_.set_parameters(p);
  backend_.set_optimizer_state(s);
  if (loss_sum) *loss_sum = buffer_[P + S + 1];
  steps_since_average_ = 0;
}

void DataParallelGroup::epoch_loss_sums(double* sums) {
  if (host_model()) {
    sums[0] = epoch_loss_;
  } else if (device_sum_) {
    sums[0] = backend_.epoch_loss_sum();  // (the job's: see the header)
  } else {
    // The end of the epoch: one network again (validation and the kept model see it), and the loss.
    average_models(&sums[0]);
  }
}

Evaluation DataParallelGroup::evaluate(size_t, const Dataset& part) {
  const Evaluation mine = part.size > 0 ? backend_.evaluate(part) : Evaluation{};
  const double n = double(part.size);
  std::vector<double> sums = {mine.loss * n, mine.mse * n, n, 0.0};
  sum(sums);
  return {sums[0] / sums[2], sums[1] / sums[2]};
}

void DataParallelGroup::sum(std::vector<double>& values) {
  values.back() = stop_ && stop_->load(std::memory_order_relaxed) ? 1.0 : 0.0;
  using Clock = std::chrono::steady_clock;
  const auto seconds_since = [](Clock::time_point t) { return std::chrono::duration<double>(Clock::now() - t).count(); };
  if (measure_waiting_) {
    const auto arrived = Clock::now();
    comm_.barrier();
    waiting_seconds_ += seconds_since(arrived);
  }
  const auto start = Clock::now();
  comm_.sum_in_rank_order(values.data(), values.size());
  communication_seconds_ += seconds_since(start);
  ++sums_;
  if (values.back() > 0) agreed_stop_.store(true);
}

}  // namespace sigtrain
