// Learning-rate schedules (--schedule): the learning rate of each epoch, from the base rate (--lr).
// The rate is constant within an epoch and reaches every backend as data (a plain number per call;
// the GPU's graphs and fused kernel read it from device memory), so a schedule never recompiles or
// recaptures anything.
//
// With W warm-up epochs (--warmup W), epoch e = 1 … W takes lr·e/W; after it, with k = e − W − 1 the
// epochs since the warm-up (0, 1, …) and E the run's epochs:
//   constant     lr
//   step         lr·γ^⌊k / S⌋                    (--step-every S, --gamma γ; torch's StepLR)
//   cosine       lr·(1 + cos(π·k / (E − W))) / 2   (torch's CosineAnnealingLR to 0, T_max = E − W)
//   invscaling   lr / (k + 1)^p                   (--power p; scikit-learn's invscaling, by epoch)
#pragma once

#include <string>
#include <vector>

namespace sigtrain {

enum class ScheduleKind { constant, step, cosine, invscaling };

struct Schedule {
  ScheduleKind kind = ScheduleKind::constant;
  int step_every = 10;  // S (step)
  double gamma = 0.5;   // γ (step)
  double power = 0.5;   // p (invscaling)
  int warmup = 0;       // W, epochs

  // The learning rate of epoch `epoch` (1-based) of `epochs`, from the base rate.
  double lr(double base, int epoch, int epochs) const;
  // "constant", or e.g. "cosine, warm-up 5 epochs" for the first line of output.
  std::string describe() const;
};

ScheduleKind parse_schedule(const std::string& name);  // throws UsageError
std::string name_of(ScheduleKind kind);
const std::vector<std::string>& schedule_names();
// Throws UsageError for settings out of range (S ≥ 1, γ in (0, 1], p ≥ 0, W ≥ 0).
void check_schedule(const Schedule& s);

}  // namespace sigtrain
