#include "tools/plot.h"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdio>

#include "tools/bench.h"
#include "train/trainer.h"

namespace sigtrain {

namespace {

// ---- Text --------------------------------------------------------------------------------------------

// Length of the valid UTF-8 sequence at s[i] that XML 1.0 allows, or 0: overlong forms, surrogates,
// code points above U+10FFFF and the non-characters U+FFFE, U+FFFF are not allowed.
size_t utf8_sequence_length(const std::string& s, size_t i) {
  const unsigned char lead = static_cast<unsigned char>(s[i]);
  size_t n;
  uint32_t code;
  if (lead >= 0xC2 && lead <= 0xDF) {
    n = 2, code = lead & 0x1Fu;
  } else if (lead >= 0xE0 && lead <= 0xEF) {
    n = 3, code = lead & 0x0Fu;
  } else if (lead >= 0xF0 && lead <= 0xF4) {
    n = 4, code = lead & 0x07u;
  } else {
    return 0;
  }
  if (i + n > s.size()) return 0;
  for (size_t k = 1; k < n; ++k) {
    const unsigned char c = static_cast<unsigned char>(s[i + k]);
    if ((c & 0xC0u) != 0x80u) return 0;
    code = (code << 6) | (c & 0x3Fu);
  }
  const uint32_t smallest[] = {0, 0, 0x80, 0x800, 0x10000};
  if (code < smallest[n] || code > 0x10FFFF || (code >= 0xD800 && code <= 0xDFFF) || code == 0xFFFE || code == 0xFFFF)
    return 0;
  return n;
}

// Any bytes as XML character data (text or a quoted attribute value): markup characters escaped,
// line breaks and tabs as spaces (labels are one line), other control characters and bytes that are
// not UTF-8 as '?', so that a data file's name cannot break the document.
std::string xml_escape(const std::string& s) {
  std::string out;
  for (size_t i = 0; i < s.size();) {
    const unsigned char c = static_cast<unsigned char>(s[i]);
    if (c >= 0x80) {
      const size_t n = utf8_sequence_length(s, i);
      if (n == 0) {
        out += '?';
        ++i;
      } else {
        out.append(s, i, n);
        i += n;
      }
      continue;
    }
    switch (c) {
      case '&':
        out += "&amp;";
        break;
      case '<':
        out += "&lt;";
        break;
      case '>':
        out += "&gt;";
        break;
      case '"':
        out += "&quot;";
        break;
      case '\'':
        out += "&apos;";
        break;
      case '\t':
      case '\n':
      case '\r':
        out += ' ';
        break;
      default:
        out += c < 0x20 || c == 0x7F ? '?' : char(c);
    }
    ++i;
  }
  return out;
}

// Rough width in pixels of a label at `font_size` (sans-serif averages about 0.6 em per character);
// counts characters, not bytes.
double text_width(const std::string& s, double font_size) {
  const size_t characters = size_t(
      std::count_if(s.begin(), s.end(), [](char c) { return (static_cast<unsigned char>(c) & 0xC0u) != 0x80u; }));
  return 0.6 * font_size * double(characters);
}

// A coordinate: two decimals, never "nan", "inf" or "-0.00" (callers pass finite values; this is the
// last guard of the "no NaN in the document" promise).
std::string coordinate(double v) {
  if (!std::isfinite(v)) v = 0;
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.2f", v);
  return std::string(buf) == "-0.00" ? "0.00" : buf;
}

// A tick or value label: 4 significant digits, exponents short ("1e6", "2.5e-5"), no "-0".
std::string number_label(double v) {
  if (v == 0) return "0";
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.4g", v);
  std::string s = buf;
  const size_t e = s.find('e');
  if (e == std::string::npos) return s;
  std::string exponent = s.substr(e + 1);
  const bool negative = exponent[0] == '-';
  exponent = exponent.substr(1);
  exponent.erase(0, std::min(exponent.find_first_not_of('0'), exponent.size() - 1));
  return s.substr(0, e) + "e" + (negative ? "-" : "") + exponent;
}

const char* series_colour(size_t i) {
  static const char* const palette[] = {"#1f77b4", "#d62728", "#2ca02c", "#ff7f0e",
                                        "#9467bd", "#8c564b", "#e377c2", "#17becf"};
  return palette[i % (sizeof palette / sizeof palette[0])];
}

// ---- The document ------------------------------------------------------------------------------------

constexpr double kFontSize = 12, kTitleFontSize = 15;

// Appends SVG elements; `attributes` arguments are literal attribute text from this file, every
// user-supplied string goes through xml_escape.
class Svg {
 public:
  Svg(double width, double height) {
    out_ =
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
        "<svg xmlns=\"http://www.w3.org/2000/svg\" version=\"1.1\" width=\"" +
        coordinate(width) + "\" height=\"" + coordinate(height) + "\" viewBox=\"0 0 " + coordinate(width) + " " +
        coordinate(height) + "\" font-family=\"sans-serif\" font-size=\"" + coordinate(kFontSize) + "\">\n";
    rect(0, 0, width, height, "fill=\"white\"");
  }

