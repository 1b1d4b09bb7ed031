// The SVG writer (host/plot.h) and the pictures of `sigtrain train --plot` and `sigtrain bench --svg`:
// every document is parsed by a small strict XML checker (well-formed, one <svg> root, escaped text,
// valid UTF-8), and its numbers are checked to be finite and inside the picture.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <functional>
#include <map>
#include <sstream>
#include <string>
#include <vector>

#include "tools/bench.h"
#include "util/file_util.h"
#include "tools/plot.h"
#include "train/trainer.h"

extern char** environ;

namespace sigtrain {
namespace {

namespace fs = std::filesystem;

// ---- A strict little XML reader --------------------------------------------------------------------

struct XmlElement {
  std::string name;
  std::map<std::string, std::string> attributes;  // values unescaped
  std::string text;                               // the element's own character data, unescaped
  std::vector<XmlElement> children;

  std::string attribute(const std::string& key) const {
    const auto found = attributes.find(key);
    return found == attributes.end() ? "" : found->second;
  }
  // Every element below this one (and this one) for which `keep` is true, in document order.
  void collect(const std::function<bool(const XmlElement&)>& keep, std::vector<const XmlElement*>& out) const {
    if (keep(*this)) out.push_back(this);
    for (const XmlElement& c : children) c.collect(keep, out);
  }
  std::vector<const XmlElement*> all(const std::string& element_name, const std::string& css_class = "") const {
    std::vector<const XmlElement*> out;
    collect(
        [&](const XmlElement& e) {
          return e.name == element_name && (css_class.empty() || e.attribute("class") == css_class);
        },
        out);
    return out;
  }
  // The text of the <title> child (the name of a series or the tooltip of a bar).
  std::string title() const {
    for (const XmlElement& c : children)
      if (c.name == "title") return c.text;
    return "";
  }
};

// The i-th of `found`, or (a failure, and) an empty element, so that a test of a broken document fails
// instead of crashing.
const XmlElement& nth(const std::vector<const XmlElement*>& found, size_t i) {
  static const XmlElement none;
  if (i < found.size()) return *found[i];
  ADD_FAILURE() << "expected at least " << i + 1 << " such elements, found " << found.size();
  return none;
}

// Parses a whole document: an optional <?xml …?> declaration, comments, one root element. Rejects what
// an XML parser rejects and the writer could produce: unbalanced or mismatched tags, raw '<' or stray
// '&' in text or attributes, unknown entities, duplicate attributes, unquoted values, control
// characters, bytes that are not UTF-8, anything after the root.
class XmlReader {
 public:
  explicit XmlReader(const std::string& doc) : s_(doc) {}

  bool parse(XmlElement& root, std::string& error) {
    try {
      if (s_.compare(0, 5, "<?xml") == 0) skip_past("?>");
      skip_misc();
      root = element();
      skip_misc();
      if (i_ != s_.size()) fail("content after the root element");
      check_characters();
      return true;
    } catch (const std::string& e) {
      error = e;
      return false;
    }
  }

 private:
  [[noreturn]] void fail(const std::string& why) const { throw why + " at byte " + std::to_string(i_); }

  void skip_space() {
    while (i_ < s_.size() && std::string(" \t\r\n").find(s_[i_]) != std::string::npos) ++i_;
  }
  void skip_past(const std::string& end) {
    const size_t at = s_.find(end, i_);
    if (at == std::string::npos) fail("unterminated '" + end + "'");
    i_ = at + end.size();
  }
  void skip_misc() {
    for (skip_space(); s_.compare(i_, 4, "<!--") == 0; skip_space()) skip_past("-->");
  }

  std::string name() {
    const size_t start = i_;
    while (i_ < s_.size() &&
           (std::isalnum(static_cast<unsigned char>(s_[i_])) || std::string(":-_.").find(s_[i_]) != std::string::npos))
      ++i_;
    if (i_ == start) fail("expected a name");
    return s_.substr(start, i_ - start);
  }

