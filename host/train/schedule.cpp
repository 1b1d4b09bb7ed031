#include "train/schedule.h"

#include <cmath>
#include <cstdio>

#include "util/errors.h"

namespace sigtrain {

double Schedule::lr(double base, int epoch, int epochs) const {
  if (epoch <= warmup) return base * double(epoch) / double(warmup);
  const int k = epoch - warmup - 1;
  switch (kind) {
    case ScheduleKind::step:
      return base * std::pow(gamma, double(k / step_every));
    case ScheduleKind::cosine: {
      const double pi = std::acos(-1.0);
      const int span = epochs - warmup;
      return span <= 0 ? base : base * (1.0 + std::cos(pi * double(k) / double(span))) / 2.0;
    }
    case ScheduleKind::invscaling:
      return base / std::pow(double(k + 1), power);
    case ScheduleKind::constant:
    default:
      return base;
  }
}

const std::vector<std::string>& schedule_names() {
  static const std::vector<std::string> names = {"constant", "step", "cosine", "invscaling"};
  return names;
}

std::string name_of(ScheduleKind kind) { return schedule_names()[size_t(kind)]; }

ScheduleKind parse_schedule(const std::string& name) {
  const std::vector<std::string>& names = schedule_names();
  for (size_t k = 0; k < names.size(); ++k)
    if (names[k] == name) return ScheduleKind(k);
  throw UsageError("--schedule: '" + name + "' is not one of constant, step, cosine, invscaling");
}

namespace {

std::string number(double v) {
  char buffer[32];
  std::snprintf(buffer, sizeof buffer, "%g", v);
  return buffer;
}

}  // namespace

std::string Schedule::describe() const {
  std::string s = name_of(kind);
  if (kind == ScheduleKind::step) s += " (×" + number(gamma) + " every " + std::to_string(step_every) + " epochs)";
  if (kind == ScheduleKind::invscaling) s += " (power " + number(power) + ")";
  if (warmup > 0) s += ", warm-up " + std::to_string(warmup) + " epochs";
  return s;
}

void check_schedule(const Schedule& s) {
  if (s.step_every < 1) throw UsageError("--step-every must be at least 1, got " + std::to_string(s.step_every));
  if (!(s.gamma > 0.0 && s.gamma <= 1.0)) throw UsageError("--gamma must be in (0, 1], got " + std::to_string(s.gamma));
  if (!(s.power >= 0.0) || !std::isfinite(s.power)) throw UsageError("--power must be a finite number, 0 or more");
  if (s.warmup < 0) throw UsageError("--warmup must be 0 or more, got " + std::to_string(s.warmup));
}

}  // namespace sigtrain