  void rect(double x, double y, double w, double h, const std::string& attributes, const std::string& tooltip = "") {
    out_ += "<rect x=\"" + coordinate(x) + "\" y=\"" + coordinate(y) + "\" width=\"" + coordinate(std::max(0.0, w)) +
            "\" height=\"" + coordinate(std::max(0.0, h)) + "\" " + attributes;
    out_ += tooltip.empty() ? "/>\n" : "><title>" + xml_escape(tooltip) + "</title></rect>\n";
  }

  void line(double x1, double y1, double x2, double y2, const std::string& attributes) {
    out_ += "<line x1=\"" + coordinate(x1) + "\" y1=\"" + coordinate(y1) + "\" x2=\"" + coordinate(x2) + "\" y2=\"" +
            coordinate(y2) + "\" " + attributes + "/>\n";
  }

  void text(double x, double y, const std::string& content, const std::string& attributes) {
    out_ += "<text x=\"" + coordinate(x) + "\" y=\"" + coordinate(y) + "\" " + attributes + ">" + xml_escape(content) +
            "</text>\n";
  }

  // Text turned to run upwards, centred on (x, y): the label of a vertical axis.
  void vertical_text(double x, double y, const std::string& content) {
    out_ += "<text transform=\"translate(" + coordinate(x) + "," + coordinate(y) +
            ") rotate(-90)\" class=\"axis-label\" text-anchor=\"middle\">" + xml_escape(content) + "</text>\n";
  }

  void circle(double x, double y, double r, const std::string& attributes) {
    out_ += "<circle cx=\"" + coordinate(x) + "\" cy=\"" + coordinate(y) + "\" r=\"" + coordinate(r) + "\" " +
            attributes + "/>\n";
  }

  void path(const std::string& d, const std::string& attributes) {
    out_ += "<path d=\"" + d + "\" " + attributes + "/>\n";
  }

  // A named group (<g class="…"><title>name</title>…</g>): browsers show the name on hover.
  void begin_group(const std::string& css_class, const std::string& name) {
    out_ += "<g class=\"" + css_class + "\"><title>" + xml_escape(name) + "</title>\n";
  }
  void end_group() { out_ += "</g>\n"; }

  std::string finish() { return out_ + "</svg>\n"; }

 private:
  std::string out_;
};

// ---- Axes --------------------------------------------------------------------------------------------

// Values beyond this are left out on a linear axis, so that the range arithmetic cannot overflow.
constexpr double kLargestLinearValue = 1e300;

// Whether `v` has a place on an axis: finite (and not huge) on a linear one, above zero on a log one.
bool plottable(double v, bool log) { return log ? std::isfinite(v) && v > 0 : std::abs(v) <= kLargestLinearValue; }

// Maps data values to pixels along one axis, linear or log10, over a range widened to "nice" tick
// values that covers every drawable value it was given.
class Axis {
 public:
  Axis(const std::vector<double>& values, bool log, bool include_zero, bool whole_numbers) : log_(log) {
    double lo = INFINITY, hi = -INFINITY;
    for (double v : values)
      if (plottable(v, log_)) lo = std::min(lo, v), hi = std::max(hi, v);
    has_data_ = lo <= hi;
    if (log_) {
      set_log_range(has_data_ ? lo : 1, has_data_ ? hi : 10);
    } else {
      if (!has_data_) lo = 0, hi = 1;
      if (include_zero) lo = std::min(lo, 0.0), hi = std::max(hi, 0.0);
      set_linear_range(lo, hi, whole_numbers);
    }
  }

  bool drawable(double v) const { return plottable(v, log_); }
  bool has_data() const { return has_data_; }
  const std::vector<double>& ticks() const { return ticks_; }

  // The pixel positions of the range's two ends.
  void place(double pixel_at_low, double pixel_at_high) { pixel_lo_ = pixel_at_low, pixel_hi_ = pixel_at_high; }
  double pixel(double v) const {
    const double t = ((log_ ? std::log10(v) : v) - lo_) / (hi_ - lo_);
    return pixel_lo_ + t * (pixel_hi_ - pixel_lo_);
  }
  double low_end() const { return pixel_lo_; }

