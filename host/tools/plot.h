// Pictures without a plotting package: SVG 1.1 line charts (training curves) and horizontal bar charts
// (benchmark throughput). The output is deterministic (the same chart gives the same bytes), every
// text is XML-escaped (bytes that are not UTF-8 and control characters become '?'), and points that
// cannot be drawn are left out: non-finite coordinates, and values ≤ 0 on a log axis.
#pragma once

#include <string>
#include <vector>

namespace sigtrain {

struct EpochReport;
struct BenchResult;

// One named line: y[i] at x[i] (x and y have the same length). A point that cannot be drawn breaks the
// line; a point with no drawable neighbour is drawn as a dot, so that a one-point series shows.
struct PlotSeries {
  std::string name;
  std::vector<double> x, y;
};

struct LineChart {
  std::string title, x_label, y_label;
  bool log_y = false;
  bool whole_number_x = false;  // x ticks only at whole numbers (epochs)
  std::vector<PlotSeries> series;
};

// One group of bars: values[i] belongs to BarChart::series[i]; a missing or undrawable value is
// marked "n/a" instead of a bar.
struct BarCategory {
  std::string label;
  std::vector<double> values;
};

// Horizontal bars, one row of bars per category, one bar per series, a legend when there are several.
struct BarChart {
  std::string title, value_label;
  bool log_scale = false;
  std::vector<std::string> series;
  std::vector<BarCategory> categories;
};

std::string line_chart_svg(const LineChart& chart);
std::string bar_chart_svg(const BarChart& chart);

// sigtrain's own pictures.
// Training and validation MSE per epoch, log y (`sigtrain train --plot`); the validation series only
// where there was a validation set.
LineChart training_curves_chart(const std::vector<EpochReport>& epochs, const std::string& title);
// Samples/s per case (network and batch) and backend, log scale (`sigtrain bench --svg`); skipped
// cases show as "n/a".
BarChart bench_chart(const std::vector<BenchResult>& results);

}  // namespace sigtrain
