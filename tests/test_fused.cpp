// The fused small-network training (kernels/fused_step.h), run on the host by its twin: the same code
// the CUDA kernel runs, phase by phase, against the fp64 reference.
#include <gtest/gtest.h>

#include <cmath>

#include "backend_test_util.h"
#include "fused_host.h"
#include "reference_backend.h"
#include "trainer.h"

namespace sigtrain {
namespace {

using testing::random_dataset;
using testing::random_parameters;
using Case = testing::BackendCase;

double layer_difference(const Parameters& a, const Parameters& b, int l) {
  const size_t offset = a.spec.weight_offset(l), n = a.spec.weight_offset(l + 1) - offset;
  return relative_difference(a.values.data() + offset, b.values.data() + offset, n);
}

class FusedVsReference : public ::testing::TestWithParam<Case> {};

// Catches a wrong phase of the fused step (forward, output delta, warp sums of dW and db, Wᵀ·Δ ⊙ σ',
// passes over a batch larger than the block, the bias entries): one step's loss and gradients.
TEST_P(FusedVsReference, OneStepLossAndGradients) {
  const Case c = GetParam();
  const NetworkSpec spec{c.widths, c.bias};
  const Parameters p = random_parameters(spec, 71);
  const Dataset d = random_dataset(spec, c.batch, 72);
  FusedHostBackend fused(spec);
  ReferenceBackend reference(spec);
  fused.set_parameters(p);
  reference.set_parameters(p);
  std::vector<double> fast(c.batch * spec.outputs()), exact(fast.size());
  fused.predict(d.x.data(), c.batch, fast.data());
  reference.predict(d.x.data(), c.batch, exact.data());
  EXPECT_LE(relative_difference(fast.data(), exact.data(), fast.size()), 1e-5) << "forward";
  Parameters fast_grad, exact_grad;
  const double fast_loss = fused.loss_and_gradients({d.x.data(), d.y.data(), c.batch}, fast_grad);
  const double exact_loss = reference.loss_and_gradients({d.x.data(), d.y.data(), c.batch}, exact_grad);
  EXPECT_LE(std::abs(fast_loss - exact_loss) / exact_loss, 1e-5);
  for (int l = 1; l <= spec.num_layers(); ++l) EXPECT_LE(layer_difference(fast_grad, exact_grad, l), 1e-5) << "layer " << l;
  Parameters in_fp32 = p;  // the step with lr 0 left θ as it was loaded
  for (double& v : in_fp32.values) v = double(float(v));
  EXPECT_EQ(fused.parameters().values, in_fp32.values);
}

// Catches drift or a wrong update over 100 steps run in few calls (many steps per launch), with a
// partial last batch each epoch, in the same order as the reference.
TEST_P(FusedVsReference, HundredStepsInFewLaunches) {
  const Case c = GetParam();
  const NetworkSpec spec{c.widths, c.bias};
  const Parameters p = random_parameters(spec, 81);
  const size_t n = 24 * c.batch + (c.batch + 1) / 2;
  const Dataset d = random_dataset(spec, n, 82);
  TrainConfig config;
  config.epochs = 4;
  config.batch = c.batch;
  config.lr = 0.1 / std::sqrt(double(spec.max_width()));
  config.seed = 83;
  TrainObserver quiet;
  FusedHostBackend fused(spec);
  ReferenceBackend reference(spec);
  const TrainResult fast = train(fused, p, d, Dataset{}, config, quiet);
  const TrainResult exact = train(reference, p, d, Dataset{}, config, quiet);
  for (int l = 1; l <= spec.num_layers(); ++l) EXPECT_LE(layer_difference(fast.parameters, exact.parameters, l), 1e-4) << "layer " << l;
  EXPECT_GT(relative_difference(exact.parameters.values.data(), p.values.data(), p.values.size()), 1e-3);
  for (size_t e = 0; e < exact.epochs.size(); ++e)
    EXPECT_LE(std::abs(fast.epochs[e].train_mse - exact.epochs[e].train_mse) / exact.epochs[e].train_mse, 1e-4);
}

INSTANTIATE_TEST_SUITE_P(Networks, FusedVsReference,
                         ::testing::Values(Case{{1, 1}, true, 1}, Case{{2, 3, 3, 1}, false, 1},
                                           Case{{2, 3, 3, 1}, false, 256}, Case{{2, 3, 3, 1}, true, 300},
                                           Case{{3, 17, 4}, true, 31}, Case{{5, 64, 64, 3}, false, 100},
                                           Case{{4, 64, 1}, true, 513}, Case{{2, 8, 8, 8, 2}, true, 77},
                                           Case{{64, 33, 64}, false, 40}),
                         testing::backend_case_name);

// Catches networks the fused kernel cannot hold being accepted (they must fall back to cuBLAS).
TEST(FusedShape, RejectsWhatDoesNotFit) {
  FusedShape shape;
  std::string why;
  EXPECT_TRUE(make_fused_shape(NetworkSpec{{2, 3, 3, 1}, false}, shape, &why));
  EXPECT_EQ(shape.chunk, kFusedThreads);
  EXPECT_FALSE(make_fused_shape(NetworkSpec{{2, 65, 1}, false}, shape, &why));
  EXPECT_NE(why.find("64"), std::string::npos);
  EXPECT_FALSE(make_fused_shape(NetworkSpec{{2, 3, 3, 3, 3, 1}, false}, shape, &why));
  EXPECT_TRUE(make_fused_shape(NetworkSpec{{64, 64, 64, 64, 64}, true}, shape, &why)) << why;
  EXPECT_LE(size_t(shape.ws_floats) * 4, kFusedMaxWorkspaceBytes);
}

// Catches a fused run whose result depends on how its steps are cut into launches.
TEST(FusedHost, SameBitsWhateverTheLaunchCut) {
  const NetworkSpec spec{{2, 5, 1}, true};
  const Dataset d = random_dataset(spec, 1000, 91);
  const Parameters p = random_parameters(spec, 92);
  FusedHostBackend a(spec), b(spec);
  for (FusedHostBackend* x : {&a, &b}) {
    x->set_parameters(p);
    x->set_training_data(d);
    x->begin_epoch({true, 5});
  }
  a.train_steps(0, 1000, 64, 0.1);
  for (size_t first = 0; first < 1000; first += 64) b.train_step(first, std::min<size_t>(64, 1000 - first), 0.1);
  EXPECT_EQ(a.parameters().values, b.parameters().values);
}

}  // namespace
}  // namespace sigtrain