 private:
  // About five ticks at 1, 2 or 5 times a power of ten.
  void set_linear_range(double lo, double hi, bool whole_numbers) {
    if (!(hi > lo)) {  // one value: a range around it
      const double pad = lo != 0 ? std::abs(lo) * 0.5 : 1;
      lo -= pad, hi += pad;
    }
    const double rough = (hi - lo) / 5;
    const double magnitude = std::pow(10, std::floor(std::log10(rough)));
    const double fraction = rough / magnitude;
    double step = (fraction <= 1 ? 1 : fraction <= 2 ? 2 : fraction <= 5 ? 5 : 10) * magnitude;
    if (whole_numbers) step = std::max(step, 1.0);
    const double first = std::floor(lo / step), last = std::ceil(hi / step);
    lo_ = first * step, hi_ = last * step;
    // Counted in ints: near 1e16 a double's ++ no longer moves, and a range tiny beside its values
    // (1e16 … 1e16 + 2) must not loop for ever.
    const double span = last - first;
    const int count = std::isfinite(span) ? int(std::clamp(span, 0.0, 100.0)) : 0;
    for (int i = 0; i <= count; ++i) ticks_.push_back((first + i) * step);
  }

  // Whole decades: a tick per decade (every few decades over a wide range), with 2 and 5 between them
  // when the range spans three decades or fewer.
  void set_log_range(double lo, double hi) {
    lo_ = std::floor(std::log10(lo)), hi_ = std::ceil(std::log10(hi));
    if (hi_ == lo_) hi_ = lo_ + 1;
    const double every = std::ceil((hi_ - lo_) / 8);
    const bool between = hi_ - lo_ <= 3;
    for (double k = lo_; k < hi_; k += every) {
      const double decade = std::pow(10, k);
      ticks_.push_back(decade);
      if (between) ticks_.insert(ticks_.end(), {2 * decade, 5 * decade});
    }
    ticks_.push_back(std::pow(10, hi_));
  }

