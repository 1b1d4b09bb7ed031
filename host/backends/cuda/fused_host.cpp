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

FusedPolicies fused_policies(const NetworkSpec& spec, const TrainingSetup& setup) {
  FusedPolicies p;
  p.hidden = spec.hidden;
  p.output = spec.output;
  p.loss = setup.loss;
  p.optimizer = setup.optimizer;
  return p;
}

FusedHostBackend::FusedHostBackend(const NetworkSpec& spec, const TrainingSetup& setup)
    : HostBackend(spec, setup), policies_(fused_policies(spec, setup)), params_(spec.parameter_count()) {
  std::string why_not;
  if (!make_fused_shape(spec, shape_, &why_not)) throw UsageError(why_not);
  optimizer_state_.assign(size_t(optimizer_slots(setup.optimizer.kind)) * params_.size(), 0.0f);
}

HostCluster FusedHostBackend::cluster(int blocks, int floats) {
  const size_t doubles = (size_t(floats > 0 ? floats : shape_.ws_floats) + 1) / 2;
  while (int(workspaces_.size()) < blocks) workspaces_.emplace_back();
  workspace_pointers_.resize(workspaces_.size());
  for (size_t k = 0; k < workspaces_.size(); ++k) {
    if (workspaces_[k].size() < doubles) workspaces_[k].resize(doubles, 0.0);
    workspace_pointers_[k] = reinterpret_cast<float*>(workspaces_[k].data());
  }
  return HostCluster{blocks, shape_.threads, workspace_pointers_.data()};
}

void FusedHostBackend::run_steps(const FusedNetwork& net, const float* X, const float* Y, const EpochShuffle& order,
                                 size_t first, size_t end, size_t batch, double lr, float* grads) {
  // The learning rate as the GPU reads it: a float (FusedNetworks keeps the rates in fp32).
  const float lr_fp32 = float(lr);
  if (const int W = warps_per_network(batch); W > 0) {  // the device launcher's decision (kernels/fused_kernel.cu)
    with_fused_warp_instance(shape_, policies_, [&](auto layout, auto act, auto head, auto optimizer) {
      using Layout = decltype(layout);
      partials_.resize(2 * size_t(W) * padded_params<Layout>);  // the W warps' exchange (shared memory on the GPU)
      fused_block_steps<Layout, decltype(act), decltype(head), decltype(optimizer)>(
          HostBlock{W, partials_.data()}, net, X, Y, order, first, end, batch, lr_fp32, policies_.optimizer, grads);
    });
    return;
  }
  if (const int K = tiled_blocks_per_network(batch); K > 0) {  // the launcher's next choice
    with_fused_tiled_instance(shape_, policies_, [&](auto layout, auto act, auto head, auto optimizer) {
      using Layout = decltype(layout);
      fused_tiled_steps<Layout, decltype(act), decltype(head), decltype(optimizer)>(
          cluster(K, TiledWorkspace<Layout>::floats), net, X, Y, order, first, end, batch, lr_fp32,
          policies_.optimizer, grads);
    });
    return;
  }
  const int blocks = fused_blocks_per_network(batch, shape_.chunk);
  with_fused_policies(policies_, [&](auto act, auto head, auto optimizer) {
    fused_train_steps<decltype(act), decltype(head), decltype(optimizer)>(
        cluster(blocks), shape_, net, X, Y, order, first, end, batch, lr_fp32, policies_.optimizer, grads);
  });
}

int FusedHostBackend::warps_per_network(size_t batch) const { return fused_block_warps(shape_, policies_, batch); }

int FusedHostBackend::tiled_blocks_per_network(size_t batch) const {
  return warps_per_network(batch) > 0 ? 0 : fused_tiled_blocks(shape_, policies_, batch);
}

void FusedHostBackend::set_parameters(const Parameters& p) {
  p.check_spec(spec());
  params_ = p.to_float();
}

Parameters FusedHostBackend::parameters() const { return Parameters::from_float(spec(), params_.data()); }

void FusedHostBackend::set_optimizer_state(const OptimizerState& state) {
  check_optimizer_state(state, setup().optimizer.kind, params_.size());
  optimizer_state_ = state.to_float(optimizer_state_.size());
  steps_ = state.steps;
}

OptimizerState FusedHostBackend::optimizer_state() const {
  return OptimizerState::from_float(steps_, optimizer_state_);
}

void FusedHostBackend::begin_epoch(const EpochOrder& order) {
  HostBackend::begin_epoch(order);
  std::fill(loss_slots_.begin(), loss_slots_.end(), 0.0);
}

void FusedHostBackend::train_steps(size_t first, size_t end, size_t batch, double lr) {
  const Dataset& d = train();
  run_steps(network(batch, loss_slots_.data()), d.x.data(), d.y.data(), epoch_shuffle(), first, end, batch, lr,
            nullptr);
}

FusedNetwork FusedHostBackend::network(size_t batch, double* loss_slots) {
  block_states_.resize(size_t(fused_cluster_blocks(shape_, policies_, batch) - 1) * optimizer_state_.size());
  return FusedNetwork{params_.data(), optimizer_state_.data(), block_states_.data(), &steps_, loss_slots};
}

void FusedHostBackend::predict_logits(const float* x, size_t count, double* z) {
  std::vector<float> out(count * spec().outputs());
  with_activation(spec().hidden, [&](auto act) {
    fused_predict<decltype(act)>(cluster(1), shape_, params_.data(), x, 0, count, out.data());
  });
  std::copy(out.begin(), out.end(), z);
}

double FusedHostBackend::loss_and_gradients(const Batch& batch, Parameters& grad) {
  // One step in the gradient-only mode: θ, the optimizer's state and t stay; the loss goes to scratch slots.
  std::vector<float> grads(params_.size());
  std::vector<double> loss_slots(kFusedLossSlots);
  run_steps(network(batch.count, loss_slots.data()), batch.x, batch.y,
            make_epoch_shuffle(batch.count, /*shuffle=*/false, 0), 0, batch.count, batch.count, 0.0, grads.data());
  grad = Parameters::from_float(spec(), grads.data());
  return fused_loss_sum(loss_slots.data()) / double(batch.count);
}

}  // namespace sigtrain