  // Character data up to `stop`, with entities decoded.
  std::string characters(char stop) {
    std::string out;
    while (i_ < s_.size() && s_[i_] != stop) {
      if (s_[i_] == '<') fail("raw '<' in character data");
      if (s_[i_] != '&') {
        out += s_[i_++];
        continue;
      }
      const size_t end = s_.find(';', i_);
      if (end == std::string::npos || end - i_ > 10) fail("stray '&'");
      const std::string entity = s_.substr(i_ + 1, end - i_ - 1);
      static const std::map<std::string, char> named = {
          {"amp", '&'}, {"lt", '<'}, {"gt", '>'}, {"quot", '"'}, {"apos", '\''}};
      if (named.count(entity)) {
        out += named.at(entity);
      } else if (entity.size() > 1 && entity[0] == '#') {
        out += '?';  // a character reference; the writer does not use them, the checker accepts them
      } else {
        fail("unknown entity &" + entity + ";");
      }
      i_ = end + 1;
    }
    return out;
  }

  XmlElement element() {
    if (i_ >= s_.size() || s_[i_] != '<') fail("expected '<'");
    ++i_;
    XmlElement e;
    e.name = name();
    for (;;) {
      const size_t before = i_;
      skip_space();
      if (s_.compare(i_, 2, "/>") == 0) {
        i_ += 2;
        return e;
      }
      if (i_ < s_.size() && s_[i_] == '>') {
        ++i_;
        break;
      }
      if (i_ == before) fail("expected white space before an attribute");
      const std::string key = name();
      if (i_ >= s_.size() || s_[i_] != '=') fail("attribute " + key + " without '='");
      ++i_;
      if (i_ >= s_.size() || s_[i_] != '"') fail("attribute " + key + " not in double quotes");
      ++i_;
      const std::string value = characters('"');
      if (i_ >= s_.size()) fail("unterminated attribute " + key);
      ++i_;
      if (!e.attributes.emplace(key, value).second) fail("duplicate attribute " + key);
    }
    for (;;) {
      e.text += characters('<');
      if (i_ >= s_.size()) fail("element <" + e.name + "> is not closed");
      if (s_.compare(i_, 4, "<!--") == 0) {
        skip_past("-->");
      } else if (s_.compare(i_, 2, "</") == 0) {
        i_ += 2;
        if (name() != e.name) fail("mismatched end tag for <" + e.name + ">");
        skip_space();
        if (i_ >= s_.size() || s_[i_] != '>') fail("expected '>'");
        ++i_;
        return e;
      } else {
        e.children.push_back(element());
      }
    }
  }

  // XML 1.0 characters only: valid UTF-8, no control characters but tab, CR, LF.
  void check_characters() {
    for (i_ = 0; i_ < s_.size();) {
      const unsigned char c = static_cast<unsigned char>(s_[i_]);
      if (c < 0x80) {
        if ((c < 0x20 && c != '\t' && c != '\n' && c != '\r') || c == 0x7F) fail("control character");
        ++i_;
        continue;
      }
      const size_t n = c >= 0xF0 ? 4 : c >= 0xE0 ? 3 : c >= 0xC2 ? 2 : 0;
      if (n == 0 || c > 0xF4 || i_ + n > s_.size()) fail("a byte that is not UTF-8");
      for (size_t k = 1; k < n; ++k)
        if ((static_cast<unsigned char>(s_[i_ + k]) & 0xC0) != 0x80) fail("a byte that is not UTF-8");
      i_ += n;
    }
  }