  bool log_;
  bool has_data_ = false;
  double lo_ = 0, hi_ = 1;  // the range; on a log axis in decades (log10 of the values)
  std::vector<double> ticks_;
  double pixel_lo_ = 0, pixel_hi_ = 1;
};

// The rectangle inside the axes.
struct PlotArea {
  double left, top, right, bottom;
  double width() const { return right - left; }
  double height() const { return bottom - top; }
};

void draw_title(Svg& svg, double width, const std::string& title) {
  if (!title.empty())
    svg.text(width / 2, 24, title,
             "class=\"title\" text-anchor=\"middle\" font-size=\"" + coordinate(kTitleFontSize) + "\"");
}

// Grid lines and tick labels of a horizontal axis (ticks along x, labels below the area).
void draw_horizontal_ticks(Svg& svg, const Axis& axis, const PlotArea& area) {
  for (double t : axis.ticks()) {
    const double x = axis.pixel(t);
    svg.line(x, area.top, x, area.bottom, "class=\"grid\" stroke=\"#e0e0e0\"");
    svg.text(x, area.bottom + 16, number_label(t), "class=\"x-tick\" text-anchor=\"middle\"");
  }
}

// Grid lines and tick labels of a vertical axis (ticks along y, labels left of the area).
void draw_vertical_ticks(Svg& svg, const Axis& axis, const PlotArea& area) {
  for (double t : axis.ticks()) {
    const double y = axis.pixel(t);
    svg.line(area.left, y, area.right, y, "class=\"grid\" stroke=\"#e0e0e0\"");
    svg.text(area.left - 6, y + 4, number_label(t), "class=\"y-tick\" text-anchor=\"end\"");
  }
}

void draw_frame(Svg& svg, const PlotArea& area) {
  svg.rect(area.left, area.top, area.width(), area.height(), "class=\"frame\" fill=\"none\" stroke=\"#333333\"");
}

void draw_no_data(Svg& svg, const PlotArea& area) {
  svg.text(area.left + area.width() / 2, area.top + area.height() / 2, "no data",
           "class=\"no-data\" text-anchor=\"middle\" fill=\"#888888\"");
}

// ---- Legend ------------------------------------------------------------------------------------------

enum class Swatch { line, box };

double legend_width(const std::vector<std::string>& names) {
  double widest = 0;
  for (const std::string& n : names) widest = std::max(widest, text_width(n, kFontSize));
  return names.empty() ? 0 : 34 + widest;
}

// Names stacked at (x, top), each after a swatch of its series' colour.
void draw_legend(Svg& svg, double x, double top, const std::vector<std::string>& names, Swatch swatch) {
  for (size_t i = 0; i < names.size(); ++i) {
    const double y = top + 10 + 20 * double(i);
    svg.begin_group("legend", names[i]);
    const std::string colour = series_colour(i);
    if (swatch == Swatch::line)
      svg.line(x, y, x + 20, y, "stroke=\"" + colour + "\" stroke-width=\"2\"");
    else
      svg.rect(x + 4, y - 6, 12, 12, "fill=\"" + colour + "\"");
    svg.text(x + 26, y + 4, names[i], "");
    svg.end_group();
  }
}

std::vector<std::string> series_names(const std::vector<PlotSeries>& series) {
  std::vector<std::string> names;
  for (const PlotSeries& s : series) names.push_back(s.name);
  return names;
}

// ---- Line chart pieces -------------------------------------------------------------------------------

// One series: the drawable points joined in order, a break at every point that cannot be drawn, and a
// dot for each point with no drawable neighbour (a line of one point would be invisible).
void draw_series(Svg& svg, const PlotSeries& s, size_t index, const Axis& x_axis, const Axis& y_axis) {
  const size_t n = std::min(s.x.size(), s.y.size());
  std::vector<bool> ok(n);
  for (size_t i = 0; i < n; ++i) ok[i] = x_axis.drawable(s.x[i]) && y_axis.drawable(s.y[i]);
  std::string d;
  std::vector<size_t> lonely;
  for (size_t i = 0; i < n; ++i) {
    if (!ok[i]) continue;
    const bool after_drawn = i > 0 && ok[i - 1];
    const bool before_drawn = i + 1 < n && ok[i + 1];
    if (!after_drawn && !before_drawn) {
      lonely.push_back(i);
      continue;
    }
    d += std::string(d.empty() ? "" : " ") + (after_drawn ? "L" : "M") + coordinate(x_axis.pixel(s.x[i])) + " " +
         coordinate(y_axis.pixel(s.y[i]));
  }
  const std::string colour = series_colour(index);
  svg.begin_group("series", s.name);
  if (!d.empty()) svg.path(d, "fill=\"none\" stroke=\"" + colour + "\" stroke-width=\"1.5\"");
  for (size_t i : lonely) svg.circle(x_axis.pixel(s.x[i]), y_axis.pixel(s.y[i]), 3, "fill=\"" + colour + "\"");
  svg.end_group();
}

// ---- Bar chart pieces --------------------------------------------------------------------------------

constexpr double kBarHeight = 14, kBarGap = 2, kGroupGap = 12;

double group_height(size_t bars) { return double(bars) * kBarHeight + double(bars > 0 ? bars - 1 : 0) * kBarGap; }

}  // namespace

std::string line_chart_svg(const LineChart& chart) {
  // Only points drawable on both axes set the ranges.
  std::vector<double> drawn_x, drawn_y;
  for (const PlotSeries& s : chart.series)
    for (size_t i = 0; i < std::min(s.x.size(), s.y.size()); ++i)
      if (plottable(s.x[i], false) && plottable(s.y[i], chart.log_y))
        drawn_x.push_back(s.x[i]), drawn_y.push_back(s.y[i]);
  Axis x_axis(drawn_x, false, false, chart.whole_number_x);
  Axis y_axis(drawn_y, chart.log_y, false, false);

  const std::vector<std::string> names = series_names(chart.series);
  const double legend = legend_width(names);
  const double width = 600 + legend, height = 420;
  const PlotArea area{70, 40, width - 20 - (legend > 0 ? legend + 10 : 0), height - 50};
  x_axis.place(area.left, area.right);
  y_axis.place(area.bottom, area.top);

  Svg svg(width, height);
  draw_title(svg, width, chart.title);
  draw_horizontal_ticks(svg, x_axis, area);
  draw_vertical_ticks(svg, y_axis, area);
  draw_frame(svg, area);
  if (!x_axis.has_data()) draw_no_data(svg, area);
  svg.text(area.left + area.width() / 2, height - 12, chart.x_label, "class=\"axis-label\" text-anchor=\"middle\"");
  svg.vertical_text(18, area.top + area.height() / 2, chart.y_label);
  for (size_t i = 0; i < chart.series.size(); ++i) draw_series(svg, chart.series[i], i, x_axis, y_axis);
  draw_legend(svg, area.right + 16, area.top, names, Swatch::line);
  return svg.finish();
}

std::string bar_chart_svg(const BarChart& chart) {
  std::vector<double> values;
  double label_width = 0;
  for (const BarCategory& c : chart.categories) {
    values.insert(values.end(), c.values.begin(), c.values.end());
    label_width = std::max(label_width, text_width(c.label, kFontSize));
  }
  Axis axis(values, chart.log_scale, !chart.log_scale, false);  // linear bars start at zero

  // A legend only says something when there are several series.
  const std::vector<std::string> names = chart.series.size() > 1 ? chart.series : std::vector<std::string>{};
  const size_t bars_per_group = std::max<size_t>(1, chart.series.size());
  const double legend = legend_width(names);
  const double groups = double(chart.categories.size());
  const double bars_height = groups * group_height(bars_per_group) + (groups + 1) * kGroupGap;
  const double left = std::max(60.0, label_width + 16);
  const PlotArea area{left, 40, left + 480, 40 + std::max({40.0, 20.0 * double(names.size()), bars_height})};
  const double width = area.right + 20 + (legend > 0 ? legend + 10 : 0), height = area.bottom + 50;
  axis.place(area.left, area.right);

  Svg svg(width, height);
  draw_title(svg, width, chart.title);
  draw_horizontal_ticks(svg, axis, area);
  if (chart.categories.empty()) draw_no_data(svg, area);
  // Log bars grow from the axis's left end (there is no zero on it), linear bars from zero.
  const double base = chart.log_scale ? axis.low_end() : axis.pixel(0);
  for (size_t c = 0; c < chart.categories.size(); ++c) {
    const BarCategory& category = chart.categories[c];
    const double top = area.top + kGroupGap + double(c) * (group_height(bars_per_group) + kGroupGap);
    svg.text(area.left - 8, top + group_height(bars_per_group) / 2 + 4, category.label,
             "class=\"category\" text-anchor=\"end\"");
    for (size_t s = 0; s < bars_per_group; ++s) {
      const double y = top + double(s) * (kBarHeight + kBarGap);
      const double v = s < category.values.size() ? category.values[s] : NAN;
      if (!axis.drawable(v)) {
        svg.text(base + 4, y + kBarHeight - 3, "n/a", "class=\"missing\" fill=\"#888888\" font-size=\"10\"");
        continue;
      }
      const std::string what = category.label + (s < chart.series.size() ? ", " + chart.series[s] : "");
      const double end = axis.pixel(v);
      svg.rect(std::min(base, end), y, std::abs(end - base), kBarHeight,
               "class=\"bar\" fill=\"" + std::string(series_colour(s)) + "\"", what + ": " + number_label(v));
    }
  }
  if (!chart.log_scale) svg.line(base, area.top, base, area.bottom, "class=\"zero\" stroke=\"#333333\"");
  draw_frame(svg, area);
  svg.text(area.left + area.width() / 2, height - 12, chart.value_label, "class=\"axis-label\" text-anchor=\"middle\"");
  draw_legend(svg, area.right + 16, area.top, names, Swatch::box);
  return svg.finish();
}

LineChart training_curves_chart(const std::vector<EpochReport>& epochs, const std::string& title) {
  LineChart chart;
  chart.title = title;
  chart.x_label = "epoch";
  chart.y_label = "MSE";
  chart.log_y = true;
  chart.whole_number_x = true;
  PlotSeries train{"train", {}, {}}, validation{"validation", {}, {}};
  bool has_validation = false;
  for (const EpochReport& e : epochs) {
    train.x.push_back(e.epoch);
    train.y.push_back(e.train_loss);
    validation.x.push_back(e.epoch);
    validation.y.push_back(e.validation_loss);
    has_validation = has_validation || !std::isnan(e.validation_loss);
  }
  chart.series.push_back(train);
  if (has_validation) chart.series.push_back(validation);
  return chart;
}

BarChart bench_chart(const std::vector<BenchResult>& results) {
  BarChart chart;
  chart.title = "sigtrain bench: samples/s (median of the repeats)";
  chart.value_label = "samples per second (log scale)";
  chart.log_scale = true;
  // Categories and series in the order the results first name them.
  const auto index_of = [](std::vector<std::string>& names, const std::string& name) {
    const auto found = std::find(names.begin(), names.end(), name);
    if (found != names.end()) return size_t(found - names.begin());
    names.push_back(name);
    return names.size() - 1;
  };
  std::vector<std::string> cases;
  for (const BenchResult& r : results) {
    const size_t c = index_of(cases, r.network + ", batch " + std::to_string(r.batch));
    const size_t s = index_of(chart.series, r.runner);
    if (c == chart.categories.size()) chart.categories.push_back({cases[c], {}});
    std::vector<double>& values = chart.categories[c].values;
    if (values.size() <= s) values.resize(s + 1, NAN);
    values[s] = r.skipped.empty() ? r.samples_per_second_median : NAN;
  }
  return chart;
}

}  // namespace sigtrain
