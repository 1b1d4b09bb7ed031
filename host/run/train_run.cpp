#include "run/train_run.h"

#include <algorithm>
#include <thread>

#include "backends/choose.h"

namespace sigtrain {

RunBackend make_run_backend(const RunOptions& o, const TrainPlan& plan) {
  RunBackend made;
  made.backend = make_backend(o.backend, plan.start.parameters.spec, plan.start.setup, backend_options(o));
  made.description = made.backend->description();
  std::string why_not_cuda;
  if (o.backend == "auto" && made.backend->name() != "cuda" && !cuda_backend_available(&why_not_cuda))
    made.description += " [auto: " + why_not_cuda + "]";
  return made;
}

SingleRunResult train_single(Backend& backend, const TrainPlan& plan, const TrainConfig& config, TrainObserver& observer,
                             const std::atomic<bool>* stop, const TrainProgress* resume) {
  const Model& start = plan.start;
  TrainResult result = train(backend, start.parameters, plan.split.train, plan.split.validation, config, observer, stop,
                             &start.optimizer_state, resume);
  Model trained = with_parameters(start, std::move(result.parameters), std::move(result.optimizer_state));
  return {std::move(result), std::move(trained)};
}

ReplicasPlan plan_replicas(const RunOptions& o, const TrainPlan& plan, bool from_init) {
  ReplicasPlan p;
  const Model& start = plan.start;
  const NetworkSpec& spec = start.parameters.spec;
  p.settings = expand_sweeps(o.sweeps, o.replicas, o.seed, plan.config.lr);
  ReplicaRun& run = p.run;
  run.backend = o.backend;
  run.setup = start.setup;
  run.options = backend_options(o);
  run.options.threads = 1;                  // on the host: threads over networks, one each
  run.options.networks = p.settings.size();  // auto chooses for all of them at once
  const BackendChoice choice = choose_backend(o.backend, spec, run.options);
  p.fused_kernel = choice.kernel == CudaKernel::fused;
  run.parallel = o.threads > 0 ? o.threads : int(std::max(1u, std::thread::hardware_concurrency()));
  run.config = plan.config;  // its seed and lr are each replica's own
  run.initial = [&plan, from_init](const NetworkSettings& s) {
    return from_init ? plan.start.parameters : glorot_uniform(plan.start.parameters.spec, s.seed);
  };
  run.initial_state = start.optimizer_state;
  return p;
}

Model replica_model(const TrainPlan& plan, const ReplicaResult& x) {
  return with_parameters(plan.start, x.result.parameters, x.result.optimizer_state);
}

}  // namespace sigtrain
