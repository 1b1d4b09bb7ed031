#include "backends/cuda/fused_host.h"

#include <algorithm>
#include <stdexcept>

#include "util/errors.h"

namespace sigtrain {

bool make_fused_shape(const NetworkSpec& spec, FusedShape& s, std::string* why_not) {
  const auto fail = [&](const std::string& why) {
    if (why_not) *why_not = why;
    return false;
  };
  const int L = spec.num_layers();
  if (L > kFusedMaxLayers)
    return fail("the fused kernel takes at most " + std::to_string(kFusedMaxLayers) + " layers, " + spec.to_string() +
                " has " + std::to_string(L));
  if (spec.max_width() > kFusedMaxWidth)
    return fail("the fused kernel takes widths up to " + std::to_string(kFusedMaxWidth) + ", " + spec.to_string() +
                " has " + std::to_string(spec.max_width()));
  s = FusedShape{};
  s.layers = L;
  s.bias = spec.bias ? 1 : 0;
  s.params = int(spec.parameter_count());
  for (int l = 0; l <= L; ++l) s.widths[l] = spec.widths[l];
  for (int l = 1; l <= L; ++l) {
    s.weight_offset[l] = int(spec.weight_offset(l));
    s.bias_offset[l] = int(spec.bias_offset(l));
  }
  s.threads = kFusedThreads;
  // Lanes per entry of dθ: as many as leave every thread an entry (a power of 2 from 1 to 32). Few
  // entries (the notes' network has 25) get many lanes each, many entries one each.
  s.lanes_per_entry = kFusedWarp;
  while (s.lanes_per_entry > 1 && s.lanes_per_entry * s.params > s.threads) s.lanes_per_entry /= 2;
  // Rows padded to an odd number of floats, so that a warp reading one value from each of 32 rows
  // touches 32 banks of shared memory.
  for (int l = 0; l <= L; ++l) s.row[l] = spec.widths[l] | 1;
  // Passes as long as the workspace allows: a whole block of samples where it fits.
  for (s.chunk = kFusedThreads; s.chunk >= kFusedWarp; s.chunk /= 2) {
    int offset = 0;
    s.ws_params = offset;
    offset += s.params;
    s.ws_grads = offset;
    offset += s.params;
    for (int l = 0; l <= L; ++l) {
      s.ws_acts[l] = offset;
      offset += s.chunk * s.row[l];
    }
    for (int l = 1; l < L; ++l) {
      s.ws_delta[l] = offset;
      offset += s.chunk * s.row[l];
    }
    s.ws_delta[L] = s.ws_acts[L];  // Δ_L is written over ŷ
    offset += offset % 2;  // the doubles start 8-byte aligned
    s.ws_loss = offset;
    offset += 2 * s.threads;
    s.ws_floats = offset;
    if (size_t(s.ws_floats) * sizeof(float) <= kFusedMaxWorkspaceBytes) return true;
  }
  return fail("the fused kernel's workspace for " + spec.to_string() + " does not fit in shared memory");
}

size_t fused_steps_per_launch(size_t batch) {
  // About a million samples per launch: long enough to hide the launch, short enough for progress
  // lines and Ctrl-C.
  return std::max<size_t>(1, (size_t(1) << 20) / batch);
}

FusedHostBackend::FusedHostBackend(const NetworkSpec& spec, const TrainingSetup& setup)
    : HostBackend(spec, setup), spec_(spec), params_(spec.parameter_count()) {
  if (setup.optimizer.kind != OptimizerKind::sgd || setup.optimizer.weight_decay != 0.0 ||
      spec.hidden != Activation::sigmoid || spec.output != Activation::linear || setup.loss != Loss::mse)
    throw UsageError("the fused kernel: only the notes' sigmoid, linear output, mse and plain sgd so far");
  std::string why_not;
  if (!make_fused_shape(spec, shape_, &why_not)) throw UsageError(why_not);
}

HostCluster FusedHostBackend::cluster(int blocks) {
  while (int(workspaces_.size()) < blocks) {
    workspaces_.emplace_back((size_t(shape_.ws_floats) + 1) / 2, 0.0);
    workspace_pointers_.push_back(reinterpret_cast<float*>(workspaces_.back().data()));
  }
  return HostCluster{blocks, shape_.threads, workspace_pointers_.data()};
}

void FusedHostBackend::set_parameters(const Parameters& p) {
  p.check_spec(spec_);
  params_ = p.to_float();
}

Parameters FusedHostBackend::parameters() const { return Parameters::from_float(spec_, params_.data()); }

void FusedHostBackend::set_optimizer_state(const OptimizerState& state) {
  check_optimizer_state(state, setup().optimizer.kind, params_.size());
  optimizer_steps_ = state.steps;
}

OptimizerState FusedHostBackend::optimizer_state() const {
  OptimizerState state;
  state.steps = optimizer_steps_;
  return state;
}

void FusedHostBackend::begin_epoch(const EpochOrder& order) {
  HostBackend::begin_epoch(order);
  std::fill(loss_slots_.begin(), loss_slots_.end(), 0.0);
}

void FusedHostBackend::train_steps(size_t first, size_t end, size_t batch, double lr) {
  const Dataset& d = train();
  const std::vector<uint32_t>& order = epoch_order();
  optimizer_steps_ += (end - first + batch - 1) / batch;
  fused_train_steps(cluster(fused_blocks_per_network(batch, shape_.chunk)), shape_, params_.data(), d.x.data(),
                    d.y.data(), order.empty() ? nullptr : order.data(), first, end, batch, float(lr), loss_slots_.data(),
                    nullptr);
}

void FusedHostBackend::predict_logits(const float* x, size_t count, double* yhat) {
  std::vector<float> out(count * spec_.outputs());
  fused_predict(cluster(1), shape_, params_.data(), x, 0, count, out.data());
  std::copy(out.begin(), out.end(), yhat);
}

double FusedHostBackend::loss_and_gradients(const Batch& batch, Parameters& grad) {
  // One step with lr 0 leaves θ as it is and reports the step's gradient and loss.
  std::vector<float> params = params_, grads(params_.size());
  std::vector<double> loss_slots(kFusedLossSlots);
  fused_train_steps(cluster(fused_blocks_per_network(batch.count, shape_.chunk)), shape_, params.data(), batch.x,
                    batch.y, nullptr, 0, batch.count, batch.count, 0.0f, loss_slots.data(), grads.data());
  grad = Parameters::from_float(spec_, grads.data());
  return fused_loss_sum(loss_slots.data()) / double(batch.count);
}

}  // namespace sigtrain