  const std::string& s_;
  size_t i_ = 0;
};

// The numbers in an attribute value ("M1.00 2.00 L3 4", "translate(1,2)", "12.5").
std::vector<double> numbers_in(const std::string& value) {
  std::vector<double> out;
  for (size_t i = 0; i < value.size();) {
    const char c = value[i];
    if (std::isdigit(static_cast<unsigned char>(c)) || c == '-' || c == '.') {
      char* end = nullptr;
      out.push_back(std::strtod(value.c_str() + i, &end));
      i = size_t(end - value.c_str());
    } else {
      ++i;
    }
  }
  return out;
}

const char* const kNumericAttributes[] = {"x",  "y", "x1",    "y1",     "x2", "y2",        "cx",
                                          "cy", "r", "width", "height", "d",  "transform", "viewBox"};

// A parsed SVG document with the checks every picture must pass.
struct Svg {
  XmlElement root;
  double width = 0, height = 0;
};

// Parses `doc` and checks: well-formed, root <svg> of SVG 1.1 with its namespace, every numeric
// attribute free of nan/inf, no negative width/height/radius, every coordinate inside the picture.
Svg checked_svg(const std::string& doc) {
  Svg svg;
  std::string error;
  EXPECT_TRUE(XmlReader(doc).parse(svg.root, error)) << error << "\n" << doc;
  EXPECT_EQ(svg.root.name, "svg");
  EXPECT_EQ(svg.root.attribute("xmlns"), "http://www.w3.org/2000/svg");
  EXPECT_EQ(svg.root.attribute("version"), "1.1");
  svg.width = std::atof(svg.root.attribute("width").c_str());
  svg.height = std::atof(svg.root.attribute("height").c_str());
  EXPECT_GT(svg.width, 0);
  EXPECT_GT(svg.height, 0);
  std::vector<const XmlElement*> everything;
  svg.root.collect([](const XmlElement&) { return true; }, everything);
  for (const XmlElement* e : everything)
    for (const char* key : kNumericAttributes) {
      const std::string value = e->attribute(key);
      if (value.empty()) continue;
      std::string lower = value;
      std::transform(lower.begin(), lower.end(), lower.begin(), [](unsigned char c) { return char(std::tolower(c)); });
      EXPECT_EQ(lower.find("nan"), std::string::npos) << "<" << e->name << " " << key << "=\"" << value << "\">";
      EXPECT_EQ(lower.find("inf"), std::string::npos) << "<" << e->name << " " << key << "=\"" << value << "\">";
      if (std::string(key) == "width" || std::string(key) == "height" || std::string(key) == "r") {
        EXPECT_GE(std::atof(value.c_str()), 0) << "<" << e->name << " " << key << "=\"" << value << "\">";
      }
    }
  for (const XmlElement* p : svg.root.all("path")) {
    const std::vector<double> xy = numbers_in(p->attribute("d"));
    EXPECT_EQ(xy.size() % 2, 0u);
    for (size_t i = 0; i + 1 < xy.size(); i += 2) {
      EXPECT_TRUE(xy[i] >= 0 && xy[i] <= svg.width) << "path x " << xy[i];
      EXPECT_TRUE(xy[i + 1] >= 0 && xy[i + 1] <= svg.height) << "path y " << xy[i + 1];
    }
  }
  return svg;
}

// The frame of the plot area: <rect class="frame">.
struct Frame {
  double left = 0, top = 0, right = 0, bottom = 0;
};
Frame frame_of(const Svg& svg) {
  const std::vector<const XmlElement*> frames = svg.root.all("rect", "frame");
  EXPECT_EQ(frames.size(), 1u);
  Frame f;
  if (frames.empty()) return f;
  const XmlElement& r = *frames[0];
  f.left = std::atof(r.attribute("x").c_str());
  f.top = std::atof(r.attribute("y").c_str());
  f.right = f.left + std::atof(r.attribute("width").c_str());
  f.bottom = f.top + std::atof(r.attribute("height").c_str());
  return f;
}

// The points of a series, in order: every M/L pair of its path, and its dots.
std::vector<std::pair<double, double>> points_of(const XmlElement& series) {
  std::vector<std::pair<double, double>> points;
  for (const XmlElement* p : series.all("path")) {
    const std::vector<double> xy = numbers_in(p->attribute("d"));
    for (size_t i = 0; i + 1 < xy.size(); i += 2) points.emplace_back(xy[i], xy[i + 1]);
  }
  for (const XmlElement* c : series.all("circle"))
    points.emplace_back(std::atof(c->attribute("cx").c_str()), std::atof(c->attribute("cy").c_str()));
  return points;
}

// Number of separate pieces of a series' line (each starts with M).
size_t line_pieces(const XmlElement& series) {
  size_t n = 0;
  for (const XmlElement* p : series.all("path")) {
    const std::string d = p->attribute("d");
    n += size_t(std::count(d.begin(), d.end(), 'M'));
  }
  return n;
}

PlotSeries series(const std::string& name, std::vector<double> x, std::vector<double> y) { return {name, x, y}; }

LineChart two_series_chart() {
  LineChart c;
  c.title = "loss";
  c.x_label = "epoch";
  c.y_label = "MSE";
  c.log_y = true;
  c.whole_number_x = true;
  c.series = {series("train", {1, 2, 3, 4}, {0.5, 0.1, 0.05, 0.01}),
              series("validation", {1, 2, 3, 4}, {0.6, 0.2, 0.07, 0.02})};
  return c;
}

// ---- Line charts --------------------------------------------------------------------------------------

// Catches: a malformed document, a missing series, or a series drawn without its name.
TEST(PlotLineChart, IsWellFormedSvgWithOneNamedSeriesPerInputSeries) {
  const Svg svg = checked_svg(line_chart_svg(two_series_chart()));
  const auto drawn = svg.root.all("g", "series");
  ASSERT_EQ(drawn.size(), 2u);
  EXPECT_EQ(drawn[0]->title(), "train");
  EXPECT_EQ(drawn[1]->title(), "validation");
  EXPECT_EQ(points_of(*drawn[0]).size(), 4u);
  const auto legend = svg.root.all("g", "legend");
  ASSERT_EQ(legend.size(), 2u);
  EXPECT_EQ(legend[1]->title(), "validation");
  ASSERT_EQ(svg.root.all("text", "title").size(), 1u);
  EXPECT_EQ(nth(svg.root.all("text", "title"), 0).text, "loss");
}

// Catches: uninitialised values or iteration in address order making the output differ run to run.
TEST(PlotLineChart, SameChartGivesTheSameBytes) {
  EXPECT_EQ(line_chart_svg(two_series_chart()), line_chart_svg(two_series_chart()));
  BarChart bars{"t", "v", true, {"a", "b"}, {{"x", {1, 2}}, {"y", {3, NAN}}}};
  EXPECT_EQ(bar_chart_svg(bars), bar_chart_svg(bars));
}

// Catches: a y axis upside down, or points scaled outside the plot area.
TEST(PlotLineChart, PointsLieInsideTheFrameAndLargerValuesHigher) {
  const Svg svg = checked_svg(line_chart_svg(two_series_chart()));
  const Frame f = frame_of(svg);
  const auto points = points_of(nth(svg.root.all("g", "series"), 0));
  ASSERT_EQ(points.size(), 4u);
  for (size_t i = 0; i < points.size(); ++i) {
    EXPECT_GE(points[i].first, f.left - 0.01);
    EXPECT_LE(points[i].first, f.right + 0.01);
    EXPECT_GE(points[i].second, f.top - 0.01);
    EXPECT_LE(points[i].second, f.bottom + 0.01);
    if (i > 0) {
      EXPECT_GT(points[i].first, points[i - 1].first);    // later epochs further right
      EXPECT_GT(points[i].second, points[i - 1].second);  // smaller MSE lower (larger pixel y)
    }
  }
}

// Catches: NaN or infinite values written as coordinates ("nan" makes the file invalid), or a line
// drawn across a gap as if the missing point were there.
TEST(PlotLineChart, NonFinitePointsAreLeftOutAndBreakTheLine) {
  LineChart c;
  c.series = {series("s", {1, 2, 3, 4, 5, NAN}, {1.0, 2.0, NAN, 4.0, INFINITY, 6.0})};
  const Svg svg = checked_svg(line_chart_svg(c));
  const XmlElement& s = nth(svg.root.all("g", "series"), 0);
  EXPECT_EQ(points_of(s).size(), 3u);  // (1,1) (2,2) and the lonely (4,4)
  EXPECT_EQ(line_pieces(s), 1u);       // 1→2 is a line; 4 is a dot
  EXPECT_EQ(s.all("circle").size(), 1u);
}

// Catches: log10 of zero or of a negative value (−inf / NaN coordinates) on a log axis.
TEST(PlotLineChart, LogScaleLeavesOutZeroAndNegativeValues) {
  LineChart c;
  c.log_y = true;
  c.series = {series("s", {1, 2, 3, 4, 5}, {0.0, -1.0, 1e-3, 1e-1, 2e-2})};
  const Svg svg = checked_svg(line_chart_svg(c));
  const XmlElement& s = nth(svg.root.all("g", "series"), 0);
  EXPECT_EQ(points_of(s).size(), 3u);
  EXPECT_EQ(line_pieces(s), 1u);
  // Ticks are whole decades from 1e-3 to 1e-1 with 2 and 5 between them.
  std::vector<std::string> labels;
  for (const XmlElement* t : svg.root.all("text", "y-tick")) labels.push_back(t->text);
  for (const char* expected : {"0.001", "0.002", "0.005", "0.01", "0.1"})
    EXPECT_NE(std::find(labels.begin(), labels.end(), expected), labels.end()) << expected;
}

// Catches: a division by zero for an empty range (no data, one point, all values equal).
TEST(PlotLineChart, EmptyAndDegenerateDataStillGiveAValidPicture) {
  LineChart none;
  EXPECT_EQ(checked_svg(line_chart_svg(none)).root.all("text", "no-data").size(), 1u);

  LineChart empty_series;
  empty_series.log_y = true;
  empty_series.series = {series("empty", {}, {}), series("nothing drawable", {1, 2}, {NAN, -3})};
  const Svg empty = checked_svg(line_chart_svg(empty_series));
  EXPECT_EQ(empty.root.all("text", "no-data").size(), 1u);
  EXPECT_EQ(empty.root.all("g", "legend").size(), 2u);  // named even when they have no points

  LineChart flat;
  flat.series = {series("flat", {3, 3, 3}, {0.25, 0.25, 0.25})};
  EXPECT_EQ(points_of(nth(checked_svg(line_chart_svg(flat)).root.all("g", "series"), 0)).size(), 3u);

  LineChart zero;
  zero.series = {series("zero", {0, 1}, {0, 0})};
  checked_svg(line_chart_svg(zero));
}

// Catches: a tick loop that never ends or ranges that overflow, for values whose range is tiny beside
// their size or whose size is near the largest double.
TEST(PlotLineChart, ExtremeValuesFinishAndStayFinite) {
  LineChart tiny_range;
  tiny_range.series = {series("s", {1e16, 1e16 + 2}, {1e16, 1e16 + 4})};
  EXPECT_EQ(points_of(nth(checked_svg(line_chart_svg(tiny_range)).root.all("g", "series"), 0)).size(), 2u);
  LineChart huge;
  huge.series = {series("s", {-1e300, 1e300, 1e308}, {1e300, -1e300, 1})};  // 1e308 is left out
  EXPECT_EQ(points_of(nth(checked_svg(line_chart_svg(huge)).root.all("g", "series"), 0)).size(), 2u);
  LineChart log_extremes;
  log_extremes.log_y = true;
  log_extremes.series = {series("s", {1, 2}, {4e-320, 1e308})};  // a denormal and nearly the largest double
  EXPECT_EQ(points_of(nth(checked_svg(line_chart_svg(log_extremes)).root.all("g", "series"), 0)).size(), 2u);
}

// Catches: a one-point series drawn as a path of one point, which shows nothing.
TEST(PlotLineChart, OnePointIsDrawnAsADot) {
  LineChart c;
  c.log_y = true;
  c.whole_number_x = true;
  c.series = {series("one", {1}, {0.05})};
  const Svg svg = checked_svg(line_chart_svg(c));
  const XmlElement& s = nth(svg.root.all("g", "series"), 0);
  ASSERT_EQ(s.all("circle").size(), 1u);
  const Frame f = frame_of(svg);
  const auto p = points_of(s)[0];
  EXPECT_TRUE(p.first > f.left && p.first < f.right && p.second > f.top && p.second < f.bottom);
  for (const XmlElement* t : svg.root.all("text", "x-tick"))  // whole-number x: no "0.4" or "1.2" ticks
    EXPECT_EQ(t->text.find('.'), std::string::npos) << t->text;
}

// Catches: labels written raw, so that '<', '&' or quotes end the element or attribute early.
TEST(PlotLineChart, EscapesMarkupInEveryLabel) {
  LineChart c;
  c.title = "a<b & c>d \"q\" 'r'";
  c.x_label = "</text><script>";
  c.y_label = "&amp;";
  c.series = {series("<&>", {1, 2}, {1, 2})};
  const Svg svg = checked_svg(line_chart_svg(c));
  EXPECT_EQ(nth(svg.root.all("text", "title"), 0).text, c.title);
  EXPECT_EQ(nth(svg.root.all("text", "axis-label"), 0).text, c.x_label);
  EXPECT_EQ(nth(svg.root.all("g", "series"), 0).title(), "<&>");
  bool found_y_label = false;
  for (const XmlElement* t : svg.root.all("text")) found_y_label = found_y_label || t->text == "&amp;";
  EXPECT_TRUE(found_y_label);
  EXPECT_TRUE(svg.root.all("script").empty());
}

// Catches: control characters and bytes that are not UTF-8 (a data file's name) copied into the
// document, which XML forbids.
TEST(PlotLineChart, ControlCharactersAndInvalidUtf8AreReplaced) {
  LineChart c;
  c.title = std::string("bad\x01\x7f name \xff\xfe, cut \xe2\x82, ok \xc3\xa9\xe2\x82\xac\n");
  c.series = {series(std::string("s\0x", 3), {1}, {1})};
  const Svg svg = checked_svg(line_chart_svg(c));
  EXPECT_EQ(nth(svg.root.all("text", "title"), 0).text, "bad?? name ??, cut ??, ok \xc3\xa9\xe2\x82\xac ");
  EXPECT_EQ(nth(svg.root.all("g", "series"), 0).title(), "s?x");
}

// ---- Bar charts ---------------------------------------------------------------------------------------

BarChart three_by_two(bool log) {
  return {"speed",
          "samples/s",
          log,
          {"cpu-1", "cpu-all"},
          {{"net a", {100, 400}}, {"net b", {1000, NAN}}, {"net c", {10, 20}}}};
}

double bar_width(const XmlElement& bar) { return std::atof(bar.attribute("width").c_str()); }

// Catches: a bar missing or drawn for a missing value, bars not named after category and series, or
// lengths that do not grow with the value.
TEST(PlotBarChart, OneBarPerValueNamedAndOrderedByValue) {
  for (bool log : {false, true}) {
    const Svg svg = checked_svg(bar_chart_svg(three_by_two(log)));
    const auto bars = svg.root.all("rect", "bar");
    ASSERT_EQ(bars.size(), 5u) << "log " << log;
    EXPECT_EQ(bars[0]->title(), "net a, cpu-1: 100");
    EXPECT_EQ(bars[1]->title(), "net a, cpu-all: 400");
    EXPECT_EQ(bars[2]->title(), "net b, cpu-1: 1000");
    EXPECT_EQ(svg.root.all("text", "missing").size(), 1u);
    EXPECT_LT(bar_width(*bars[3]), bar_width(*bars[0]));  // 10 < 100
    EXPECT_LT(bar_width(*bars[0]), bar_width(*bars[1]));  // 100 < 400
    EXPECT_LT(bar_width(*bars[1]), bar_width(*bars[2]));  // 400 < 1000
    const Frame f = frame_of(svg);
    for (const XmlElement* b : bars) {
      const double x = std::atof(b->attribute("x").c_str());
      EXPECT_GE(x, f.left - 0.01);
      EXPECT_LE(x + bar_width(*b), f.right + 0.01);
    }
    EXPECT_EQ(svg.root.all("g", "legend").size(), 2u);
    std::vector<std::string> categories;
    for (const XmlElement* t : svg.root.all("text", "category")) categories.push_back(t->text);
    EXPECT_EQ(categories, (std::vector<std::string>{"net a", "net b", "net c"}));
  }
}

// Catches: log10 of zero or a negative value as a bar length, on a log scale.
TEST(PlotBarChart, LogScaleMarksZeroAndNegativeValuesInsteadOfDrawingThem) {
  const Svg svg = checked_svg(
      bar_chart_svg({"t", "v", true, {"s"}, {{"zero", {0}}, {"negative", {-5}}, {"inf", {INFINITY}}, {"ok", {3}}}}));
  EXPECT_EQ(svg.root.all("rect", "bar").size(), 1u);
  EXPECT_EQ(svg.root.all("text", "missing").size(), 3u);
}

// Catches: negative rect widths (invalid SVG) for negative values on a linear scale.
TEST(PlotBarChart, NegativeValuesOnALinearScaleGrowLeftFromZero) {
  const Svg svg = checked_svg(bar_chart_svg({"t", "v", false, {"s"}, {{"minus", {-2}}, {"plus", {4}}}}));
  const auto bars = svg.root.all("rect", "bar");
  ASSERT_EQ(bars.size(), 2u);
  const double zero = std::atof(nth(svg.root.all("line", "zero"), 0).attribute("x1").c_str());
  EXPECT_NEAR(std::atof(bars[0]->attribute("x").c_str()) + bar_width(*bars[0]), zero, 0.01);
  EXPECT_NEAR(std::atof(bars[1]->attribute("x").c_str()), zero, 0.01);
  EXPECT_NEAR(bar_width(*bars[1]), 2 * bar_width(*bars[0]), 0.02);
}

// Catches: linear bars measured from the smallest value instead of from zero (600 would look many
// times 500), or starting outside the frame.
TEST(PlotBarChart, LinearBarsAreMeasuredFromZero) {
  const Svg svg = checked_svg(bar_chart_svg({"t", "v", false, {"s"}, {{"a", {500}}, {"b", {600}}}}));
  const auto bars = svg.root.all("rect", "bar");
  ASSERT_EQ(bars.size(), 2u);
  EXPECT_NEAR(bar_width(*bars[1]) / bar_width(*bars[0]), 1.2, 1e-3);
  EXPECT_NEAR(std::atof(bars[0]->attribute("x").c_str()), frame_of(svg).left, 0.01);
}

// Catches: a crash or an invalid document for a chart with nothing in it, or escaping forgotten in
// category labels (which the line chart tests do not reach).
TEST(PlotBarChart, EmptyChartsAndMarkupInCategoriesAreValid) {
  EXPECT_EQ(checked_svg(bar_chart_svg({})).root.all("text", "no-data").size(), 1u);
  const Svg svg = checked_svg(bar_chart_svg({"<t>", "&", false, {"a&b"}, {{"<x>", {}}, {"y\"'", {1}}}}));
  EXPECT_EQ(nth(svg.root.all("text", "category"), 0).text, "<x>");
  EXPECT_EQ(nth(svg.root.all("rect", "bar"), 0).title(), "y\"', a&b: 1");
}

// ---- sigtrain's own charts ----------------------------------------------------------------------------

// Catches: the validation curve missing, or drawn from NaN when there is no validation set.
TEST(PlotCharts, TrainingChartHasValidationOnlyWhereThereIsAValidationSet) {
  std::vector<EpochReport> epochs(3);
  for (int i = 0; i < 3; ++i) epochs[i] = {i + 1, 0.1 / (i + 1), 0.2 / (i + 1), 1e6, 0.1 * (i + 1)};
  LineChart with = training_curves_chart(epochs, "t");
  ASSERT_EQ(with.series.size(), 2u);
  EXPECT_EQ(with.series[1].name, "validation");
  EXPECT_EQ(with.series[1].y, (std::vector<double>{0.2, 0.1, 0.2 / 3}));
  EXPECT_EQ(with.series[0].x, (std::vector<double>{1, 2, 3}));
  EXPECT_TRUE(with.log_y);
  for (EpochReport& e : epochs) e.validation_loss = NAN;
  EXPECT_EQ(training_curves_chart(epochs, "t").series.size(), 1u);
  checked_svg(line_chart_svg(training_curves_chart({}, "no epochs")));
}

// Catches: bench cases merged or lost, or a skipped case drawn as a bar.
TEST(PlotCharts, BenchChartHasACategoryPerCaseAndASeriesPerBackend) {
  std::vector<BenchResult> results(4);
  results[0].network = results[1].network = "2-3-3-1";
  results[2].network = results[3].network = "2-64-64-1";
  for (int i = 0; i < 4; ++i) {
    results[i].batch = 256;
    results[i].runner = i % 2 ? "cpu-1" : "reference";
    results[i].samples_per_second_median = 1e6 * (i + 1);
  }
  results[2].skipped = "too slow";
  const BarChart chart = bench_chart(results);
  EXPECT_EQ(chart.series, (std::vector<std::string>{"reference", "cpu-1"}));
  ASSERT_EQ(chart.categories.size(), 2u);
  EXPECT_EQ(chart.categories[1].label, "2-64-64-1, batch 256");
  EXPECT_TRUE(std::isnan(chart.categories[1].values[0]));
  EXPECT_EQ(chart.categories[1].values[1], 4e6);
  EXPECT_EQ(checked_svg(bar_chart_svg(chart)).root.all("rect", "bar").size(), 3u);
}

// ---- The program --------------------------------------------------------------------------------------

// A scratch folder of its own for each test.
fs::path scratch(const std::string& name) {
  const fs::path dir = fs::path(SIGTRAIN_TEST_TMPDIR) / ("plot-" + name);
  fs::remove_all(dir);
  fs::create_directories(dir);
  return dir;
}

// Runs sigtrain with `args`, stdout and stderr to files in `dir`; returns the exit status.
int run_sigtrain(const std::vector<std::string>& args, const fs::path& dir) {
  std::vector<std::string> storage = {SIGTRAIN_BINARY};
  storage.insert(storage.end(), args.begin(), args.end());
  std::vector<char*> argv;
  for (std::string& s : storage) argv.push_back(s.data());
  argv.push_back(nullptr);
  posix_spawn_file_actions_t files;
  posix_spawn_file_actions_init(&files);
  posix_spawn_file_actions_addopen(&files, 0, "/dev/null", O_RDONLY, 0);
  posix_spawn_file_actions_addopen(&files, 1, (dir / "stdout").c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
  posix_spawn_file_actions_addopen(&files, 2, (dir / "stderr").c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
  pid_t pid = -1;
  const int spawned = posix_spawn(&pid, argv[0], &files, nullptr, argv.data(), environ);
  posix_spawn_file_actions_destroy(&files);
  if (spawned != 0) return -1;
  int status = 0;
  waitpid(pid, &status, 0);
  return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

// Catches: --plot not wired up, written before the epochs are known, or not a valid picture.
TEST(PlotCli, TrainPlotWritesAValidSvgWithOnePointPerEpoch) {
  const fs::path dir = scratch("train");
  const fs::path svg_path = dir / "f.svg";
  ASSERT_EQ(run_sigtrain({"train", "--epochs", "3", "--samples", "500", "--quiet", "--plot", svg_path.string()}, dir),
            0)
      << read_file((dir / "stderr").string());
  const Svg svg = checked_svg(read_file(svg_path.string()));
  const auto drawn = svg.root.all("g", "series");
  ASSERT_EQ(drawn.size(), 2u);
  EXPECT_EQ(drawn[0]->title(), "train");
  EXPECT_EQ(drawn[1]->title(), "validation");
  EXPECT_EQ(points_of(*drawn[0]).size(), 3u);
  EXPECT_EQ(points_of(*drawn[1]).size(), 3u);
  std::vector<std::string> leftovers;  // the atomic write leaves no temporary file behind
  for (const auto& entry : fs::directory_iterator(dir)) leftovers.push_back(entry.path().filename().string());
  std::sort(leftovers.begin(), leftovers.end());
  EXPECT_EQ(leftovers, (std::vector<std::string>{"f.svg", "stderr", "stdout"}));
}

// Catches: the --plot folder checked only after training (a long run failing at the end).
TEST(PlotCli, PlotIntoAMissingFolderIsAUsageErrorBeforeTraining) {
  const fs::path dir = scratch("missing");
  EXPECT_EQ(
      run_sigtrain({"train", "--epochs", "2", "--samples", "200", "--plot", (dir / "no" / "f.svg").string()}, dir), 2);
  EXPECT_NE(read_file((dir / "stderr").string()).find("--plot"), std::string::npos);
}

// Catches: --svg of sigtrain bench not wired up, or not a valid picture of its cases.
TEST(PlotCli, BenchSvgDrawsABarPerCase) {
  const fs::path dir = scratch("bench");
  const fs::path svg_path = dir / "b.svg";
  ASSERT_EQ(run_sigtrain({"bench", "--networks", "2-3-3-1", "--batches", "8,32", "--backends", "cpu-1", "--work", "1e5",
                          "--repeats", "1", "--svg", svg_path.string()},
                         dir),
            0)
      << read_file((dir / "stderr").string());
  const Svg svg = checked_svg(read_file(svg_path.string()));
  const auto bars = svg.root.all("rect", "bar");
  ASSERT_EQ(bars.size(), 2u);
  EXPECT_EQ(bars[0]->title().rfind("2-3-3-1, batch 8, cpu-1: ", 0), 0u) << bars[0]->title();
}

}  // namespace
}  // namespace sigtrain
